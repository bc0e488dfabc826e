/**
 * Type tests of the sources of issue 15 (SPIFFE IDs, trust domains, both(...), gateways, remoteIpBlocks), compiled by
 * `tsc` in `npm test` (never run): each `@ts-expect-error` line must be a type error, or the build of the tests fails.
 */
import { allow, anyone, both, deny, gateway, identity, ipBlocks, namespace, remoteIpBlocks, service, spiffe, trustDomain } from '../../dsl';
import type { AccessRule, AnyGateway, Gateway, SpiffeId } from '../../dsl';

const shop = namespace('shop');
const istioSystem = namespace('istio-system');
const checkout = service(shop, 'checkout', { ports: { http: { port: 8080, protocol: 'http' } } });
const ingress = gateway(istioSystem, 'istio-ingressgateway', { kind: 'istio-ingress', numTrustedProxies: 1, ports: { web: { port: 8080, protocol: 'http' } } });

// Positive: every new source, a gateway as caller and as destination.
const rules: AccessRule[] = [
  allow(spiffe('spiffe://example.org/vm/billing'), trustDomain('old.example.org')).to(checkout),
  allow(both(checkout, ipBlocks('10.0.0.0/8')), both(shop, ipBlocks('10.0.0.0/8'))).to(checkout, { ports: ['http'] }),
  allow(both(identity('ops', 'bot'), ipBlocks('10.0.0.0/8'))).to(checkout),
  allow(remoteIpBlocks('203.0.113.0/24')).to(ingress, { ports: ['web'], methods: ['GET'] }),
  allow(remoteIpBlocks('203.0.113.0/24'), anyone).to(ingress),
  deny(remoteIpBlocks('198.51.100.0/24')).to(ingress, { ports: ['web'] }),
  allow(ingress).to(checkout, { ports: ['http'] }),
];
const id: SpiffeId = 'spiffe://example.org/ns/shop/sa/checkout';
const gw: AnyGateway = ingress;
const named: Gateway<'istio-ingressgateway', { web: { port: 8080; protocol: 'http' } }> = ingress;
void rules;
void id;
void gw;
void named;

// @ts-expect-error a SPIFFE ID that is not a spiffe:// URI
spiffe('example.org/ns/shop/sa/checkout');

// @ts-expect-error an https URI is not a SPIFFE ID
spiffe('https://example.org/vm/billing');

// @ts-expect-error remoteIpBlocks on a destination that is not a gateway
allow(remoteIpBlocks('203.0.113.0/24')).to(checkout);

// @ts-expect-error remoteIpBlocks mixed with other sources still needs a gateway destination
deny(ipBlocks('10.0.0.0/8'), remoteIpBlocks('203.0.113.0/24')).to(checkout);

// @ts-expect-error both() takes an identity first, not a network
both(ipBlocks('10.0.0.0/8'), ipBlocks('10.0.0.0/8'));

// @ts-expect-error both() needs ipBlocks(...) as its network, not remoteIpBlocks(...)
both(checkout, remoteIpBlocks('203.0.113.0/24'));

// @ts-expect-error anyone is not an identity
both(anyone, ipBlocks('10.0.0.0/8'));

// @ts-expect-error a gateway kind that does not exist
gateway(shop, 'edge', { kind: 'nginx', ports: { web: { port: 8080, protocol: 'http' } } });

// @ts-expect-error a port the gateway does not declare
allow(remoteIpBlocks('203.0.113.0/24')).to(ingress, { ports: ['http'] });
