/**
 * Sources real policies name (issue 15, and the gateway and trust-domain parts of issue 10): SPIFFE IDs, a whole trust
 * domain, an identity AND a network (`both`), gateways as their own kind, and the original client address at a
 * gateway (`remoteIpBlocks`). GIVEN a policy, WHEN built for each mesh, THEN the output says what the mesh does, each
 * simulator rule it leans on is checked against the mesh's documented behaviour (sources cited), and misuse is a
 * located error.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { compile } from '../compiler/compile';
import { decide } from '../model/decide';
import type { PolicyModel, ServiceModel, SourceModel } from '../model/model';
import type { KubernetesObject } from '../model/target';
import { requestSpace } from '../model/request-space';
import { describeSource } from '../review/access';
import { istioTarget } from '../targets/istio';
import { istioAmbientTarget } from '../targets/istio-ambient';
import { linkerdTarget } from '../targets/linkerd';
import { createIstioSimulator } from '../verify/istio';
import { createLinkerdSimulator } from '../verify/linkerd';
import { manifestsFromFiles, verify } from '../verify/compare';
import { renderTarget } from '../compiler/render';
import { simulatorFor } from '../meshes';
import type { ManifestObject, SimulatedRequest, Workload } from '../verify/simulator';
import { EXAMPLES, runCli, tempProject } from './helpers';
import { model, rule, svc } from './model-builders';

const NO_SPANS = { spanOf: () => undefined };
const codes = (diagnostics: readonly { code: string; severity: string }[]) =>
  diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => d.code)
    .sort();

function ingressGateway(numTrustedProxies: number): ServiceModel {
  return {
    ...svc(
      'istio-system',
      'istio-ingressgateway',
      { http: { port: 8080, protocol: 'http' } },
      {
        serviceAccount: 'istio-ingressgateway-service-account',
        selector: { istio: 'ingressgateway' },
      },
    ),
    gateway: { kind: 'istio-ingress', numTrustedProxies },
  };
}

const web = svc('shop', 'web', { http: { port: 8080, protocol: 'http' } });
const pay = svc('shop', 'pay', { grpc: { port: 9090, protocol: 'grpc' } });

/** Compiles a model for a target and verifies it on the model's whole request space. */
function verified(m: PolicyModel, target: typeof istioTarget, simulator: ReturnType<typeof createIstioSimulator>) {
  const output = target.compile(m, NO_SPANS);
  assert.deepEqual(codes(output.diagnostics), []);
  const result = verify(m, manifestsFromFiles(renderTarget(output, m.entry)), simulator);
  return { output, result };
}

function policies(objects: readonly KubernetesObject[], kind: string): KubernetesObject[] {
  return objects.filter((o) => o.kind === kind);
}

const ap = (namespace: string, name: string, spec: Record<string, unknown>): ManifestObject => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace },
  spec,
});
const meshStrict: ManifestObject = {
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'istio-system' },
  spec: { mtls: { mode: 'STRICT' } },
};
const shopWeb: Workload = {
  namespace: 'shop',
  name: 'web',
  serviceAccount: 'web',
  labels: { app: 'web' },
  ports: [{ name: 'http', port: 8080, protocol: 'http' }],
};
const ingressPods = (numTrustedProxies: number): Workload => ({
  namespace: 'istio-system',
  name: 'istio-ingressgateway',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway' },
  ports: [{ name: 'http', port: 8080, protocol: 'http' }],
  gateway: { kind: 'istio-ingress', numTrustedProxies },
});
const call = (destination: Workload, client: SimulatedRequest['client']): SimulatedRequest => ({ client, destination, port: 8080, method: 'GET', path: '/' });

describe('Istio simulator facts the new sources rest on', () => {
  const istio = createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' });

  it('istio.md §1.2 (istio pilot/pkg/security/authz/model/generator.go srcNamespaceGenerator): GIVEN `namespaces: [shop]` WHEN a workload of shop in ANOTHER trust domain calls THEN it is admitted; the trust-domain-bound principal `cluster.local/ns/shop/sa/*` refuses it', () => {
    const foreign = { ip: '10.0.0.1', spiffeId: 'spiffe://old.example/ns/shop/sa/legacy' };
    const byNamespace = [ap('shop', 'allow', { selector: { matchLabels: { app: 'web' } }, rules: [{ from: [{ source: { namespaces: ['shop'] } }] }] })];
    const byPrincipal = [
      ap('shop', 'allow', { selector: { matchLabels: { app: 'web' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/*'] } }] }] }),
    ];
    assert.equal(istio.decide([meshStrict, ...byNamespace], call(shopWeb, foreign)).verdict, 'allow');
    assert.equal(istio.decide([meshStrict, ...byPrincipal], call(shopWeb, foreign)).verdict, 'deny');
    const local = { ip: '10.0.0.1', identity: { namespace: 'shop', serviceAccount: 'legacy' } };
    assert.equal(istio.decide([meshStrict, ...byPrincipal], call(shopWeb, local)).verdict, 'allow');
  });

  it('istio/istio#23284, #21343: GIVEN a mesh-wide STRICT PeerAuthentication WHEN a plaintext client calls an ingress gateway THEN the gateway still takes it (no PeerAuthentication applies to gateway pods), while a sidecar resets it', () => {
    const plaintext = { ip: '203.0.113.9' };
    assert.equal(istio.decide([meshStrict], call(ingressPods(0), plaintext)).verdict, 'allow');
    assert.equal(istio.decide([meshStrict], call(shopWeb, plaintext)).verdict, 'deny');
    // And a mesh client's certificate is not seen by the gateway: a principal rule does not match it.
    const byPrincipal = ap('istio-system', 'gw', {
      selector: { matchLabels: { istio: 'ingressgateway' } },
      rules: [{ from: [{ source: { principals: ['*'] } }] }],
    });
    assert.equal(
      istio.decide([meshStrict, byPrincipal], call(ingressPods(0), { ip: '10.0.0.1', identity: { namespace: 'shop', serviceAccount: 'web' } })).verdict,
      'deny',
    );
  });

  it('Envoy x-forwarded-for (xff_num_trusted_hops) and the Istio authz-ingress task (numTrustedProxies): GIVEN remoteIpBlocks [203.0.113.0/24] on a gateway WHEN X-Forwarded-For carries the client THEN the address numTrustedProxies from the right decides, a forged extra entry does not help, and with 0 proxies the connection address decides', () => {
    const allowPartners = ap('istio-system', 'gw', {
      selector: { matchLabels: { istio: 'ingressgateway' } },
      rules: [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }] }],
    });
    const throughBalancer = { ip: '198.51.100.7', forwardedFor: ['203.0.113.9'] };
    assert.equal(istio.decide([allowPartners], call(ingressPods(1), throughBalancer)).verdict, 'allow');
    assert.equal(istio.decide([allowPartners], call(ingressPods(0), throughBalancer)).verdict, 'deny');
    const forged = { ip: '198.51.100.7', forwardedFor: ['203.0.113.9', '192.0.2.10'] };
    assert.equal(istio.decide([allowPartners], call(ingressPods(1), forged)).verdict, 'deny');
    assert.equal(istio.decide([allowPartners], call(ingressPods(2), forged)).verdict, 'allow');
    // Fewer entries than trusted proxies: Envoy falls back to the connection's address.
    assert.equal(istio.decide([allowPartners], call(ingressPods(3), forged)).verdict, 'deny');
  });
});

describe('Istio target', () => {
  const istio = createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: 'new.example' });
  const sources: SourceModel[] = [
    { kind: 'spiffe', id: 'spiffe://new.example/vm/billing' },
    { kind: 'trustDomain', trustDomain: 'old.example' },
    { kind: 'both', identity: { kind: 'service', service: 'shop/web' }, cidrs: ['10.0.0.0/8'] },
  ];

  it('GIVEN a SPIFFE ID, a trust domain and an identity AND a network WHEN built THEN principals drop spiffe://, the trust domain is `<td>/*`, and the combination is ONE source with principals and ipBlocks (ANDed); verify finds no mismatch', () => {
    const m = model([web, pay], [rule('allow', sources, 'shop/pay', ['grpc'])], { trustDomain: 'new.example' });
    const { output, result } = verified(m, istioTarget, istio);
    const allow = policies(output.objects, 'AuthorizationPolicy').find((o) => o.metadata.name === 'pay-allow');
    assert.deepEqual((allow?.['spec'] as { rules: unknown[] }).rules, [
      {
        from: [
          { source: { principals: ['new.example/vm/billing', 'old.example/*'] } },
          { source: { principals: ['new.example/ns/shop/sa/web'], ipBlocks: ['10.0.0.0/8'] } },
        ],
        to: [{ operation: { ports: ['9090'] } }],
      },
    ]);
    assert.deepEqual(result.mismatches, []);
    assert.deepEqual(result.unsupported, []);
    assert.ok(result.checked > 0);
  });

  it('GIVEN an ingress gateway in the root namespace WHEN built THEN it gets no PeerAuthentication, remoteIpBlocks sit on its own policy, the root namespace gets no mesh-wide allow-nothing, and verify finds no mismatch', () => {
    const gw = ingressGateway(1);
    const m = model(
      [gw, web],
      [
        rule('allow', [{ kind: 'remoteIpBlock', cidr: '203.0.113.0/24' }], gw.id, ['http']),
        rule('allow', [{ kind: 'service', service: gw.id }], 'shop/web', ['http']),
      ],
    );
    const { output, result } = verified(m, istioTarget, createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' }));
    const pas = policies(output.objects, 'PeerAuthentication');
    assert.deepEqual(
      pas.map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
      ['istio-system/default'],
    );
    const aps = policies(output.objects, 'AuthorizationPolicy').map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    assert.ok(!aps.includes('istio-system/allow-nothing'), aps.join(', '));
    const gwPolicy = policies(output.objects, 'AuthorizationPolicy').find((p) => p.metadata.name === 'istio-ingressgateway-allow');
    assert.deepEqual(gwPolicy?.['spec'], {
      selector: { matchLabels: { istio: 'ingressgateway' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }], to: [{ operation: { ports: ['8080'] } }] }],
    });
    assert.deepEqual(result.mismatches, []);
    assert.deepEqual(result.unsupported, []);
    // The request space puts X-Forwarded-For in and out of the block.
    const requests = requestSpace(m).filter((r) => r.destination === gw.id && r.client.forwardedFor !== undefined);
    assert.ok(requests.some((r) => decide(m, r).allowed) && requests.some((r) => !decide(m, r).allowed));
  });

  it('istio.md §1.4 (ReplaceTrustDomainAliases): GIVEN a source in trust domain cluster.local while the mesh is new.example WHEN built THEN PC4010 (istiod would read it as the mesh’s own)', () => {
    const m = model([web], [rule('allow', [{ kind: 'trustDomain', trustDomain: 'cluster.local' }], 'shop/web', ['http'])], { trustDomain: 'new.example' });
    assert.deepEqual(codes(istioTarget.compile(m, NO_SPANS).diagnostics), ['PC4010']);
  });
});

describe('Linkerd target', () => {
  const linkerd = createLinkerdSimulator({ trustDomain: 'cluster.local' });

  it('linkerd.md §3 (requiredAuthenticationRefs: all must match): GIVEN both(identity, network) WHEN built THEN one AuthorizationPolicy refers to the identity (a ServiceAccount) AND a NetworkAuthentication, and the identity outside the network (or the network without the identity) is refused', () => {
    const m = model(
      [web, pay],
      [rule('allow', [{ kind: 'both', identity: { kind: 'service', service: 'shop/web' }, cidrs: ['10.0.0.0/8'] }], 'shop/pay', ['grpc'])],
    );
    const output = linkerdTarget.compile(m, NO_SPANS);
    assert.deepEqual(codes(output.diagnostics), []);
    const grants = policies(output.objects, 'AuthorizationPolicy');
    assert.equal(grants.length, 1);
    const refs = (grants[0]?.['spec'] as { requiredAuthenticationRefs: { kind: string }[] }).requiredAuthenticationRefs.map((r) => r.kind).sort();
    // The identity half is a ServiceAccount ref for one account (linkerd.md §3), a MeshTLSAuthentication for several.
    assert.deepEqual(refs, ['NetworkAuthentication', 'ServiceAccount']);
    const objects = manifestsFromFiles(renderTarget(output, m.entry));
    const payPods: Workload = {
      namespace: 'shop',
      name: 'pay',
      serviceAccount: 'pay',
      labels: { app: 'pay' },
      ports: [{ name: 'grpc', port: 9090, protocol: 'grpc' }],
    };
    const asWeb = (ip: string) => ({
      client: { ip, identity: { namespace: 'shop', serviceAccount: 'web' } },
      destination: payPods,
      port: 9090,
      method: 'POST',
      path: '/a.B/C',
    });
    assert.equal(linkerd.decide(objects, asWeb('10.1.2.3')).verdict, 'allow');
    assert.equal(linkerd.decide(objects, asWeb('192.0.2.10')).verdict, 'deny');
    assert.equal(
      linkerd.decide(objects, { ...asWeb('10.1.2.3'), client: { ip: '10.1.2.3', identity: { namespace: 'shop', serviceAccount: 'other' } } }).verdict,
      'deny',
    );
    assert.deepEqual(verify(m, objects, linkerd).mismatches, []);
  });

  it('linkerd.md §4 (core/src/identity_match.rs: `*.` is a label suffix) and §9: GIVEN a trust domain and a SPIFFE ID WHEN built THEN identities are `*.serviceaccount.identity.linkerd.<td>` and the URI, and verify finds no mismatch', () => {
    const m = model(
      [web, pay],
      [
        rule(
          'allow',
          [
            { kind: 'trustDomain', trustDomain: 'old.example' },
            { kind: 'spiffe', id: 'spiffe://old.example/vm/billing' },
          ],
          'shop/pay',
          ['grpc'],
        ),
      ],
    );
    const output = linkerdTarget.compile(m, NO_SPANS);
    assert.deepEqual(codes(output.diagnostics), []);
    const identities = policies(output.objects, 'MeshTLSAuthentication').flatMap((o) => (o['spec'] as { identities: string[] }).identities);
    assert.deepEqual(identities, ['*.serviceaccount.identity.linkerd.old.example', 'spiffe://old.example/vm/billing']);
    const result = verify(m, manifestsFromFiles(renderTarget(output, m.entry)), linkerd);
    assert.deepEqual(result.mismatches, []);
    assert.deepEqual(result.unsupported, []);
  });

  it('GIVEN remoteIpBlocks, an Istio ingress gateway, or an identity-AND-network deny WHEN built for Linkerd THEN PC4115, PC4116, PC4117 (never silently emitted)', () => {
    const gw = ingressGateway(1);
    const remote = model([gw, web], [rule('allow', [{ kind: 'remoteIpBlock', cidr: '203.0.113.0/24' }], gw.id, ['http'])]);
    assert.deepEqual(codes(linkerdTarget.compile(remote, NO_SPANS).diagnostics), ['PC4115', 'PC4116']);
    const caller = model([gw, web], [rule('allow', [{ kind: 'service', service: gw.id }], 'shop/web', ['http'])]);
    assert.deepEqual(codes(linkerdTarget.compile(caller, NO_SPANS).diagnostics), ['PC4116', 'PC4116']);
    const denyBoth = model(
      [web, pay],
      [rule('deny', [{ kind: 'both', identity: { kind: 'service', service: 'shop/web' }, cidrs: ['10.0.0.0/8'] }], 'shop/pay', ['grpc'])],
      { defaultAction: 'allow' },
    );
    assert.deepEqual(codes(linkerdTarget.compile(denyBoth, NO_SPANS).diagnostics), ['PC4117']);
  });
});

describe('Istio ambient target', () => {
  it('GIVEN a gateway, or a SPIFFE ID outside Kubernetes, WHEN built for istio-ambient THEN PC4213, PC4214; a trust domain is written as a ztunnel principal', () => {
    const gw = ingressGateway(0);
    assert.deepEqual(codes(istioAmbientTarget.compile(model([gw, web], []), NO_SPANS).diagnostics), ['PC4213']);
    const vm = model([web, pay], [rule('allow', [{ kind: 'spiffe', id: 'spiffe://cluster.local/vm/billing' }], 'shop/pay', ['grpc'])]);
    assert.deepEqual(codes(istioAmbientTarget.compile(vm, NO_SPANS).diagnostics), ['PC4214']);
    const m = model([web, pay], [rule('allow', [{ kind: 'trustDomain', trustDomain: 'old.example' }], 'shop/pay', ['grpc'])]);
    const output = istioAmbientTarget.compile(m, NO_SPANS);
    assert.deepEqual(codes(output.diagnostics), []);
    assert.ok(JSON.stringify(output.objects).includes('"principals":["old.example/*"]'));
  });

  it('GIVEN both(identity, ipBlocks) and a Kubernetes-shaped SPIFFE ID WHEN built for istio-ambient THEN one ztunnel source holds principals AND ipBlocks, and verify finds no mismatch', () => {
    const m = model(
      [web, pay],
      [
        rule('allow', [{ kind: 'both', identity: { kind: 'service', service: 'shop/web' }, cidrs: ['10.0.0.0/8'] }], 'shop/pay', ['grpc']),
        rule('allow', [{ kind: 'spiffe', id: 'spiffe://old.example/ns/shop/sa/legacy' }], 'shop/web', ['http']),
      ],
    );
    const output = istioAmbientTarget.compile(m, NO_SPANS);
    assert.deepEqual(codes(output.diagnostics), []);
    assert.ok(JSON.stringify(output.objects).includes('{"source":{"principals":["cluster.local/ns/shop/sa/web"],"ipBlocks":["10.0.0.0/8"]}}'));
    const simulator = simulatorFor('istio-ambient', m.mesh);
    assert.ok(simulator !== undefined);
    const result = verify(m, manifestsFromFiles(renderTarget(output, m.entry)), simulator);
    assert.deepEqual(result.mismatches, []);
    assert.deepEqual(result.unsupported, []);
  });
});

describe('review', () => {
  it('describes each new source in words', () => {
    assert.equal(describeSource({ kind: 'spiffe', id: 'spiffe://a.example/vm/x' }), 'SPIFFE ID spiffe://a.example/vm/x');
    assert.equal(describeSource({ kind: 'trustDomain', trustDomain: 'old.example' }), 'any identity of trust domain old.example');
    assert.equal(describeSource({ kind: 'both', identity: { kind: 'service', service: 'shop/web' }, cidrs: ['10.0.0.0/8'] }), 'shop/web, only from 10.0.0.0/8');
    assert.equal(describeSource({ kind: 'remoteIpBlock', cidr: '203.0.113.0/24' }), 'original clients (X-Forwarded-For at the gateway) from 203.0.113.0/24');
  });
});

describe('through the whole pipeline', () => {
  it('GIVEN examples/gateway WHEN policyc explain is asked about a partner through the load balancer, a forged X-Forwarded-For, and an old-trust-domain workload THEN it says what the gateway sees and both the model and Istio agree', () => {
    const dir = path.join(EXAMPLES, 'gateway');
    const partner = runCli(
      ['explain', 'plaintext', 'istio-system/istio-ingressgateway', '--ip', '10.1.2.3', '--forwarded-for', '203.0.113.9', '-t', 'istio'],
      dir,
    );
    assert.equal(partner.exit, 0, partner.stderr);
    assert.match(
      partner.stdout,
      /is a gateway \(istio-ingress, numTrustedProxies 1\): its callers carry no mesh identity \(Istio applies no PeerAuthentication to gateway pods/,
    );
    assert.match(partner.stdout, /the original client address is 203\.0\.113\.9/);
    assert.match(partner.stdout, /policy: ALLOWED/);
    assert.match(partner.stdout, /istio: ALLOW/);
    const forged = runCli(
      ['explain', 'plaintext', 'istio-system/istio-ingressgateway', '--ip', '10.1.2.3', '--forwarded-for', '203.0.113.9,192.0.2.1', '-t', 'istio'],
      dir,
    );
    assert.match(forged.stdout, /policy: DENIED/);
    assert.match(forged.stdout, /istio: DENY/);
    const old = runCli(['explain', 'spiffe://old.example.org/ns/shop/sa/legacy', 'shop/orders', '-t', 'istio'], dir);
    assert.match(old.stdout, /policy: ALLOWED/);
    assert.match(old.stdout, /mTLS as spiffe:\/\/old\.example\.org\/ns\/shop\/sa\/legacy/);
  });

  it('GIVEN examples/gateway WHEN built for Istio THEN no diagnostic, and policyc verify finds 0 mismatches and proves its assertions', () => {
    const result = compile({ entry: path.join(EXAMPLES, 'gateway', 'policy.ts'), targets: [istioTarget] });
    assert.deepEqual(
      result.diagnostics.map((d) => d.code),
      [],
    );
    const m = result.model as PolicyModel;
    assert.deepEqual(
      m.services.map((s) => [s.id, s.gateway?.kind ?? 'sidecar']),
      [
        ['istio-system/istio-ingressgateway', 'istio-ingress'],
        ['shop/orders', 'sidecar'],
        ['shop/storefront', 'sidecar'],
      ],
    );
    const output = istioTarget.compile(m, NO_SPANS);
    const check = verify(
      m,
      manifestsFromFiles(renderTarget(output, m.entry)),
      createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: m.mesh.trustDomain }),
    );
    assert.deepEqual(check.mismatches, []);
  });

  it('GIVEN examples/identities (both(...), a header allow and an exact-header deny, a SPIFFE ID and a trust domain) WHEN policyc explain asks on Istio and Linkerd THEN both meshes decide as the policy: the tenant header admits reports, the legacy export header denies it, storefront outside the pod network and the VM off its paths are refused', () => {
    const dir = path.join(EXAMPLES, 'identities');
    const ask = (args: readonly string[]): string => {
      const run = runCli(['explain', ...args, '--port', 'http', '-t', 'istio,linkerd'], dir);
      assert.equal(run.exit, 0, run.stderr);
      return run.stdout;
    };
    const verdicts = (out: string): string[] => [...out.matchAll(/^(policy|istio|linkerd): (\w+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    const tenant = ask(['shop/reports', 'shop/orders', '--path', '/orders/1', '--header', 'x-tenant: acme']);
    assert.deepEqual(verdicts(tenant), ['policy ALLOWED', 'istio ALLOW', 'linkerd ALLOW']);
    assert.match(tenant, /best-matching route is HTTPRoute shop\/orders-http-orders-x-tenant/);
    assert.deepEqual(verdicts(ask(['shop/reports', 'shop/orders', '--path', '/orders/1', '--header', 'x-tenant: acme', '--header', 'x-export: legacy'])), [
      'policy DENIED',
      'istio DENY',
      'linkerd DENY',
    ]);
    assert.deepEqual(verdicts(ask(['shop/reports', 'shop/orders', '--path', '/orders/1'])), ['policy DENIED', 'istio DENY', 'linkerd DENY']);
    assert.deepEqual(verdicts(ask(['shop/storefront', 'shop/orders', '--path', '/orders/1', '--ip', '10.1.2.3'])), [
      'policy ALLOWED',
      'istio ALLOW',
      'linkerd ALLOW',
    ]);
    assert.deepEqual(verdicts(ask(['shop/storefront', 'shop/orders', '--path', '/orders/1', '--ip', '192.0.2.10'])), [
      'policy DENIED',
      'istio DENY',
      'linkerd DENY',
    ]);
    const vm = ['spiffe://new.example.org/vm/billing', 'shop/orders', '--method', 'POST'];
    assert.deepEqual(verdicts(ask([...vm, '--path', '/billing/run'])), ['policy ALLOWED', 'istio ALLOW', 'linkerd ALLOW']);
    assert.deepEqual(verdicts(ask([...vm, '--path', '/orders/1'])), ['policy DENIED', 'istio DENY', 'linkerd DENY']);
    assert.deepEqual(verdicts(ask(['spiffe://old.example.org/ns/shop/sa/legacy', 'shop/orders', '--method', 'POST', '--path', '/billing/run'])), [
      'policy ALLOWED',
      'istio ALLOW',
      'linkerd ALLOW',
    ]);
  });

  it('GIVEN misuse hidden by casts WHEN built THEN a located error each: PC3040 (a SPIFFE ID that is not a URI), PC3041 (remoteIpBlocks to a non-gateway), PC3042 (an mTLS mode on a gateway port); a gateway in the root namespace is not PC3019 and a Gateway API gateway beside an app is not PC3002', () => {
    const dir = tempProject({
      'policy.ts': `import { allow, gateway, mesh, namespace, remoteIpBlocks, service, spiffe, trustDomain, type AnyGateway, type SpiffeId } from 'policyc';
const shop = namespace('shop');
export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });
export const edge = gateway(shop, 'edge', { kind: 'gateway-api', ports: { http: { port: 8080, protocol: 'http' } } });
export const ingress = gateway(namespace('istio-system'), 'istio-ingressgateway', { kind: 'istio-ingress', ports: { http: { port: 8080, protocol: 'http', mtls: 'STRICT' } } });
export default mesh({
  services: [web, edge, ingress],
  rules: [
    allow(spiffe('not a uri' as SpiffeId)).to(web),
    allow(remoteIpBlocks('203.0.113.0/24')).to(web as unknown as AnyGateway),
    allow(trustDomain('spiffe://x')).to(web),
    allow(web).to(edge),
  ],
});
`,
    });
    const result = compile({ entry: path.join(dir, 'policy.ts'), targets: [] });
    const located = result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}:${d.span?.line ?? '?'}`);
    assert.deepEqual(located.sort(), ['PC3040:9', 'PC3040:11', 'PC3041:10', 'PC3042:5'].sort());
    assert.ok(!result.diagnostics.some((d) => d.code === 'PC3002' || d.code === 'PC3019'));
    // An identity allow to a gateway never matches, and the warning says why in gateway terms.
    const onGateway = result.diagnostics.find((d) => d.code === 'PC3020');
    assert.equal(onGateway?.span?.line, 12);
    assert.match(onGateway?.message ?? '', /is a gateway: its callers carry no mesh identity/);
  });
});
