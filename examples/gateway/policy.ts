/**
 * Sources real policies name: an Istio ingress gateway behind one load balancer that admits only partner
 * addresses (remoteIpBlocks, read from X-Forwarded-For), a VM by its SPIFFE ID, every workload of the old
 * trust domain during a trust-domain migration, and a caller that must present its identity AND come from
 * the cluster network. Build: `policyc build examples/gateway/policy.ts --target istio`.
 */
import { allow, both, gateway, ipBlocks, mesh, namespace, neverReaches, reaches, remoteIpBlocks, service, spiffe, trustDomain } from 'policyc';

const istioSystem = namespace('istio-system');
const shop = namespace('shop');

/** Istio's ingress gateway: its own Envoy, not a sidecar; one load balancer in front appends to X-Forwarded-For. */
export const ingress = gateway(istioSystem, 'istio-ingressgateway', {
  kind: 'istio-ingress',
  numTrustedProxies: 1,
  ports: { http: { port: 8080, protocol: 'http' } },
});

export const storefront = service(shop, 'storefront', { ports: { http: { port: 8080, protocol: 'http' } } });
export const orders = service(shop, 'orders', { ports: { grpc: { port: 9090, protocol: 'grpc' } } });

/** A billing job on a VM, outside Kubernetes: known by its SPIFFE ID only. */
const billingVm = spiffe('spiffe://new.example.org/vm/billing');

export default mesh({
  trustDomain: 'new.example.org',
  services: [ingress, storefront, orders],
  rules: [
    // Partners only: their original address, as the load balancer recorded it.
    allow(remoteIpBlocks('203.0.113.0/24', '198.51.100.0/24')).to(ingress, { ports: ['http'] }),
    allow(ingress).to(storefront, { ports: ['http'] }),
    // The storefront, but only from the cluster's pod network.
    allow(both(storefront, ipBlocks('10.0.0.0/8'))).to(orders, { ports: ['grpc'] }),
    // The VM, and during the migration every workload still on the old trust domain.
    allow(billingVm, trustDomain('old.example.org')).to(orders, { ports: ['grpc'] }),
  ],
  assertions: [
    reaches(ingress, storefront, { port: 'http' }),
    reaches(billingVm, orders, { port: 'grpc' }),
    neverReaches(ingress, orders),
  ],
});
