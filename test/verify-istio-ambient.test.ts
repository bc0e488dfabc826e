/**
 * The Istio ambient simulator, on hand-written manifests: GIVEN objects as a cluster receives them, WHEN a
 * request is decided, THEN the verdict is the one docs/ambient.md (§n) gives. And the verifier, with this
 * simulator, catches deliberately broken ambient targets.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import type { PolicyModel, ServiceModel } from '../model/model';
import type { KubernetesObject, Target } from '../model/target';
import { istioAmbientTarget } from '../targets/istio-ambient';
import { createIstioAmbientSimulator } from '../verify/istio-ambient';
import type { ManifestObject, SimulatedRequest, Workload } from '../verify/simulator';
import { checkModel } from './fuzz/fuzz';

const ambient = createIstioAmbientSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' });

const web: Workload = {
  namespace: 'shop',
  name: 'web',
  serviceAccount: 'web',
  labels: { app: 'web' },
  ports: [
    { name: 'http', port: 8080, protocol: 'http' },
    { name: 'db', port: 5432, protocol: 'tcp' },
  ],
};

const inAmbient: ManifestObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } } };
const strict: ManifestObject = {
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'istio-system' },
  spec: { mtls: { mode: 'STRICT' } },
};
const waypointGateway: ManifestObject = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'waypoint', namespace: 'shop' },
  spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
};
const useWaypoint: ManifestObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'waypoint' } },
};

function policy(name: string, spec: Record<string, unknown>): ManifestObject {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: 'shop' }, spec };
}

const api = { namespace: 'shop', serviceAccount: 'api' };
const fromApi = (port: number, method?: string, path?: string): SimulatedRequest => ({
  client: { ip: '10.1.2.3', identity: api },
  destination: web,
  port,
  ...(method === undefined ? {} : { method }),
  ...(path === undefined ? {} : { path }),
});
const plaintext = (port: number): SimulatedRequest => ({ client: { ip: '10.1.2.3' }, destination: web, port, method: 'GET', path: '/' });

const allowApiGet = (attachment: Record<string, unknown>) =>
  policy('web-allow', {
    ...attachment,
    action: 'ALLOW',
    rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/api'] } }], to: [{ operation: { ports: ['8080'], methods: ['GET'] } }] }],
  });

describe('Istio ambient simulator', () => {
  it('docs/ambient.md §1: GIVEN a namespace not labelled for ambient WHEN any request arrives THEN nothing enforces policy', () => {
    const decision = ambient.decide([strict, policy('allow-nothing', {})], plaintext(8080));
    assert.equal(decision.verdict, 'allow');
  });

  it('docs/ambient.md §3 (L7 fields on a ztunnel policy): GIVEN a selector policy with methods and no waypoint WHEN even the allowed call arrives THEN ztunnel drops it', () => {
    const objects = [inAmbient, strict, allowApiGet({ selector: { matchLabels: { app: 'web' } } })];
    const decision = ambient.decide(objects, fromApi(8080, 'GET', '/'));
    assert.equal(decision.verdict, 'deny');
    assert.match(decision.reason, /HTTP fields/);
    assert.deepEqual(decision.objects, ['AuthorizationPolicy shop/web-allow']);
  });

  it('docs/ambient.md §4 (a service without a waypoint): GIVEN a targetRefs policy but no use-waypoint label WHEN a POST arrives THEN nothing enforces the policy', () => {
    const objects = [inAmbient, strict, waypointGateway, allowApiGet({ targetRefs: [{ group: '', kind: 'Service', name: 'web' }] })];
    assert.equal(ambient.decide(objects, fromApi(8080, 'POST', '/')).verdict, 'allow');
  });

  it('docs/ambient.md §4: GIVEN the service uses the waypoint WHEN GET and POST arrive THEN the waypoint enforces the targetRefs policy with the caller identity', () => {
    const objects = [inAmbient, strict, waypointGateway, useWaypoint, allowApiGet({ targetRefs: [{ group: '', kind: 'Service', name: 'web' }] })];
    assert.equal(ambient.decide(objects, fromApi(8080, 'GET', '/')).verdict, 'allow');
    const post = ambient.decide(objects, fromApi(8080, 'POST', '/'));
    assert.equal(post.verdict, 'deny');
    assert.match(post.reason, /waypoint shop\/waypoint/);
  });

  it('docs/ambient.md §5 (waypoint identity at the destination ztunnel): GIVEN a waypoint and a ztunnel policy naming the real caller WHEN the caller calls THEN it is refused; naming the waypoint THEN admitted', () => {
    const base = [inAmbient, strict, waypointGateway, useWaypoint];
    const namesCaller = policy('web-l4', {
      selector: { matchLabels: { app: 'web' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/api'] } }] }],
    });
    const blocked = ambient.decide([...base, namesCaller], fromApi(5432));
    assert.equal(blocked.verdict, 'deny');
    assert.match(blocked.reason, /sees the waypoint/);
    const namesWaypoint = policy('web-l4', {
      selector: { matchLabels: { app: 'web' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/waypoint'] } }] }],
    });
    assert.equal(ambient.decide([...base, namesWaypoint], fromApi(5432)).verdict, 'allow');
  });

  it('docs/ambient.md §6 (DISABLE ignored): GIVEN a DISABLE PeerAuthentication WHEN a mesh caller arrives THEN it still presents its identity, and plaintext is accepted as under PERMISSIVE', () => {
    const disable: ManifestObject = {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'shop' },
      spec: { mtls: { mode: 'DISABLE' } },
    };
    const identityOnly = policy('web-l4', {
      selector: { matchLabels: { app: 'web' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/api'] } }] }],
    });
    const objects = [inAmbient, strict, disable, identityOnly];
    assert.equal(ambient.decide(objects, fromApi(5432)).verdict, 'allow', 'under a real DISABLE no identity would match');
    const anon = ambient.decide(objects, plaintext(5432));
    assert.equal(anon.verdict, 'deny');
    assert.match(anon.reason, /ALLOW policies apply and none matches/, 'refused by the policy, not by mTLS');
  });

  it('docs/ambient.md §6: GIVEN a STRICT workload with a PERMISSIVE port exception WHEN plaintext arrives THEN only the exception port accepts it', () => {
    const workload: ManifestObject = {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'web-mtls', namespace: 'shop' },
      spec: { selector: { matchLabels: { app: 'web' } }, portLevelMtls: { '5432': { mode: 'PERMISSIVE' } } },
    };
    assert.equal(ambient.decide([inAmbient, strict, workload], plaintext(5432)).verdict, 'allow');
    assert.equal(ambient.decide([inAmbient, strict, workload], plaintext(8080)).verdict, 'deny');
  });

  it('docs/ambient.md §7 (plaintext clients): GIVEN a permissive service behind a waypoint WHEN a plaintext client calls THEN the waypoint policy is not applied and ztunnel decides without identity', () => {
    const permissive: ManifestObject = { ...strict, spec: { mtls: { mode: 'PERMISSIVE' } } };
    const waypointDeniesAll = policy('web-deny', { targetRefs: [{ group: '', kind: 'Service', name: 'web' }], action: 'DENY', rules: [{}] });
    const admit = policy('web-ztunnel-admit', {
      selector: { matchLabels: { app: 'web' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/waypoint'] } }] }, { from: [{ source: { notPrincipals: ['*'] } }] }],
    });
    const objects = [inAmbient, permissive, waypointGateway, useWaypoint, waypointDeniesAll, admit];
    assert.equal(ambient.decide(objects, plaintext(8080)).verdict, 'allow', 'plaintext never reaches the waypoint');
    assert.equal(ambient.decide(objects, fromApi(8080, 'GET', '/')).verdict, 'deny', 'a mesh caller goes through the waypoint');
    const strictObjects = [inAmbient, strict, waypointGateway, useWaypoint, admit];
    assert.equal(ambient.decide(strictObjects, plaintext(8080)).verdict, 'deny');
  });
});

describe('the verifier on broken ambient targets', () => {
  /** A shop service whose pods run as its own service account and carry `app: <name>`. */
  const shopService = (name: string, port: number): ServiceModel => ({
    id: `shop/${name}`,
    namespace: 'shop',
    name,
    serviceAccount: name,
    selector: { app: name },
    ports: [{ name: 'http', port, protocol: 'http' }],
  });
  const model: PolicyModel = {
    version: 1,
    entry: 'broken-ambient.ts',
    mesh: { rootNamespace: 'istio-system', trustDomain: 'cluster.local', defaultAction: 'deny', mtls: 'STRICT' },
    namespaces: [{ name: 'shop' }],
    services: [shopService('api', 8080), shopService('web', 80)],
    rules: [{ id: 'a', action: 'allow', sources: [{ kind: 'service', service: 'shop/web' }], destination: 'shop/api', ports: ['http'], methods: ['GET'] }],
  };
  const broken = (edit: (o: KubernetesObject) => KubernetesObject | undefined): Target => ({
    ...istioAmbientTarget,
    compile: (m, context) => {
      const output = istioAmbientTarget.compile(m, context);
      return { ...output, objects: output.objects.map(edit).filter((o): o is KubernetesObject => o !== undefined) };
    },
  });

  it('GIVEN the real ambient target THEN the verifier finds no mismatch', () => {
    assert.doesNotThrow(() => checkModel(model, undefined, [istioAmbientTarget]));
  });

  it('docs/ambient.md §3: GIVEN a target that leaves L7 rules on a selector policy THEN the verifier reports the outage', () => {
    const l7OnSelector = broken((o) => {
      const spec = o['spec'] as Record<string, unknown>;
      if (o.metadata.name !== 'api-allow') return o;
      const { targetRefs: _dropped, ...rest } = spec;
      return { ...o, spec: { ...rest, selector: { matchLabels: { app: 'api' } } } };
    });
    assert.throws(() => checkModel(model, undefined, [l7OnSelector]), /istio-ambient: \d+ mismatches; first: shop\/web .* → shop\/api:8080 GET .*model allows/);
  });

  it('docs/ambient.md §5: GIVEN a target whose ztunnel policy admits the caller instead of the waypoint THEN the verifier reports the outage', () => {
    const callerAtZtunnel = broken((o) => {
      if (o.metadata.name !== 'api-ztunnel-admit') return o;
      const spec = o['spec'] as Record<string, unknown>;
      return { ...o, spec: { ...spec, rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }] }] } };
    });
    assert.throws(() => checkModel(model, undefined, [callerAtZtunnel]), /istio-ambient: \d+ mismatches; first: .*model allows.*sees the waypoint/);
  });

  it('docs/ambient.md §4: GIVEN a target that forgets the waypoint ALLOW policy THEN the verifier reports the breach', () => {
    const noWaypointPolicy = broken((o) => (o.metadata.name === 'api-allow' ? undefined : o));
    assert.throws(() => checkModel(model, undefined, [noWaypointPolicy]), /istio-ambient: \d+ mismatches; first: .*model denies/);
  });
});
