/**
 * Well-known peers and the Linkerd-only mesh settings (issue 10), through the whole pipeline and the simulators:
 * `prometheus(...)`, `linkerdVizPrometheus()`, `mesh({ linkerd: { controlPlaneNamespace, proxyAdmin } })`.
 * Facts, each cited where it is tested:
 * - `linkerd viz allow-scrapes` (linkerd/linkerd2 viz/cmd/allow-scrapes.go): per namespace a Server on the proxy's
 *   `linkerd-admin` port selecting pods with `linkerd.io/control-plane-ns`, a /metrics route authorized for
 *   `linkerd-viz/prometheus`, and a /live, /ready route authorized for the kubelet's networks;
 * - the proxy's admin server listens on 4191 (linkerd/linkerd2 charts/partials/templates/proxy.tpl,
 *   LINKERD2_PROXY_ADMIN_LISTEN_ADDR), the injector labels meshed pods `linkerd.io/control-plane-ns`
 *   (linkerd/linkerd2 pkg/k8s/labels.go);
 * - identities are `<sa>.<ns>.serviceaccount.identity.<control-plane namespace>.<trust domain>` (shared/docs/linkerd.md §9,
 *   linkerd2 `k8s/index/src/cluster_info.rs`);
 * - Istio's sidecar leaves its stats ports out of inbound capture (the injected `istio-iptables -d 15090,15021,15020`,
 *   istio/istio manifests/charts/istio-control/istio-discovery/files/injection-template.yaml) and serves them without
 *   mTLS (https://istio.io/latest/docs/tasks/observability/metrics/secure-metrics/), so no AuthorizationPolicy reaches them.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { compile, type CompileResult } from '../compiler/compile';
import { decide, type Client, type Request } from '../model/decide';
import { LINKERD_PROXY_ADMIN_PORT, servicesById, type PolicyModel } from '../model/model';
import { meshes } from '../meshes';
import { istioTarget } from '../targets/istio';
import { istioAmbientTarget } from '../targets/istio-ambient';
import { linkerdTarget } from '../targets/linkerd';
import { createLinkerdSimulator } from '../verify/linkerd';
import { manifestsFromFiles, simulatedRequest, verify, verifyTargets } from '../verify/compare';
import type { ManifestObject } from '../verify/simulator';
import { runCli, tempProject } from './helpers';

const HEAD = `import { allow, identity, ipBlocks, linkerdVizPrometheus, mesh, namespace, prometheus, service } from 'policyc';
const shop = namespace('shop');
export const api = service(shop, 'api', {
  ports: { http: { port: 8080, protocol: 'http' }, metrics: { port: 9102, protocol: 'http' } },
});
export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });
`;
const RULES = `rules: [
    allow(web).to(api, { ports: ['http'] }),
    allow(shop).to(web, { ports: ['http'] }),
    allow(prometheus('monitoring', 'prometheus-k8s')).to(api, { ports: ['metrics'], methods: ['GET'], paths: ['/metrics'] }),
  ]`;

function build(meshOptions: string, targets = [linkerdTarget, istioTarget, istioAmbientTarget]): CompileResult {
  const dir = tempProject({
    'policy.ts': `${HEAD}export default mesh({ scope: 'namespaces', probeNetworks: ['10.128.0.0/16'], ${meshOptions} services: [api, web], ${RULES} });\n`,
  });
  return compile({ entry: path.join(dir, 'policy.ts'), targets });
}

const errors = (result: CompileResult): string[] => result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`);
const objectsOf = (result: CompileResult, target: string): ManifestObject[] => manifestsFromFiles(result.outputs.get(target) ?? new Map());
const find = (objects: readonly ManifestObject[], kind: string, name: string): ManifestObject | undefined =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

const ADMIN = `linkerd: { proxyAdmin: { scrapedBy: [linkerdVizPrometheus(), ipBlocks('10.200.0.0/16')] } },`;

describe('the Linkerd proxy admin port (linkerd.proxyAdmin)', () => {
  const result = build(ADMIN);
  const linkerd = objectsOf(result, 'linkerd');
  const model = result.model as PolicyModel;
  const services = servicesById(model);

  it('GIVEN scrapers WHEN built THEN each namespace gets what `linkerd viz allow-scrapes` writes, with policyc metadata (viz/cmd/allow-scrapes.go)', () => {
    assert.deepEqual(errors(result), []);
    const server = find(linkerd, 'Server', 'linkerd-proxy-admin');
    assert.ok(server !== undefined);
    assert.equal(server.metadata.namespace, 'shop');
    assert.deepEqual(server['spec'], {
      accessPolicy: 'deny',
      podSelector: { matchExpressions: [{ key: 'linkerd.io/control-plane-ns', operator: 'Exists' }] },
      port: 4191,
      proxyProtocol: 'HTTP/1',
    });
    for (const object of linkerd.filter((o) => o.metadata.name.startsWith('linkerd-proxy-admin'))) {
      assert.equal(object.metadata.labels?.['app.kubernetes.io/managed-by'], 'policyc', object.metadata.name);
      assert.equal(object.metadata.annotations?.['policyc.dev/source'], 'policy.ts: mesh linkerd.proxyAdmin', object.metadata.name);
    }
    const metrics = find(linkerd, 'HTTPRoute', 'linkerd-proxy-admin-metrics');
    assert.deepEqual((metrics?.['spec'] as { rules: unknown }).rules, [{ matches: [{ method: 'GET', path: { type: 'Exact', value: '/metrics' } }] }]);
    const probes = find(linkerd, 'HTTPRoute', 'linkerd-proxy-admin-probes');
    assert.deepEqual((probes?.['spec'] as { rules: unknown }).rules, [
      {
        matches: [
          { method: 'GET', path: { type: 'Exact', value: '/live' } },
          { method: 'GET', path: { type: 'Exact', value: '/ready' } },
        ],
      },
    ]);
    // linkerd-viz's Prometheus by its account, as allow-scrapes names it; the address scraper by a NetworkAuthentication.
    const viz = find(linkerd, 'AuthorizationPolicy', 'linkerd-proxy-admin-metrics');
    assert.deepEqual((viz?.['spec'] as { requiredAuthenticationRefs: unknown }).requiredAuthenticationRefs, [
      { group: '', kind: 'ServiceAccount', name: 'prometheus', namespace: 'linkerd-viz' },
    ]);
    assert.deepEqual(find(linkerd, 'NetworkAuthentication', 'linkerd-proxy-admin-metrics-networks')?.['spec'], { networks: [{ cidr: '10.200.0.0/16' }] });
    assert.deepEqual(find(linkerd, 'NetworkAuthentication', 'linkerd-proxy-admin-probes-networks')?.['spec'], { networks: [{ cidr: '10.128.0.0/16' }] });
  });

  it('GIVEN the admin port is declared THEN PC4128 does not fire; without it, under default deny, it still does', () => {
    assert.ok(!result.diagnostics.some((d) => d.code === 'PC4128'));
    const closed = build('');
    assert.deepEqual(errors(closed), []);
    const warning = closed.diagnostics.find((d) => d.code === 'PC4128');
    assert.ok(warning !== undefined);
    assert.match(warning.message, /linkerd viz allow-scrapes --namespace shop/);
    assert.match(warning.message, /proxyAdmin/);
    assert.ok(!objectsOf(closed, 'linkerd').some((o) => o.metadata.name.startsWith('linkerd-proxy-admin')));
  });

  const simulator = createLinkerdSimulator({ trustDomain: 'cluster.local', probeNetworks: ['10.128.0.0/16'] });
  const decideBoth = (client: Client, method: 'GET' | 'POST', requestPath: string): { model: boolean; linkerd: string } => {
    const request: Request = { client, destination: 'shop/api', port: LINKERD_PROXY_ADMIN_PORT, method, path: requestPath };
    return {
      model: decide(model, request, services).allowed,
      linkerd: simulator.decide(linkerd, simulatedRequest(request, services, model.mesh.trustDomain)).verdict,
    };
  };
  const viz: Client = { kind: 'identity', namespace: 'linkerd-viz', serviceAccount: 'prometheus', ip: '10.0.0.9', tls: true };

  it('GIVEN requests to port 4191 WHEN the Linkerd simulator and the model decide THEN both admit exactly the scrapers on GET /metrics and the probe networks on /live, /ready', () => {
    const cases: [Client, 'GET' | 'POST', string, boolean][] = [
      [viz, 'GET', '/metrics', true],
      [viz, 'POST', '/metrics', false], // only GET is routed
      [viz, 'GET', '/metrics/x', false], // Exact path: 404
      [viz, 'GET', '/live', false], // not from the probe networks
      [{ kind: 'identity', namespace: 'monitoring', serviceAccount: 'prometheus-k8s', ip: '10.0.0.9', tls: true }, 'GET', '/metrics', false],
      [{ kind: 'service', service: 'shop/web', ip: '10.0.0.9', tls: true }, 'GET', '/metrics', false],
      [{ kind: 'plaintext', ip: '10.200.0.5' }, 'GET', '/metrics', true], // the address scraper, plaintext
      [{ kind: 'plaintext', ip: '10.201.0.5' }, 'GET', '/metrics', false],
      [{ kind: 'kubelet', ip: '10.128.0.1' }, 'GET', '/live', true],
      [{ kind: 'kubelet', ip: '10.128.0.1' }, 'GET', '/ready', true],
      [{ kind: 'kubelet', ip: '10.128.0.1' }, 'GET', '/metrics', false],
      [{ kind: 'plaintext', ip: '10.0.0.7' }, 'GET', '/ready', false],
    ];
    for (const [client, method, requestPath, allowed] of cases) {
      const got = decideBoth(client, method, requestPath);
      const who = `${client.kind} ${client.ip} ${method} ${requestPath}`;
      assert.equal(got.model, allowed, `model: ${who}`);
      assert.equal(got.linkerd, allowed ? 'allow' : 'deny', `linkerd: ${who}`);
    }
  });

  it('GIVEN the build WHEN verified THEN Linkerd is also checked on port 4191 of every workload, the other meshes are not, and nothing differs', () => {
    const simulated = [...meshes.values()].map((mesh) => ({
      name: mesh.target.name,
      objects: objectsOf(result, mesh.target.name),
      simulator: mesh.simulator(model.mesh),
    }));
    const verified = verifyTargets(model, simulated);
    for (const [name, r] of verified) assert.deepEqual([name, r.differing, r.unsimulated], [name, 0, 0]);
    const linkerdChecked = verified.get('linkerd')?.checked ?? 0;
    const istioChecked = verified.get('istio')?.checked ?? 0;
    assert.ok(linkerdChecked > istioChecked, `${linkerdChecked} > ${istioChecked}`);
  });

  it('GIVEN an output without the scrapers grant WHEN verified THEN the lost /metrics access is reported on Linkerd', () => {
    const broken = linkerd.filter((o) => !(o.kind === 'AuthorizationPolicy' && o.metadata.name === 'linkerd-proxy-admin-metrics'));
    const r = verify(model, broken, meshes.get('linkerd')?.simulator(model.mesh) ?? simulator);
    assert.ok(r.differing > 0);
    assert.ok(r.mismatches.every((m) => m.request.port === LINKERD_PROXY_ADMIN_PORT && m.request.path === '/metrics' && m.expected));
  });

  it('GIVEN an output whose admin Server admits everyone WHEN verified THEN the breach is reported', () => {
    const open = linkerd.map((o) =>
      o.kind === 'Server' && o.metadata.name === 'linkerd-proxy-admin' ? { ...o, spec: { ...(o['spec'] as object), accessPolicy: 'all-unauthenticated' } } : o,
    );
    const r = verify(model, open, meshes.get('linkerd')?.simulator(model.mesh) ?? simulator);
    assert.ok(r.mismatches.some((m) => m.overPermissive && m.request.port === LINKERD_PROXY_ADMIN_PORT));
  });

  it('GIVEN the Linkerd-only settings WHEN built for Istio and ambient THEN their output is byte-identical to the build without them (a documented no-op)', () => {
    const without = build('');
    const withCp = build(`linkerd: { controlPlaneNamespace: 'linkerd-cp', proxyAdmin: { scrapedBy: [linkerdVizPrometheus()] } },`);
    for (const target of ['istio', 'istio-ambient']) {
      const a = [...(without.outputs.get(target) ?? new Map<string, string>())];
      const b = [...(withCp.outputs.get(target) ?? new Map<string, string>())];
      assert.ok(a.length > 0);
      assert.deepEqual(b, a, target);
    }
  });
});

describe('policyc explain on the proxy admin port', () => {
  it('GIVEN --port linkerd-admin WHEN explained THEN the model and Linkerd decide it, and the Istio meshes say they have no such port', () => {
    const dir = tempProject({
      'policy.ts': `${HEAD}export default mesh({ scope: 'namespaces', probeNetworks: ['10.128.0.0/16'], ${ADMIN} services: [api, web], ${RULES} });\n`,
    });
    const run = runCli(['explain', 'identity:linkerd-viz/prometheus', 'shop/api', '--port', 'linkerd-admin', '--path', '/metrics', '--target', 'all'], dir);
    assert.equal(run.exit, 0, run.stderr);
    assert.match(run.stdout, /policy: ALLOWED — a scraper's GET \/metrics on the proxy admin port/);
    assert.match(run.stdout, /linkerd: ALLOW — Server shop\/linkerd-proxy-admin/);
    assert.match(run.stdout, /istio: no proxy admin port 4191/);
    assert.match(run.stdout, /istio-ambient: no proxy admin port 4191/);
  });
});

describe('the Linkerd control-plane namespace (linkerd.controlPlaneNamespace)', () => {
  it('GIVEN controlPlaneNamespace WHEN built THEN every identity string names it (shared/docs/linkerd.md §9)', () => {
    const result = build(`linkerd: { controlPlaneNamespace: 'linkerd-cp' },`);
    assert.deepEqual(errors(result), []);
    const texts = [...(result.outputs.get('linkerd') ?? new Map<string, string>()).values()].join('\n');
    assert.match(texts, /\*\.shop\.serviceaccount\.identity\.linkerd-cp\.cluster\.local/);
    assert.doesNotMatch(texts, /identity\.linkerd\.cluster\.local/);
    const defaults = build('');
    const defaultTexts = [...(defaults.outputs.get('linkerd') ?? new Map<string, string>()).values()].join('\n');
    assert.match(defaultTexts, /\*\.shop\.serviceaccount\.identity\.linkerd\.cluster\.local/);
  });

  it('GIVEN the output for control plane linkerd-cp WHEN simulated THEN a simulator of that control plane admits shop/web and one of the default does not', () => {
    const result = build(`linkerd: { controlPlaneNamespace: 'linkerd-cp' },`);
    const model = result.model as PolicyModel;
    const services = servicesById(model);
    const objects = objectsOf(result, 'linkerd');
    const request: Request = {
      client: { kind: 'service', service: 'shop/api', ip: '10.0.0.9', tls: true },
      destination: 'shop/web',
      port: 8080,
      method: 'GET',
      path: '/',
    };
    const simulated = simulatedRequest(request, services, 'cluster.local');
    assert.equal(createLinkerdSimulator({ trustDomain: 'cluster.local', controlPlaneNamespace: 'linkerd-cp' }).decide(objects, simulated).verdict, 'allow');
    // The identity presented is <sa>.<ns>.serviceaccount.identity.linkerd.<td>: no match for the namespace's identity string.
    assert.equal(createLinkerdSimulator({ trustDomain: 'cluster.local' }).decide(objects, simulated).verdict, 'deny');
    // The registry configures the simulator from the model: verify agrees everywhere.
    const linkerd = meshes.get('linkerd');
    assert.ok(linkerd !== undefined);
    const r = verify(model, objects, linkerd.simulator(model.mesh));
    assert.deepEqual([r.differing, r.unsimulated], [0, 0]);
  });

  it('GIVEN a control-plane namespace that is not a DNS label WHEN checked THEN PC3060', () => {
    const result = build(`linkerd: { controlPlaneNamespace: 'Linkerd_CP' },`);
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code),
      ['PC3060'],
    );
    assert.equal(result.diagnostics[0]?.span?.file.endsWith('policy.ts'), true);
  });
});

describe('misuse of the well-known peers', () => {
  it('GIVEN a service on port 4191 with linkerd.proxyAdmin WHEN checked THEN PC3061 at the service', () => {
    const dir = tempProject({
      'policy.ts': `import { linkerdVizPrometheus, mesh, namespace, service } from 'policyc';
export const odd = service(namespace('shop'), 'odd', { ports: { admin: { port: 4191, protocol: 'http' } } });
export default mesh({ scope: 'namespaces', linkerd: { proxyAdmin: { scrapedBy: [linkerdVizPrometheus()] } }, services: [odd], rules: [] });
`,
    });
    const result = compile({ entry: path.join(dir, 'policy.ts'), targets: [linkerdTarget] });
    const found = result.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(
      found.map((d) => d.code),
      ['PC3061'],
    );
    assert.equal(found[0]?.span?.start, result.model?.services[0]?.location?.start);
  });

  it('GIVEN linkerdVizPrometheus() cast into a rule source WHEN evaluated THEN PC2007, never emitted', () => {
    const dir = tempProject({
      'policy.ts': `import { allow, linkerdVizPrometheus, mesh, namespace, service, type Source } from 'policyc';
export const api = service(namespace('shop'), 'api', { ports: { http: { port: 8080, protocol: 'http' } } });
export default mesh({ scope: 'namespaces', services: [api], rules: [allow(linkerdVizPrometheus() as unknown as Source).to(api)] });
`,
    });
    const result = compile({ entry: path.join(dir, 'policy.ts'), targets: [istioTarget, linkerdTarget] });
    assert.ok(result.diagnostics.some((d) => d.code === 'PC2007'));
    assert.equal(result.outputs.size, 0);
  });

  it('GIVEN a scraper with an invalid name or block WHEN checked THEN PC3006 and PC3015', () => {
    const result = build(`linkerd: { proxyAdmin: { scrapedBy: [identity('Bad NS', 'prometheus'), ipBlocks('10.0.0.1/8')] } },`);
    assert.deepEqual(
      result.diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => d.code)
        .sort(),
      ['PC3006', 'PC3015'],
    );
  });
});
