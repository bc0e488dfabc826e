/**
 * Gateway API gateways on Linkerd (targets/linkerd/gateway.ts). Facts: a Gateway API implementation's pods are
 * meshed like any workload (`linkerd.io/inject` through the Gateway's `spec.infrastructure.annotations`,
 * https://gateway-api.sigs.k8s.io/guides/infrastructure); a meshed ingress has an inbound side, where Linkerd
 * enforces Servers and authorizations, and an outbound side whose calls carry the pod's identity over mTLS
 * (https://linkerd.io/2/tasks/using-ingress); Istio names a Gateway's pods' account `<name>-<class>`
 * (istio/istio#43103), so `<name>-istio` means nothing on Linkerd.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { decide, type Request } from '../model/decide';
import type { PolicyModel, ServiceModel } from '../model/model';
import { linkerdTarget } from '../targets/linkerd';
import { createLinkerdSimulator } from '../verify/linkerd';
import { manifestsFromFiles, simulatedRequest, verify } from '../verify/compare';
import { renderTarget } from '../compiler/render';
import { servicesById } from '../model/model';
import { model, rule, svc } from './model-builders';
import { runCli, tempProject } from './helpers';
import fc from 'fast-check';
import { hasErrors } from '../diagnostics/diagnostic';
import { checkModel, type FuzzStats } from './fuzz/fuzz';
import { policyModelArbitrary } from './fuzz/random-model';

const NO_SPANS = { spanOf: () => undefined };
const errors = (diagnostics: readonly { code: string; severity: string }[]) =>
  diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => d.code)
    .sort();

function gatewayApi(serviceAccount: string): ServiceModel {
  return {
    ...svc('ingress', 'edge', { http: { port: 8080, protocol: 'http' } }, { serviceAccount, selector: { 'gateway.networking.k8s.io/gateway-name': 'edge' } }),
    gateway: { kind: 'gateway-api', numTrustedProxies: 0 },
  };
}

const web = svc('shop', 'web', { http: { port: 8080, protocol: 'http' } });
const linkerd = createLinkerdSimulator({ trustDomain: 'cluster.local' });

/** The gateway admits the partners' network and anyone on /public/*, and calls web; web admits only the gateway. */
function edgeModel(serviceAccount: string): PolicyModel {
  const edge = gatewayApi(serviceAccount);
  return model(
    [edge, web],
    [
      rule('allow', [{ kind: 'ipBlock', cidr: '203.0.113.0/24' }], edge.id, ['http']),
      rule('allow', [{ kind: 'anyone' }], edge.id, ['http'], { paths: [{ kind: 'prefix', value: '/public/' }] }),
      // Never matches (a gateway's callers carry no identity, model.ts 1.): it must not admit a meshed web either.
      rule('allow', [{ kind: 'service', service: 'shop/web' }], edge.id, ['http']),
      rule('allow', [{ kind: 'service', service: edge.id }], 'shop/web', ['http']),
    ],
  );
}

describe('Gateway API gateways on Linkerd', () => {
  const m = edgeModel('edge');
  const output = linkerdTarget.compile(m, NO_SPANS);
  const objects = manifestsFromFiles(renderTarget(output, m.entry));
  const services = servicesById(m);
  const on = (request: Request) => ({
    model: decide(m, request).allowed,
    linkerd: linkerd.decide(objects, simulatedRequest(request, services, 'cluster.local')).verdict,
  });

  it('GIVEN a gateway-api gateway as destination and caller WHEN built for Linkerd THEN no error, and verify finds no mismatch and nothing unsimulated', () => {
    assert.deepEqual(errors(output.diagnostics), []);
    // Every client, method and path of the space, not one per combination of keys.
    const result = verify(m, objects, linkerd, { everyClient: true });
    assert.ok(result.checked > 100, String(result.checked));
    assert.deepEqual(result.mismatches, []);
    assert.deepEqual(result.unsupported, []);
  });

  it("GIVEN the gateway's listener WHEN compiled THEN its Server's grants are by network only (never mTLS), and its outbound calls are authorized by its ServiceAccount", () => {
    const ingress = objects.filter((o) => o.metadata.namespace === 'ingress');
    const refs = ingress
      .filter((o) => o.kind === 'AuthorizationPolicy')
      .flatMap((o) => (o['spec'] as { requiredAuthenticationRefs: { kind: string }[] }).requiredAuthenticationRefs);
    assert.ok(refs.length >= 2);
    assert.deepEqual([...new Set(refs.map((r) => r.kind))], ['NetworkAuthentication']);
    assert.ok(!ingress.some((o) => o.kind === 'MeshTLSAuthentication'));
    const shopRefs = objects
      .filter((o) => o.metadata.namespace === 'shop' && o.kind === 'AuthorizationPolicy')
      .flatMap((o) => (o['spec'] as { requiredAuthenticationRefs: object[] }).requiredAuthenticationRefs);
    assert.deepEqual(shopRefs, [{ group: '', kind: 'ServiceAccount', name: 'edge', namespace: 'ingress' }]);
  });

  it('GIVEN callers of the gateway WHEN decided THEN by address alone: a partner in plaintext passes, a meshed web from elsewhere does not, even though a rule names it', () => {
    const partner = on({ client: { kind: 'plaintext', ip: '203.0.113.9' }, destination: 'ingress/edge', port: 8080, method: 'GET', path: '/' });
    assert.deepEqual(partner, { model: true, linkerd: 'allow' });
    const meshedWeb = on({
      client: { kind: 'service', service: 'shop/web', ip: '10.1.2.3', tls: true },
      destination: 'ingress/edge',
      port: 8080,
      method: 'GET',
      path: '/',
    });
    assert.deepEqual(meshedWeb, { model: false, linkerd: 'deny' });
    const publicPath = on({ client: { kind: 'plaintext', ip: '198.51.100.1' }, destination: 'ingress/edge', port: 8080, method: 'GET', path: '/public/x' });
    assert.deepEqual(publicPath, { model: true, linkerd: 'allow' });
  });

  it('GIVEN the gateway calling web WHEN decided THEN its mTLS identity is admitted, another identity is not', () => {
    const fromEdge = on({
      client: { kind: 'service', service: 'ingress/edge', ip: '10.1.2.3', tls: true },
      destination: 'shop/web',
      port: 8080,
      method: 'GET',
      path: '/',
    });
    assert.deepEqual(fromEdge, { model: true, linkerd: 'allow' });
    const other = on({
      client: { kind: 'identity', namespace: 'ingress', serviceAccount: 'other', ip: '10.1.2.3', tls: true },
      destination: 'shop/web',
      port: 8080,
      method: 'GET',
      path: '/',
    });
    assert.deepEqual(other, { model: false, linkerd: 'deny' });
  });

  it("GIVEN linkerd-viz scraping proxy admin ports WHEN the gateway's pods are meshed THEN its admin port 4191 is governed like any workload's, and verify agrees", () => {
    const scraped: PolicyModel = {
      ...m,
      mesh: { ...m.mesh, linkerd: { proxyAdmin: { scrapedBy: [{ kind: 'identity', namespace: 'linkerd-viz', serviceAccount: 'prometheus' }] } } },
    };
    const out = linkerdTarget.compile(scraped, NO_SPANS);
    assert.deepEqual(errors(out.diagnostics), []);
    const admin = manifestsFromFiles(renderTarget(out, scraped.entry));
    assert.deepEqual(verify(scraped, admin, linkerd, { everyClient: true }).mismatches, []);
    const scrape: Request = {
      client: { kind: 'identity', namespace: 'linkerd-viz', serviceAccount: 'prometheus', ip: '10.2.0.9', tls: true },
      destination: 'ingress/edge',
      port: 4191,
      method: 'GET',
      path: '/metrics',
    };
    assert.equal(decide(scraped, scrape).allowed, true);
    assert.equal(linkerd.decide(admin, simulatedRequest(scrape, servicesById(scraped), 'cluster.local')).verdict, 'allow');
    const other: Request = { ...scrape, client: { kind: 'service', service: 'shop/web', ip: '10.2.0.9', tls: true } };
    assert.equal(decide(scraped, other).allowed, false);
    assert.equal(linkerd.decide(admin, simulatedRequest(other, servicesById(scraped), 'cluster.local')).verdict, 'deny');
  });

  it("GIVEN a gateway-api gateway with Istio's default account `<name>-istio` WHEN it is a caller on Linkerd THEN PC4140; only a destination, it compiles", () => {
    assert.deepEqual(errors(linkerdTarget.compile(edgeModel('edge-istio'), NO_SPANS).diagnostics), ['PC4140']);
    const edge = gatewayApi('edge-istio');
    const destinationOnly = model([edge, web], [rule('allow', [{ kind: 'anyone' }], edge.id, ['http'])]);
    assert.deepEqual(errors(linkerdTarget.compile(destinationOnly, NO_SPANS).diagnostics), []);
  });

  it('GIVEN an Istio ingress gateway pod WHEN the Linkerd simulator is asked THEN it does not guess (Istio proxy, not a Linkerd-meshed pod)', () => {
    const istioGw = {
      ...svc('istio-system', 'istio-ingressgateway', { http: { port: 8080, protocol: 'http' } }),
      gateway: { kind: 'istio-ingress' as const, numTrustedProxies: 0 },
    };
    const request = simulatedRequest(
      { client: { kind: 'plaintext', ip: '203.0.113.9' }, destination: istioGw.id, port: 8080, method: 'GET', path: '/' },
      servicesById({ services: [istioGw] }),
      'cluster.local',
    );
    assert.equal(linkerd.decide([], request).verdict, 'unsupported');
  });
});

describe('Gateway API gateways on Linkerd, fuzzed (test/fuzz/random-model.ts)', () => {
  it('GIVEN random models with a gateway-api gateway WHEN built for Linkerd THEN every one it compiles agrees with the model on the whole request space', () => {
    const stats: FuzzStats = { models: 0, verified: {}, refused: {}, requests: 0, unsupported: 0 };
    // Models with a gateway-api gateway that Linkerd compiles (most random models use something it refuses).
    const withGateway = policyModelArbitrary.filter(
      (m) => m.services.some((s) => s.gateway?.kind === 'gateway-api') && !hasErrors(linkerdTarget.compile(m, NO_SPANS).diagnostics),
    );
    fc.assert(
      fc.property(withGateway, (m) => checkModel(m, stats, [linkerdTarget])),
      { numRuns: 30, seed: 10 },
    );
    assert.equal(stats.verified['linkerd'], 30, JSON.stringify(stats));
    assert.ok(stats.requests > 300, JSON.stringify(stats));
  });
});

describe('PC4140 through the CLI', () => {
  it("GIVEN a gateway-api gateway without serviceAccount calling a service WHEN built for Linkerd THEN PC4140 at the gateway's declaration, saying what to write; with its account written, the build succeeds", () => {
    const policy = (account: string) =>
      [
        "import { allow, anyone, gateway, mesh, namespace, service } from 'policyc';",
        "const ingress = namespace('ingress');",
        `export const edge = gateway(ingress, 'edge', { kind: 'gateway-api',${account} ports: { http: { port: 8080, protocol: 'http' } } });`,
        "export const web = service(namespace('shop'), 'web', { ports: { http: { port: 8080, protocol: 'http' } } });",
        'export default mesh({ everyMeshedNamespaceListed: true, services: [edge, web], rules: [allow(anyone).to(edge), allow(edge).to(web)] });',
        '',
      ].join('\n');
    const run = runCli(['build', '--target', 'linkerd', '--format', 'json'], tempProject({ 'policy.ts': policy('') }));
    const { diagnostics } = JSON.parse(run.stdout) as {
      diagnostics: { code: string; message: string; span?: { file: string; line: number; column: number } }[];
    };
    const found = diagnostics.filter((d) => d.code === 'PC4140');
    assert.equal(found.length, 1);
    assert.deepEqual(found[0]?.span && [found[0].span.file, found[0].span.line, found[0].span.column], ['policy.ts', 3, 21]);
    assert.match(found[0]?.message ?? '', /serviceAccount: '<the account of the gateway's pods>'/);
    assert.equal(run.exit, 1);
    assert.equal(runCli(['build', '--target', 'linkerd,istio'], tempProject({ 'policy.ts': policy(" serviceAccount: 'edge',") })).exit, 0);
  });
});
