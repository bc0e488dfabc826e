/**
 * The Linkerd semantics simulator (verify/linkerd): GIVEN hand-written manifests, WHEN one request is decided,
 * THEN the verdict is what Linkerd's policy controller and proxy would do. Each test names the linkerd.md trap it
 * encodes. The published examples in shared/mesh-examples/linkerd-* are replayed at the end when present.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ManifestObject, SimulatedDecision, SimulatedRequest, Workload } from '../verify/simulator';
import { createLinkerdSimulator, type DefaultPolicy } from '../verify/linkerd';

// ─────────────────────────────────────────────────────────────────────────────── fixtures

const TD = 'cluster.local';
const sim = createLinkerdSimulator({ trustDomain: TD });
const simWith = (defaultPolicy: DefaultPolicy) => createLinkerdSimulator({ trustDomain: TD, clusterDefaultPolicy: defaultPolicy });

const web: Workload = {
  namespace: 'shop',
  name: 'web',
  serviceAccount: 'web',
  labels: { app: 'web', tier: 'front' },
  ports: [
    { name: 'http', port: 8080, protocol: 'http' },
    { name: 'db', port: 5432, protocol: 'tcp' },
    { name: 'rpc', port: 9090, protocol: 'grpc' },
    { name: 'raw', port: 7000, protocol: 'tcp' },
  ],
};

type Spec = Record<string, unknown>;
const obj = (
  apiVersion: string,
  kind: string,
  name: string,
  spec: Spec,
  extra: Partial<ManifestObject['metadata']> = {},
  namespace = 'shop',
): ManifestObject => ({
  apiVersion,
  kind,
  metadata: { name, namespace, ...extra },
  spec,
});
const server = (name: string, spec: Spec, version = 'v1beta3', extra: Partial<ManifestObject['metadata']> = {}) =>
  obj(`policy.linkerd.io/${version}`, 'Server', name, spec, extra);
const httpServer = (name = 'web-http', extra: Spec = {}) =>
  server(name, { podSelector: { matchLabels: { app: 'web' } }, port: 'http', proxyProtocol: 'HTTP/1', ...extra });
const authz = (name: string, targetRef: Spec, refs: Spec[], namespace = 'shop') =>
  obj('policy.linkerd.io/v1alpha1', 'AuthorizationPolicy', name, { targetRef, requiredAuthenticationRefs: refs }, {}, namespace);
const toServer = (name: string) => ({ group: 'policy.linkerd.io', kind: 'Server', name });
const toRoute = (name: string, group = 'policy.linkerd.io', kind = 'HTTPRoute') => ({ group, kind, name });
const meshtls = (name: string, spec: Spec, namespace = 'shop') => obj('policy.linkerd.io/v1alpha1', 'MeshTLSAuthentication', name, spec, {}, namespace);
const netauth = (name: string, networks: Spec[], namespace = 'shop') =>
  obj('policy.linkerd.io/v1alpha1', 'NetworkAuthentication', name, { networks }, {}, namespace);
const mtlsRef = (name: string, namespace?: string) => ({
  group: 'policy.linkerd.io',
  kind: 'MeshTLSAuthentication',
  name,
  ...(namespace === undefined ? {} : { namespace }),
});
const netRef = (name: string) => ({ group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name });
const saRef = (name: string, namespace?: string) => ({ kind: 'ServiceAccount', name, ...(namespace === undefined ? {} : { namespace }) });
const parent = (name: string) => ({ group: 'policy.linkerd.io', kind: 'Server', name });
const httpRoute = (name: string, spec: Spec, group = 'policy.linkerd.io', version = 'v1beta3') =>
  obj(group === 'policy.linkerd.io' ? `policy.linkerd.io/${version}` : `${group}/v1`, 'HTTPRoute', name, { parentRefs: [parent('web-http')], ...spec });
const grpcRoute = (name: string, spec: Spec, serverName = 'web-rpc') =>
  obj('gateway.networking.k8s.io/v1', 'GRPCRoute', name, { parentRefs: [parent(serverName)], ...spec });
const namespace = (name: string, annotations: Record<string, string>): ManifestObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, annotations },
});
const id = (sa: string, ns = 'shop') => `${sa}.${ns}.serviceaccount.identity.linkerd.${TD}`;

const meshed = (sa: string, ns = 'shop', ip = '10.1.2.3') => ({ identity: { namespace: ns, serviceAccount: sa }, ip });
const plaintext = (ip = '10.1.2.3') => ({ ip });
const PUBLIC = '203.0.113.9';

function req(client: SimulatedRequest['client'], port = 8080, method?: string, reqPath?: string): SimulatedRequest {
  return { client, destination: web, port, ...(method === undefined ? {} : { method }), ...(reqPath === undefined ? {} : { path: reqPath }) };
}
const get = (client: SimulatedRequest['client'], p = '/', port = 8080) => req(client, port, 'GET', p);

function expect(d: SimulatedDecision, verdict: SimulatedDecision['verdict'], ...objects: string[]): void {
  assert.equal(d.verdict, verdict, d.reason);
  for (const o of objects) assert.ok(d.objects.includes(o), `${o} not in ${JSON.stringify(d.objects)} (${d.reason})`);
}

/** The Server on web's http port with a grant for `sa` only (the usual base for route tests). */
const base = (extra: Spec = {}) => [httpServer('web-http', extra)];

// ─────────────────────────────────────────────────────────────────────────────── §2 Server

describe('linkerd.md §2: Server selection', () => {
  it('linkerd.md §2: GIVEN a Server with an empty podSelector and no grant WHEN any client calls THEN every pod of the namespace is selected and the call is denied', () => {
    const objects = [server('all', { podSelector: {}, port: 8080 })];
    expect(sim.decide(objects, get(plaintext())), 'deny', 'Server shop/all');
  });

  it('linkerd.md §2: GIVEN matchLabels AND matchExpressions WHEN only the labels match THEN the Server does not select the pod (default policy allows)', () => {
    const objects = [
      server('s', { podSelector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }, port: 8080 }),
    ];
    expect(sim.decide(objects, get(plaintext())), 'allow');
  });

  it('linkerd.md §2: GIVEN a NotIn expression on a key the pod lacks WHEN a client calls THEN NotIn matches the pod and the Server denies', () => {
    const objects = [server('s', { podSelector: { matchExpressions: [{ key: 'environment', operator: 'NotIn', values: ['dev'] }] }, port: 8080 })];
    expect(sim.decide(objects, get(plaintext())), 'deny', 'Server shop/s');
  });

  it('linkerd.md §2: GIVEN an In expression without values WHEN a client calls THEN the illegal expression matches nothing and the permissive default fails open', () => {
    const objects = [server('s', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] }, port: 8080 })];
    expect(sim.decide(objects, get(plaintext(PUBLIC))), 'allow');
  });

  it('linkerd.md §2: GIVEN an Exists expression carrying values: [] WHEN a client calls THEN the illegal expression matches nothing (default policy)', () => {
    const objects = [server('s', { podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: [] }] }, port: 8080 })];
    expect(sim.decide(objects, get(plaintext())), 'allow');
  });

  it('linkerd.md §2: GIVEN a Server on port name "http" WHEN port 8080 (declared as http) is called THEN the name resolves and the Server applies', () => {
    expect(sim.decide(base(), get(plaintext())), 'deny', 'Server shop/web-http');
  });

  it('linkerd.md §2 / §8: GIVEN a Server on a port name the pod does not declare WHEN the port is called THEN the Server does not apply and the default policy decides', () => {
    const objects = [server('s', { podSelector: { matchLabels: { app: 'web' } }, port: 'admin' })];
    const d = sim.decide(objects, get(plaintext(), '/', 8080));
    expect(d, 'allow');
    assert.match(d.reason, /default policy/);
  });

  it('linkerd.md §2: GIVEN a Server on a port number the pod does not declare WHEN that port is called THEN the Server applies anyway', () => {
    const objects = [server('s', { podSelector: { matchLabels: { app: 'web' } }, port: 4191 })];
    expect(sim.decide(objects, req(plaintext(), 4191)), 'deny', 'Server shop/s');
  });

  it('linkerd.md §2: GIVEN a Server in another namespace WHEN shop/web is called THEN it selects nothing there', () => {
    const objects = [obj('policy.linkerd.io/v1beta3', 'Server', 's', { podSelector: {}, port: 8080 }, {}, 'other')];
    expect(sim.decide(objects, get(plaintext())), 'allow');
  });

  it('linkerd.md §2: GIVEN a Server with externalWorkloadSelector WHEN a pod port is called THEN it selects no pod', () => {
    const objects = [server('ext', { externalWorkloadSelector: { matchLabels: { app: 'web' } }, port: 8080 })];
    expect(sim.decide(objects, get(plaintext())), 'allow');
  });

  it('linkerd.md §2: GIVEN two Servers selecting the same pod port WHEN it is called THEN the oldest wins, which manifests cannot tell: unsupported', () => {
    const objects = [httpServer('a'), server('b', { podSelector: {}, port: 8080, accessPolicy: 'all-unauthenticated' })];
    const d = sim.decide(objects, get(plaintext()));
    expect(d, 'unsupported', 'Server shop/a', 'Server shop/b');
    assert.match(d.reason, /oldest/);
  });

  it('linkerd.md §2: GIVEN a namespace defaulting to all-unauthenticated WHEN a Server without grant selects the port THEN the default no longer applies to it', () => {
    const objects = [namespace('shop', { 'config.linkerd.io/default-inbound-policy': 'all-unauthenticated' }), ...base()];
    expect(sim.decide(objects, get(meshed('api'))), 'deny');
  });

  it('linkerd.md §2: GIVEN accessPolicy all-unauthenticated WHEN anyone calls THEN the extra authorization admits them', () => {
    expect(sim.decide(base({ accessPolicy: 'all-unauthenticated' }), get(plaintext(PUBLIC))), 'allow', 'Server shop/web-http');
  });

  it('linkerd.md §2: GIVEN accessPolicy cluster-authenticated WHEN a plaintext client or an outside meshed client calls THEN both are denied, an inside meshed one is admitted', () => {
    const objects = base({ accessPolicy: 'cluster-authenticated' });
    expect(sim.decide(objects, get(plaintext())), 'deny');
    expect(sim.decide(objects, get(meshed('api', 'shop', PUBLIC))), 'deny');
    expect(sim.decide(objects, get(meshed('api'))), 'allow');
  });

  it('linkerd.md §1 / §2: GIVEN a v1beta1 Server written with accessPolicy all-unauthenticated WHEN a client calls THEN the field is pruned and the stored default deny applies', () => {
    const objects = [server('old', { podSelector: { matchLabels: { app: 'web' } }, port: 8080, accessPolicy: 'all-unauthenticated' }, 'v1beta1')];
    const d = sim.decide(objects, get(plaintext()));
    expect(d, 'deny');
    assert.match(d.reason, /pruned/);
  });

  it('linkerd.md §2: GIVEN an invalid accessPolicy WHEN a client calls THEN the outcome depends on the webhook (Server rejected vs. deny): unsupported', () => {
    expect(sim.decide(base({ accessPolicy: 'allow' }), get(plaintext())), 'unsupported', 'Server shop/web-http');
  });

  it('linkerd.md §2: GIVEN proxyProtocol "http/1" (wrong case, no CRD enum) WHEN a client calls THEN only the webhook would reject it: unsupported', () => {
    expect(sim.decide(base({ proxyProtocol: 'http/1' }), get(plaintext())), 'unsupported');
  });
});

// ─────────────────────────────────────────────────────────────────────────────── §3 AuthorizationPolicy

describe('linkerd.md §3: AuthorizationPolicy', () => {
  it('linkerd.md §3: an empty requiredAuthenticationRefs admits anyone from anywhere', () => {
    const objects = [...base(), authz('open', toServer('web-http'), [])];
    expect(sim.decide(objects, get(plaintext(PUBLIC))), 'allow', 'AuthorizationPolicy shop/open');
    expect(sim.decide(objects, get(plaintext('2001:db8::1'))), 'allow');
  });

  it('linkerd.md §3: GIVEN only a NetworkAuthentication ref WHEN a plaintext client calls from that network THEN no identity is needed', () => {
    const objects = [...base(), authz('net', toServer('web-http'), [netRef('inside')]), netauth('inside', [{ cidr: '10.0.0.0/8' }])];
    expect(sim.decide(objects, get(plaintext('10.9.9.9'))), 'allow', 'AuthorizationPolicy shop/net', 'NetworkAuthentication shop/inside');
    expect(sim.decide(objects, get(plaintext(PUBLIC))), 'deny');
  });

  it('linkerd.md §3: GIVEN only an identity ref WHEN that identity calls from a public address THEN every address is allowed, not just the cluster networks', () => {
    const objects = [...base(), authz('ids', toServer('web-http'), [mtlsRef('api')]), meshtls('api', { identities: [id('api')] })];
    expect(sim.decide(objects, get(meshed('api', 'shop', PUBLIC))), 'allow', 'MeshTLSAuthentication shop/api');
    expect(sim.decide(objects, get(meshed('api', 'shop', '2001:db8::7'))), 'allow');
  });

  it('linkerd.md §3: GIVEN an identity ref AND a network ref WHEN the right identity calls from the wrong network THEN both must hold: denied', () => {
    const objects = [
      ...base(),
      authz('both', toServer('web-http'), [mtlsRef('api'), netRef('inside')]),
      meshtls('api', { identities: [id('api')] }),
      netauth('inside', [{ cidr: '10.0.0.0/8' }]),
    ];
    expect(sim.decide(objects, get(meshed('api', 'shop', '10.1.1.1'))), 'allow');
    expect(sim.decide(objects, get(meshed('api', 'shop', PUBLIC))), 'deny');
    expect(sim.decide(objects, get(plaintext('10.1.1.1'))), 'deny');
  });

  it('linkerd.md §3: GIVEN two AuthorizationPolicies on one Server WHEN a client satisfies either THEN they are ORed', () => {
    const objects = [...base(), authz('a', toServer('web-http'), [saRef('api')]), authz('b', toServer('web-http'), [saRef('batch')])];
    expect(sim.decide(objects, get(meshed('api'))), 'allow', 'AuthorizationPolicy shop/a');
    expect(sim.decide(objects, get(meshed('batch'))), 'allow', 'AuthorizationPolicy shop/b');
    expect(sim.decide(objects, get(meshed('other'))), 'deny');
  });

  it('linkerd.md §3: GIVEN a policy naming a MeshTLSAuthentication that does not exist WHEN anyone calls THEN the whole policy is skipped (fails closed)', () => {
    const objects = [...base(), authz('p', toServer('web-http'), [mtlsRef('missing'), netRef('all')]), netauth('all', [{ cidr: '0.0.0.0/0' }])];
    const d = sim.decide(objects, get(meshed('api')));
    expect(d, 'deny');
    assert.match(d.reason, /does not exist/);
  });

  it('linkerd.md §3: GIVEN targetRef kind Server without group policy.linkerd.io WHEN a client calls THEN the target is unsupported and grants nothing', () => {
    const objects = [...base(), authz('p', { kind: 'Server', name: 'web-http' }, [])];
    expect(sim.decide(objects, get(plaintext())), 'deny');
  });

  it('linkerd.md §3: GIVEN a Namespace-targeted policy WHEN a Server port is called THEN it grants; WHEN a port with no Server is called THEN the default policy decides instead', () => {
    const objects = [
      namespace('shop', { 'config.linkerd.io/default-inbound-policy': 'deny' }),
      ...base(),
      authz('ns', { kind: 'Namespace', name: 'shop' }, []),
    ];
    expect(sim.decide(objects, get(plaintext())), 'allow', 'AuthorizationPolicy shop/ns');
    expect(sim.decide(objects, req(plaintext(), 7000)), 'deny', 'Namespace shop');
  });

  it('linkerd.md §3: GIVEN a Namespace target naming another namespace WHEN a client calls THEN the policy grants nothing (webhook rule 3)', () => {
    const objects = [...base(), authz('ns', { kind: 'Namespace', name: 'other' }, [])];
    expect(sim.decide(objects, get(plaintext())), 'deny');
  });

  it('linkerd.md §3 webhook limits: GIVEN two MeshTLSAuthentication refs, or a MeshTLS and a ServiceAccount ref WHEN a listed client calls THEN the policy is refused and grants nothing', () => {
    const two = [
      ...base(),
      authz('p', toServer('web-http'), [mtlsRef('a'), mtlsRef('b')]),
      meshtls('a', { identities: [id('api')] }),
      meshtls('b', { identities: [id('batch')] }),
    ];
    expect(sim.decide(two, get(meshed('api'))), 'deny');
    const mixed = [...base(), authz('p', toServer('web-http'), [mtlsRef('a'), saRef('api')]), meshtls('a', { identities: [id('api')] })];
    expect(sim.decide(mixed, get(meshed('api'))), 'deny');
    const twoNets = [
      ...base(),
      authz('p', toServer('web-http'), [netRef('n1'), netRef('n2')]),
      netauth('n1', [{ cidr: '10.0.0.0/8' }]),
      netauth('n2', [{ cidr: '0.0.0.0/0' }]),
    ];
    expect(sim.decide(twoNets, get(plaintext())), 'deny');
    const other = [...base(), authz('p', toServer('web-http'), [{ kind: 'Secret', name: 'x' }])];
    expect(sim.decide(other, get(plaintext())), 'deny');
  });

  it('linkerd.md §3: GIVEN a ServiceAccount ref (never looked up) WHEN that account calls THEN it is an exact identity, and the policy namespace is the default', () => {
    const objects = [...base(), authz('p', toServer('web-http'), [saRef('api')])];
    expect(sim.decide(objects, get(meshed('api'))), 'allow');
    expect(sim.decide(objects, get(meshed('api', 'other'))), 'deny');
    const cross = [...base(), authz('p', toServer('web-http'), [saRef('api', 'other')])];
    expect(sim.decide(cross, get(meshed('api', 'other'))), 'allow');
  });

  it('linkerd.md §3: GIVEN a MeshTLSAuthentication in another namespace, referenced with namespace WHEN the listed client calls THEN cross-namespace authentication objects work', () => {
    const objects = [...base(), authz('p', toServer('web-http'), [mtlsRef('shared', 'security')]), meshtls('shared', { identities: [id('api')] }, 'security')];
    expect(sim.decide(objects, get(meshed('api'))), 'allow', 'MeshTLSAuthentication security/shared');
  });
});

// ─────────────────────────────────────────────────────────────────────────────── §4 MeshTLSAuthentication

describe('linkerd.md §4: MeshTLSAuthentication', () => {
  const withAuthn = (spec: Spec) => [...base(), authz('p', toServer('web-http'), [mtlsRef('m')]), meshtls('m', spec)];

  it('linkerd.md §4: GIVEN identities ["*"] WHEN any meshed client calls THEN it is admitted, a plaintext client is not', () => {
    const objects = withAuthn({ identities: ['*'] });
    expect(sim.decide(objects, get(meshed('anyone', 'far', PUBLIC))), 'allow');
    expect(sim.decide(objects, get(plaintext())), 'deny');
  });

  it('linkerd.md §4: GIVEN a "*.<ns>…" suffix identity WHEN a service account of that namespace calls THEN it matches; one of another namespace does not', () => {
    const objects = withAuthn({ identities: [`*.shop.serviceaccount.identity.linkerd.${TD}`] });
    expect(sim.decide(objects, get(meshed('anything'))), 'allow');
    expect(sim.decide(objects, get(meshed('anything', 'other'))), 'deny');
  });

  it('linkerd.md §4: GIVEN an exact identity WHEN a different account calls THEN it does not match', () => {
    const objects = withAuthn({ identities: [id('api')] });
    expect(sim.decide(objects, get(meshed('api'))), 'allow');
    expect(sim.decide(objects, get(meshed('api2'))), 'deny');
  });

  it('linkerd.md §4: GIVEN identityRefs ServiceAccount without namespace and Namespace refs WHEN clients call THEN the object namespace is the default and a Namespace ref admits all its accounts', () => {
    const objects = withAuthn({
      identityRefs: [
        { kind: 'ServiceAccount', name: 'api' },
        { kind: 'Namespace', name: 'ops' },
      ],
    });
    expect(sim.decide(objects, get(meshed('api'))), 'allow');
    expect(sim.decide(objects, get(meshed('api', 'other'))), 'deny');
    expect(sim.decide(objects, get(meshed('whoever', 'ops'))), 'allow');
  });

  it('linkerd.md §4: GIVEN an identityRef without name (CRD says "all", webhook rejects) WHEN anyone calls THEN the authentication is refused and the policy grants nothing', () => {
    expect(sim.decide(withAuthn({ identityRefs: [{ kind: 'ServiceAccount' }] }), get(meshed('api'))), 'deny');
  });

  it('linkerd.md §4: GIVEN both identities and identityRefs (CRD oneOf) WHEN the listed client calls THEN the authentication is invalid and the policy is skipped', () => {
    expect(sim.decide(withAuthn({ identities: [id('api')], identityRefs: [{ kind: 'ServiceAccount', name: 'api' }] }), get(meshed('api'))), 'deny');
  });

  it('linkerd.md §4 / §9: GIVEN a custom trust domain and control-plane namespace WHEN identities are compared THEN the identity string is <sa>.<ns>.serviceaccount.identity.<cp>.<td>', () => {
    const custom = createLinkerdSimulator({ trustDomain: 'example.org', controlPlaneNamespace: 'linkerd-cp' });
    const objects = withAuthn({ identities: ['api.shop.serviceaccount.identity.linkerd-cp.example.org'] });
    expect(custom.decide(objects, get(meshed('api'))), 'allow');
    expect(sim.decide(objects, get(meshed('api'))), 'deny');
  });
});

// ─────────────────────────────────────────────────────────────────────────────── §5 NetworkAuthentication

describe('linkerd.md §5: NetworkAuthentication', () => {
  const withNets = (networks: Spec[]) => [...base(), authz('p', toServer('web-http'), [netRef('n')]), netauth('n', networks)];

  it('linkerd.md §5: GIVEN a cidr with an except WHEN clients call from inside, from the except, and from outside THEN only the first is admitted', () => {
    const objects = withNets([{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }]);
    expect(sim.decide(objects, get(plaintext('10.2.0.1'))), 'allow');
    expect(sim.decide(objects, get(plaintext('10.1.0.1'))), 'deny');
    expect(sim.decide(objects, get(plaintext('11.0.0.1'))), 'deny');
  });

  it('linkerd.md §5: GIVEN entries ORed, one a bare IP and one IPv6 WHEN clients call THEN each entry admits its own addresses', () => {
    const objects = withNets([{ cidr: '192.0.2.7' }, { cidr: '2001:db8::/32' }]);
    expect(sim.decide(objects, get(plaintext('192.0.2.7'))), 'allow');
    expect(sim.decide(objects, get(plaintext('192.0.2.8'))), 'deny');
    expect(sim.decide(objects, get(plaintext('2001:db8:0:0:0:0:0:5'))), 'allow');
  });

  it('linkerd.md §5: GIVEN a policy whose only ref is a NetworkAuthentication WHEN an unauthenticated client calls from it THEN it is admitted', () => {
    expect(sim.decide(withNets([{ cidr: '0.0.0.0/0' }]), get(plaintext(PUBLIC))), 'allow');
  });

  it('linkerd.md §5: GIVEN an except outside its cidr, or one covering it whole WHEN a client calls THEN the authentication is invalid and its policy grants nothing', () => {
    expect(sim.decide(withNets([{ cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] }]), get(plaintext('10.2.0.1'))), 'deny');
    expect(sim.decide(withNets([{ cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] }]), get(plaintext('10.2.0.1'))), 'deny');
    expect(sim.decide(withNets([]), get(plaintext('10.2.0.1'))), 'deny');
  });
});

// ─────────────────────────────────────────────────────────────────────────────── §6 routes

describe('linkerd.md §6: per-route authorization', () => {
  const getRoute = httpRoute('get', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/books' }, method: 'GET' }] }] });
  const getPolicy = authz('get-policy', toRoute('get'), [saRef('reader')]);

  it('linkerd.md §6: GIVEN a route with parentRef group+kind Server WHEN a listed client calls a matching request THEN the route grant admits it', () => {
    expect(
      sim.decide([...base(), getRoute, getPolicy], get(meshed('reader'), '/books/1')),
      'allow',
      'HTTPRoute shop/get',
      'AuthorizationPolicy shop/get-policy',
    );
  });

  it('linkerd.md §6: GIVEN a parentRef that omits kind (CRD default Gateway) WHEN a client calls THEN the route does not attach and the server-level list decides', () => {
    const route = obj('policy.linkerd.io/v1beta3', 'HTTPRoute', 'get', { parentRefs: [{ name: 'web-http' }], rules: [{}] });
    const d = sim.decide([...base(), route, getPolicy], get(meshed('reader'), '/books'));
    expect(d, 'deny');
    assert.match(d.reason, /no routes/);
  });

  it('linkerd.md §6: GIVEN a Server parentRef with a port or a sectionName, or in another namespace WHEN a client calls THEN the parent ref is invalid', () => {
    for (const bad of [
      { ...parent('web-http'), port: 8080 },
      { ...parent('web-http'), sectionName: 'x' },
    ]) {
      const route = obj('policy.linkerd.io/v1beta3', 'HTTPRoute', 'get', { parentRefs: [bad] });
      expect(sim.decide([...base(), route, getPolicy], get(meshed('reader'), '/books')), 'deny');
    }
    const elsewhere = obj('policy.linkerd.io/v1beta3', 'HTTPRoute', 'get', { parentRefs: [parent('web-http')] }, {}, 'other');
    expect(sim.decide([...base({ accessPolicy: 'all-unauthenticated' }), elsewhere], get(plaintext(), '/nothing')), 'allow');
  });

  it('linkerd.md §6: GIVEN a Server with a route WHEN a request matches no route THEN it gets 404, even for clients the server-level list admits', () => {
    const d = sim.decide([...base({ accessPolicy: 'all-unauthenticated' }), getRoute], get(plaintext(), '/other'));
    expect(d, 'deny', 'HTTPRoute shop/get');
    assert.match(d.reason, /404/);
  });

  it('linkerd.md §6 / §7: GIVEN a Server with routes WHEN a probe-like GET matches no route THEN probes lost their automatic route: 404', () => {
    const d = sim.decide([...base(), getRoute], get(plaintext(), '/healthz'));
    expect(d, 'deny');
    assert.match(d.reason, /probes lose/);
  });

  it('linkerd.md §6: GIVEN a Server-level grant and a route without its own grant WHEN the granted client calls the route THEN server-level authorizations are appended to every route', () => {
    const objects = [...base(), getRoute, authz('srv', toServer('web-http'), [saRef('admin')])];
    expect(sim.decide(objects, get(meshed('admin'), '/books')), 'allow', 'AuthorizationPolicy shop/srv', 'HTTPRoute shop/get');
    expect(sim.decide(objects, get(meshed('reader'), '/books')), 'deny');
  });

  it('linkerd.md §6: GIVEN a general route with a wide grant and a specific route with a narrow grant WHEN the specific path is called THEN the single best match decides, overriding the wide grant', () => {
    const general = httpRoute('general', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }] });
    const admin = httpRoute('admin', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/admin' } }] }] });
    const objects = [...base(), general, admin, authz('wide', toRoute('general'), []), authz('narrow', toRoute('admin'), [saRef('ops')])];
    expect(sim.decide(objects, get(plaintext(), '/books')), 'allow', 'HTTPRoute shop/general');
    expect(sim.decide(objects, get(plaintext(), '/admin/x')), 'deny', 'HTTPRoute shop/admin');
    expect(sim.decide(objects, get(meshed('ops'), '/admin')), 'allow');
  });

  it('linkerd.md §6: GIVEN Exact, PathPrefix and RegularExpression routes WHEN a path matches several THEN the longest matched length wins', () => {
    const exact = httpRoute('exact', { rules: [{ matches: [{ path: { type: 'Exact', value: '/a/b' } }] }] });
    const prefix = httpRoute('prefix', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/a' } }] }] });
    const regex = httpRoute('regex', { rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/a/[0-9]+/c' } }] }] });
    const objects = [
      ...base(),
      exact,
      prefix,
      regex,
      authz('e', toRoute('exact'), [saRef('e')]),
      authz('p', toRoute('prefix'), [saRef('p')]),
      authz('r', toRoute('regex'), [saRef('r')]),
    ];
    expect(sim.decide(objects, get(meshed('e'), '/a/b')), 'allow', 'HTTPRoute shop/exact');
    expect(sim.decide(objects, get(meshed('p'), '/a/b')), 'deny');
    expect(sim.decide(objects, get(meshed('r'), '/a/12/c')), 'allow', 'HTTPRoute shop/regex');
    expect(sim.decide(objects, get(meshed('p'), '/a/12/c')), 'deny');
    expect(sim.decide(objects, get(meshed('p'), '/a/12/cd')), 'allow', 'HTTPRoute shop/prefix');
  });

  it('linkerd.md §6: GIVEN a regex WHEN it matches only part of the path THEN it must match the whole path', () => {
    const regex = httpRoute('regex', { rules: [{ matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]' } }] }] });
    const objects = [...base(), regex, authz('r', toRoute('regex'), [])];
    expect(sim.decide(objects, get(plaintext(), '/v1')), 'allow');
    expect(sim.decide(objects, get(plaintext(), '/v1/x')), 'deny');
  });

  it('linkerd.md §6: GIVEN equal path lengths WHEN one route also matches the method THEN the method match ranks higher', () => {
    const any = httpRoute('any', { rules: [{ matches: [{ path: { value: '/x' } }] }] });
    const onlyGet = httpRoute('only-get', { rules: [{ matches: [{ path: { value: '/x' }, method: 'GET' }] }] });
    const objects = [...base(), any, onlyGet, authz('a', toRoute('any'), []), authz('g', toRoute('only-get'), [saRef('reader')])];
    expect(sim.decide(objects, get(plaintext(), '/x')), 'deny', 'HTTPRoute shop/only-get');
    expect(sim.decide(objects, req(plaintext(), 8080, 'POST', '/x')), 'allow', 'HTTPRoute shop/any');
  });

  it('linkerd2-proxy http/match/header.rs: GIVEN a match on headers THEN it matches only a request that carries them; query parameters: the request carries none, unsupported', () => {
    const hdr = httpRoute('hdr', { rules: [{ matches: [{ path: { value: '/x' }, headers: [{ name: 'x-user', value: 'a' }] }] }] });
    const objects = [...base(), hdr, authz('h', toRoute('hdr'), [])];
    expect(sim.decide(objects, get(plaintext(), '/x')), 'deny');
    expect(sim.decide(objects, { ...get(plaintext(), '/x'), headers: { 'X-User': 'a' } }), 'allow', 'HTTPRoute shop/hdr');
    const query = httpRoute('query', { rules: [{ matches: [{ path: { value: '/x' }, queryParams: [{ name: 'user', value: 'a' }] }] }] });
    expect(sim.decide([...base(), query], get(plaintext(), '/x')), 'unsupported', 'HTTPRoute shop/query');
    const wide = httpRoute('wide', { rules: [{ matches: [{ path: { value: '/x/y' } }] }] });
    expect(sim.decide([...base(), query, wide], get(plaintext(), '/x/y')), 'deny', 'HTTPRoute shop/wide');
  });

  it('linkerd.md §6: GIVEN two routes that tie WHEN they decide differently THEN the older wins, unknown from manifests: unsupported; WHEN they agree THEN that verdict', () => {
    const r1 = httpRoute('r1', { rules: [{ matches: [{ path: { value: '/x' } }] }] });
    const r2 = httpRoute('r2', { rules: [{ matches: [{ path: { value: '/x' } }] }] });
    const differ = [...base(), r1, r2, authz('p1', toRoute('r1'), [saRef('a')])];
    const d = sim.decide(differ, get(meshed('a'), '/x'));
    expect(d, 'unsupported', 'HTTPRoute shop/r1', 'HTTPRoute shop/r2');
    assert.match(d.reason, /older/);
    expect(sim.decide(differ, get(meshed('b'), '/x')), 'deny');
    const agree = [...base(), r1, r2, authz('p1', toRoute('r1'), [saRef('a')]), authz('p2', toRoute('r2'), [saRef('a')])];
    expect(sim.decide(agree, get(meshed('a'), '/x')), 'allow');
  });

  it('linkerd.md §6: GIVEN rules omitted THEN one PathPrefix "/" rule; GIVEN a rule with no matches THEN it matches everything; GIVEN rules: [] THEN nothing matches and every request gets 404', () => {
    const grant = authz('p', toRoute('r'), []);
    expect(sim.decide([...base(), httpRoute('r', {}), grant], get(plaintext(), '/any/thing')), 'allow');
    expect(sim.decide([...base(), httpRoute('r', { rules: [{}] }), grant], req(plaintext(), 8080, 'DELETE', '/z')), 'allow');
    expect(sim.decide([...base(), httpRoute('r', { rules: [{ matches: [] }] }), grant], get(plaintext(), '/z')), 'allow');
    const none = sim.decide([...base({ accessPolicy: 'all-unauthenticated' }), httpRoute('r', { rules: [] }), grant], get(plaintext(), '/'));
    expect(none, 'deny');
    assert.match(none.reason, /404/);
  });

  it('linkerd.md §6: GIVEN a path match without type WHEN "/authors.json" is the value THEN it is a PathPrefix, matching /authors.json/x too', () => {
    const route = httpRoute('r', { rules: [{ matches: [{ path: { value: '/authors.json' } }] }] });
    const objects = [...base(), route, authz('p', toRoute('r'), [])];
    expect(sim.decide(objects, get(plaintext(), '/authors.json/x')), 'allow');
    expect(sim.decide(objects, get(plaintext(), '/authors.jsonx')), 'deny');
  });

  it('linkerd.md §6: GIVEN PathPrefix "/authors/" WHEN /authors, /authors/1.json and /authors.json are called THEN whole segments only: the last does not match', () => {
    const route = httpRoute('r', { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/authors/' } }] }] });
    const objects = [...base(), route, authz('p', toRoute('r'), [])];
    expect(sim.decide(objects, get(plaintext(), '/authors')), 'allow');
    expect(sim.decide(objects, get(plaintext(), '/authors/1.json')), 'allow');
    expect(sim.decide(objects, get(plaintext(), '/authors.json')), 'deny');
  });

  it('linkerd.md §6: GIVEN an HTTPRoute of either group WHEN a policy targets it by its own group THEN it grants; the other group with the same name does not', () => {
    const gw = httpRoute('r', { rules: [{}] }, 'gateway.networking.k8s.io');
    expect(sim.decide([...base(), gw, authz('p', toRoute('r', 'gateway.networking.k8s.io'), [])], get(plaintext(), '/')), 'allow', 'HTTPRoute shop/r');
    expect(sim.decide([...base(), gw, authz('p', toRoute('r', 'policy.linkerd.io'), [])], get(plaintext(), '/')), 'deny');
  });

  it('linkerd.md §6: GIVEN a gRPC Server with an HTTPRoute WHEN a client calls THEN the HTTPRoute is ignored: only GRPCRoutes count', () => {
    const rpc = server('web-rpc', { podSelector: { matchLabels: { app: 'web' } }, port: 'rpc', proxyProtocol: 'gRPC' });
    const route = obj('policy.linkerd.io/v1beta3', 'HTTPRoute', 'h', { parentRefs: [parent('web-rpc')], rules: [{}] });
    const d = sim.decide([rpc, route, authz('p', toRoute('h'), [])], req(plaintext(), 9090, 'POST', '/shop.Cart/Get'));
    expect(d, 'deny');
    assert.match(d.reason, /ignored/);
  });

  it('linkerd.md §6: GIVEN GRPCRoutes with method matches WHEN an RPC is called THEN service and method are matched against /service/method', () => {
    const rpc = server('web-rpc', { podSelector: { matchLabels: { app: 'web' } }, port: 9090, proxyProtocol: 'gRPC' });
    const get1 = grpcRoute('get', { rules: [{ matches: [{ method: { service: 'shop.Cart', method: 'Get' } }] }] });
    const all = grpcRoute('all', { rules: [{ matches: [{ method: { service: 'shop.Cart' } }] }] });
    const objects = [
      rpc,
      get1,
      all,
      authz('g', toRoute('get', 'gateway.networking.k8s.io', 'GRPCRoute'), [saRef('reader')]),
      authz('a', toRoute('all', 'gateway.networking.k8s.io', 'GRPCRoute'), [saRef('admin')]),
    ];
    expect(sim.decide(objects, req(meshed('reader'), 9090, 'POST', '/shop.Cart/Get')), 'allow', 'GRPCRoute shop/get');
    expect(sim.decide(objects, req(meshed('admin'), 9090, 'POST', '/shop.Cart/Get')), 'deny');
    expect(sim.decide(objects, req(meshed('admin'), 9090, 'POST', '/shop.Cart/Put')), 'allow', 'GRPCRoute shop/all');
    expect(sim.decide(objects, req(meshed('admin'), 9090, 'POST', '/shop.Other/Put')), 'deny');
  });

  it('linkerd.md §6: GIVEN a GRPCRoute on a service WHEN the path is /service/ or /service/a/b THEN the service still matches (the proxy reads the first two segments); a path without them matches no gRPC route', () => {
    const rpc = server('web-rpc', { podSelector: { matchLabels: { app: 'web' } }, port: 9090, proxyProtocol: 'gRPC' });
    const objects = [
      rpc,
      grpcRoute('svc', { rules: [{ matches: [{ method: { service: 'shop.Cart' } }] }] }),
      grpcRoute('any', { rules: [{}] }),
      authz('s', toRoute('svc', 'gateway.networking.k8s.io', 'GRPCRoute'), []),
    ];
    expect(sim.decide(objects, req(plaintext(), 9090, 'POST', '/shop.Cart/')), 'allow', 'GRPCRoute shop/svc');
    expect(sim.decide(objects, req(plaintext(), 9090, 'POST', '/shop.Cart/a/b')), 'allow', 'GRPCRoute shop/svc');
    expect(sim.decide(objects, req(plaintext(), 9090, 'POST', '/x.Y/Z')), 'deny', 'GRPCRoute shop/any');
    const d = sim.decide(objects, req(plaintext(), 9090, 'POST', '/'));
    expect(d, 'deny');
    assert.match(d.reason, /404/);
  });

  it('linkerd.md §3 / §6: GIVEN a policy targeting GRPCRoute with group policy.linkerd.io WHEN the client calls THEN that target is not allowed and grants nothing', () => {
    const rpc = server('web-rpc', { podSelector: { matchLabels: { app: 'web' } }, port: 9090, proxyProtocol: 'gRPC' });
    const objects = [rpc, grpcRoute('r', { rules: [{}] }), authz('p', toRoute('r', 'policy.linkerd.io', 'GRPCRoute'), [])];
    expect(sim.decide(objects, req(plaintext(), 9090, 'POST', '/a.B/C')), 'deny');
  });

  it('linkerd.md §6: GIVEN a GRPCRoute with rules omitted (no CRD default) WHEN an RPC is called THEN it matches nothing: 404', () => {
    const rpc = server('web-rpc', { podSelector: { matchLabels: { app: 'web' } }, port: 9090, proxyProtocol: 'gRPC', accessPolicy: 'all-unauthenticated' });
    const d = sim.decide([rpc, grpcRoute('r', {})], req(plaintext(), 9090, 'POST', '/a.B/C'));
    expect(d, 'deny');
    assert.match(d.reason, /404/);
  });

  it('linkerd.md §6: GIVEN an opaque Server with routes WHEN a client connects THEN no routes apply, only server-level authorizations per connection', () => {
    const opaque = server('web-http', { podSelector: { matchLabels: { app: 'web' } }, port: 8080, proxyProtocol: 'opaque' });
    const objects = [opaque, httpRoute('r', { rules: [{ matches: [{ path: { value: '/only' } }] }] }), authz('srv', toServer('web-http'), [])];
    const d = sim.decide(objects, get(plaintext(), '/elsewhere'));
    expect(d, 'allow', 'AuthorizationPolicy shop/srv');
    assert.match(d.reason, /per connection/);
  });

  it('linkerd.md §6: GIVEN an unknown-protocol Server with routes WHEN non-HTTP traffic arrives THEN it is checked against the server-level list only', () => {
    const s = server('raw', { podSelector: { matchLabels: { app: 'web' } }, port: 'raw' });
    const route = obj('policy.linkerd.io/v1beta3', 'HTTPRoute', 'r', { parentRefs: [parent('raw')], rules: [{ matches: [{ path: { value: '/x' } }] }] });
    expect(sim.decide([s, route, authz('srv', toServer('raw'), [saRef('api')])], req(meshed('api'), 7000)), 'allow');
    expect(sim.decide([s, route, authz('srv', toServer('raw'), [saRef('api')])], req(meshed('b'), 7000)), 'deny');
  });

  it('linkerd.md §6: GIVEN a Server that denies everyone WHEN localhost calls (127.0.0.1 or ::1) THEN the proxy admits it', () => {
    expect(sim.decide(base(), get(plaintext('127.0.0.1'))), 'allow');
    expect(sim.decide(base(), get(plaintext('::1'))), 'allow');
    expect(sim.decide([namespace('shop', { 'config.linkerd.io/default-inbound-policy': 'deny' })], req(plaintext('127.0.0.1'), 7000)), 'allow');
    // linkerd.md names only 127.0.0.1 and ::1; other loopback addresses are not guessed at.
    expect(sim.decide(base(), get(plaintext('127.0.0.2'))), 'unsupported');
  });

  it('linkerd.md §6: GIVEN a route with hostnames WHEN a request is decided THEN the request carries no Host: unsupported', () => {
    expect(sim.decide([...base(), httpRoute('r', { hostnames: ['web.shop'], rules: [{}] })], get(plaintext(), '/')), 'unsupported', 'HTTPRoute shop/r');
  });
});

// ─────────────────────────────────────────────────────────────────────────────── §7 default policies

describe('linkerd.md §7: default inbound policies', () => {
  const ns = (value: string) => namespace('shop', { 'config.linkerd.io/default-inbound-policy': value });

  it('linkerd.md §7: GIVEN no annotation WHEN a port without Server is called THEN the install default all-unauthenticated admits anyone', () => {
    expect(sim.decide([], req(plaintext(PUBLIC), 7000)), 'allow');
  });

  it('linkerd.md §7: GIVEN a cluster default configured as deny WHEN a port without Server is called THEN it is denied', () => {
    expect(simWith('deny').decide([], req(meshed('api'), 7000)), 'deny');
  });

  it('linkerd.md §7: GIVEN the namespace annotation cluster-unauthenticated WHEN clients call from inside and outside clusterNetworks THEN only the inside one is admitted', () => {
    expect(sim.decide([ns('cluster-unauthenticated')], req(plaintext('172.16.5.5'), 7000)), 'allow', 'Namespace shop');
    expect(sim.decide([ns('cluster-unauthenticated')], req(plaintext('fd00::5'), 7000)), 'allow');
    expect(sim.decide([ns('cluster-unauthenticated')], req(plaintext(PUBLIC), 7000)), 'deny');
    const narrow = createLinkerdSimulator({ trustDomain: TD, clusterNetworks: ['10.0.0.0/16'] });
    expect(narrow.decide([ns('cluster-unauthenticated')], req(plaintext('172.16.5.5'), 7000)), 'deny');
  });

  it('linkerd.md §7: GIVEN all-authenticated WHEN plaintext and meshed clients call THEN only mTLS clients are admitted, from any address', () => {
    expect(sim.decide([ns('all-authenticated')], req(plaintext(), 7000)), 'deny');
    expect(sim.decide([ns('all-authenticated')], req(meshed('x', 'y', PUBLIC), 7000)), 'allow');
  });

  it('linkerd.md §7: GIVEN cluster-authenticated WHEN a meshed client calls from outside clusterNetworks THEN it is denied', () => {
    expect(sim.decide([ns('cluster-authenticated')], req(meshed('x', 'y', PUBLIC), 7000)), 'deny');
    expect(sim.decide([ns('cluster-authenticated')], req(meshed('x', 'y', '10.0.0.9'), 7000)), 'allow');
  });

  it('linkerd.md §7 / §11: GIVEN audit WHEN anyone calls THEN it is allowed and only logged', () => {
    const d = sim.decide([ns('audit')], req(plaintext(PUBLIC), 7000));
    expect(d, 'allow');
    assert.match(d.reason, /audit/);
  });

  it('linkerd.md §7: GIVEN an invalid annotation value WHEN a port without Server is called THEN it is only logged and the cluster default (allow all) applies', () => {
    const d = sim.decide([ns('strict')], req(plaintext(PUBLIC), 7000));
    expect(d, 'allow');
    assert.match(d.reason, /invalid/);
    expect(simWith('deny').decide([ns('strict')], req(plaintext(PUBLIC), 7000)), 'deny');
  });

  it('linkerd.md §7: GIVEN the default-inbound-policy annotation on a Server (mesh-expansion docs) WHEN a port without Server is called THEN nothing reads it', () => {
    const s = obj(
      'policy.linkerd.io/v1beta2',
      'Server',
      's',
      { podSelector: { matchLabels: { app: 'legacy' } }, port: 8080 },
      { annotations: { 'config.linkerd.io/default-inbound-policy': 'deny' } },
    );
    expect(sim.decide([s], get(plaintext())), 'allow');
  });

  it('linkerd.md §7: GIVEN proxy-require-identity-inbound-ports WHEN a listed default-policy port is called in plaintext THEN the allow default became authenticated; other ports keep it', () => {
    const objects = [namespace('shop', { 'config.linkerd.io/proxy-require-identity-inbound-ports': '7000,8000-8010' })];
    expect(sim.decide(objects, req(plaintext(), 7000)), 'deny');
    expect(sim.decide(objects, req(meshed('a'), 7000)), 'allow');
    expect(sim.decide(objects, get(plaintext(), '/', 8080)), 'allow');
    const audit = [
      namespace('shop', { 'config.linkerd.io/default-inbound-policy': 'audit', 'config.linkerd.io/proxy-require-identity-inbound-ports': '7000' }),
    ];
    expect(sim.decide(audit, req(plaintext(), 7000)), 'allow');
  });

  it('linkerd.md §7: GIVEN a deny default WHEN a plaintext GET reaches an HTTP port THEN it is denied, unless it is the GET of a pod probe path, which the automatic probe route admits', () => {
    expect(sim.decide([ns('deny')], get(plaintext(), '/healthz')), 'deny');
    const probed = { ...get(plaintext(), '/healthz'), destination: { ...web, probes: [{ port: 8080, path: '/healthz' }] } };
    const d = sim.decide([ns('deny')], probed);
    expect(d, 'allow');
    assert.match(d.reason, /automatic probe route/);
  });

  it('linkerd.md §7: GIVEN two Namespace patches with different default policies WHEN a port without Server is called THEN apply order decides: unsupported', () => {
    expect(sim.decide([ns('deny'), ns('all-unauthenticated')], req(plaintext(), 7000)), 'unsupported');
  });
});

// ─────────────────────────────────────────────────────────────────────────────── §8 port outcomes

describe('linkerd.md §8: port outcomes table', () => {
  const nsDeny = namespace('shop', { 'config.linkerd.io/default-inbound-policy': 'cluster-authenticated' });

  it('linkerd.md §8 row "port with no Server": GIVEN cluster-authenticated default WHEN a plaintext client calls THEN the default policy denies', () => {
    expect(sim.decide([nsDeny], req(plaintext(), 7000)), 'deny', 'Namespace shop');
  });

  it('linkerd.md §8 row "Server, no authorization": GIVEN a v1beta3 Server with the default accessPolicy WHEN a mesh client calls THEN deny everything but localhost', () => {
    expect(sim.decide(base(), get(meshed('api'))), 'deny');
    expect(sim.decide(base(), get(plaintext('127.0.0.1'))), 'allow');
  });

  it('linkerd.md §8 row "Server + AuthorizationPolicy/ServerAuthorization": GIVEN a grant WHEN matching and non-matching clients call THEN allow if any authorization matches, else deny', () => {
    const objects = [...base(), authz('p', toServer('web-http'), [saRef('api')])];
    expect(sim.decide(objects, get(meshed('api'))), 'allow');
    expect(sim.decide(objects, get(meshed('other'))), 'deny');
  });

  it('linkerd.md §8 row "Server + routes": GIVEN a route WHEN an unmatched request arrives THEN 404', () => {
    const route = httpRoute('r', { rules: [{ matches: [{ path: { value: '/a' } }] }] });
    expect(sim.decide([...base(), route, authz('p', toServer('web-http'), [])], get(plaintext(), '/b')), 'deny');
    expect(sim.decide([...base(), route, authz('p', toServer('web-http'), [])], get(plaintext(), '/a')), 'allow');
  });

  it('linkerd.md §8 row "named port the pod lacks": GIVEN a Server on port name "metrics" WHEN 8080 is called THEN default policy', () => {
    const objects = [nsDeny, server('m', { podSelector: {}, port: 'metrics', accessPolicy: 'all-unauthenticated' })];
    expect(sim.decide(objects, get(plaintext())), 'deny', 'Namespace shop');
  });
});

// ─────────────────────────────────────────────────────────────────────────────── §10, §11, §12

describe('linkerd.md §10–§12: mTLS mapping, allow-only model, ServerAuthorization', () => {
  it('linkerd.md §10: GIVEN STRICT expressed as MeshTLSAuthentication "*" WHEN a plaintext client calls THEN authorization refuses it, localhost still passes', () => {
    const objects = [...base(), authz('strict', toServer('web-http'), [mtlsRef('any')]), meshtls('any', { identities: ['*'] })];
    expect(sim.decide(objects, get(plaintext())), 'deny');
    expect(sim.decide(objects, get(meshed('a', 'b'))), 'allow');
    expect(sim.decide(objects, get(plaintext('127.0.0.1'))), 'allow');
  });

  it('linkerd.md §10: GIVEN PERMISSIVE expressed as a NetworkAuthentication-only policy WHEN plaintext and meshed clients call THEN both are admitted', () => {
    const objects = [...base(), authz('perm', toServer('web-http'), [netRef('all')]), netauth('all', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])];
    expect(sim.decide(objects, get(plaintext(PUBLIC))), 'allow');
    expect(sim.decide(objects, get(meshed('a'))), 'allow');
  });

  it('linkerd.md §10: GIVEN an opaque Server whose grant needs an identity WHEN a plaintext client connects THEN opaque is not "mTLS off": the identity check still applies', () => {
    const db = server('db', { podSelector: { matchLabels: { app: 'web' } }, port: 'db', proxyProtocol: 'opaque' });
    const objects = [db, authz('p', toServer('db'), [saRef('api')])];
    expect(sim.decide(objects, req(plaintext(), 5432)), 'deny');
    expect(sim.decide(objects, req(meshed('api'), 5432)), 'allow');
  });

  it('linkerd.md §11: GIVEN grants to a whole namespace and nothing that denies WHEN any account of that namespace calls THEN access is the union of grants (no resource can carve one out)', () => {
    const objects = [
      ...base(),
      authz('ns', toServer('web-http'), [mtlsRef('shop-all')]),
      meshtls('shop-all', { identityRefs: [{ kind: 'Namespace', name: 'shop' }] }),
      authz('one', toServer('web-http'), [saRef('blocked')]),
    ];
    expect(sim.decide(objects, get(meshed('blocked'))), 'allow');
    expect(sim.decide(objects, get(meshed('anyone'))), 'allow');
  });

  it('linkerd.md §11: GIVEN accessPolicy audit WHEN a client no grant matches calls THEN it is allowed (audit is not enforcement)', () => {
    const d = sim.decide([...base({ accessPolicy: 'audit' }), authz('p', toServer('web-http'), [saRef('api')])], get(plaintext(PUBLIC)));
    expect(d, 'allow');
    assert.match(d.reason, /audit/);
  });

  it('linkerd.md §12: GIVEN a ServerAuthorization without networks WHEN an unauthenticated client calls from outside clusterNetworks THEN it is denied (cluster networks, not all IPs)', () => {
    const saz = obj('policy.linkerd.io/v1beta1', 'ServerAuthorization', 'saz', { server: { name: 'web-http' }, client: { unauthenticated: true } });
    expect(sim.decide([...base(), saz], get(plaintext('10.0.0.1'))), 'allow', 'ServerAuthorization shop/saz');
    expect(sim.decide([...base(), saz], get(plaintext(PUBLIC))), 'deny');
  });

  it('linkerd.md §12: GIVEN a ServerAuthorization with an empty selector and meshTLS serviceAccounts WHEN the account calls THEN every Server in the namespace is covered and the namespace defaults to the authorization', () => {
    const saz = obj('policy.linkerd.io/v1beta1', 'ServerAuthorization', 'saz', {
      server: { selector: {} },
      client: { meshTLS: { serviceAccounts: [{ name: 'api' }] } },
    });
    expect(sim.decide([...base(), saz], get(meshed('api'))), 'allow');
    expect(sim.decide([...base(), saz], get(meshed('api', 'other'))), 'deny');
  });

  it('linkerd.md §12: GIVEN unauthenticatedTLS WHEN a meshed client and a plaintext client call THEN TLS is required, any identity accepted', () => {
    const saz = obj('policy.linkerd.io/v1beta1', 'ServerAuthorization', 'saz', {
      server: { name: 'web-http' },
      client: { meshTLS: { unauthenticatedTLS: true } },
    });
    expect(sim.decide([...base(), saz], get(meshed('whoever', 'far'))), 'allow');
    expect(sim.decide([...base(), saz], get(plaintext())), 'deny');
  });
});

// ─────────────────────────────────────────────────────────────────────────────── published examples

const EXAMPLES = path.resolve(__dirname, '..', '..', 'shared', 'mesh-examples');

function loadExample(...files: string[]): ManifestObject[] {
  const objects: ManifestObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'))) {
      const value = doc.toJS() as ManifestObject | null;
      if (value !== null) objects.push(value);
    }
  }
  return objects;
}

describe('published Linkerd examples (shared/mesh-examples)', () => {
  const present = fs.existsSync(path.join(EXAMPLES, 'linkerd-per-route-policy'));
  if (!present) console.log(`notice: ${EXAMPLES} is absent; the published-example tests are skipped`);
  const itIfPresent = present ? it : it.skip;
  const authors: Workload = {
    namespace: 'booksapp',
    name: 'authors',
    serviceAccount: 'authors',
    labels: { app: 'authors', project: 'booksapp' },
    ports: [{ name: 'service', port: 7001, protocol: 'http' }],
  };
  const booksReq = (sa: string | undefined, method: string, p: string, ip = '10.4.0.2'): SimulatedRequest => ({
    client: sa === undefined ? { ip } : { ip, identity: { namespace: 'booksapp', serviceAccount: sa } },
    destination: authors,
    port: 7001,
    method,
    path: p,
  });

  itIfPresent(
    'linkerd.md §6 (per-route-policy task): GIVEN the booksapp route set WHEN books, webapp and outsiders call THEN GETs, modifications, the probe route and the 404s fall as documented',
    () => {
      const dir = 'linkerd-per-route-policy';
      const objects = loadExample(
        ...fs
          .readdirSync(path.join(EXAMPLES, dir))
          .sort()
          .map((f) => path.join(dir, f)),
      );
      expect(sim.decide(objects, booksReq('books', 'GET', '/authors.json')), 'allow', 'HTTPRoute booksapp/authors-get-route');
      expect(sim.decide(objects, booksReq('books', 'GET', '/authors/12.json')), 'allow');
      expect(sim.decide(objects, booksReq('books', 'DELETE', '/authors/12.json')), 'deny', 'HTTPRoute booksapp/authors-modify-route');
      expect(sim.decide(objects, booksReq('webapp', 'DELETE', '/authors/12.json')), 'allow');
      expect(sim.decide(objects, booksReq('webapp', 'POST', '/authors.json')), 'allow');
      expect(sim.decide(objects, booksReq(undefined, 'GET', '/ping', PUBLIC)), 'allow', 'HTTPRoute booksapp/authors-probe-route');
      expect(sim.decide(objects, booksReq(undefined, 'GET', '/authors.json')), 'deny');
      expect(sim.decide(objects, booksReq('webapp', 'PATCH', '/authors/1')), 'deny');
    },
  );

  itIfPresent(
    'linkerd.md §2 / §6 (2025 gRPC blog): GIVEN a v1beta1 Server and two catch-all GRPCRoutes WHEN foo calls THEN the server grant admits it; WHEN bar calls THEN the tied routes decide differently: unsupported',
    () => {
      const dir = 'linkerd-blog-grpc-routes';
      const objects = loadExample(
        ...['01-baz-grpc-server.yaml', '02-route-outbound.yaml', '03-route-inbound.yaml', '04-foo-server-grant.yaml', '05-bar-route-grant.yaml'].map((f) =>
          path.join(dir, f),
        ),
      );
      const baz: Workload = {
        namespace: 'default',
        name: 'baz',
        serviceAccount: 'baz',
        labels: { app: 'baz' },
        ports: [{ name: 'grpc', port: 9090, protocol: 'grpc' }],
      };
      const call = (sa: string): SimulatedRequest => ({
        client: { ip: '10.0.0.4', identity: { namespace: 'default', serviceAccount: sa } },
        destination: baz,
        port: 9090,
        method: 'POST',
        path: '/baz.Baz/Get',
      });
      expect(sim.decide(objects, call('foo')), 'allow', 'AuthorizationPolicy default/baz-grpc-authn');
      expect(sim.decide(objects, call('bar')), 'unsupported', 'GRPCRoute default/baz-grpc-inbound', 'GRPCRoute default/baz-grpc-outbound');
      expect(sim.decide(objects, call('qux')), 'deny');
    },
  );

  itIfPresent(
    'linkerd.md §14 (emojivoto policy): GIVEN prom-prometheus without networks WHEN a plaintext scrape comes from a public address THEN it is denied despite the "anywhere" comment',
    () => {
      const objects = loadExample('linkerd-emojivoto-policy/emojivoto-policy.yaml');
      const voting: Workload = {
        namespace: 'emojivoto',
        name: 'voting',
        serviceAccount: 'voting',
        labels: { app: 'voting-svc' },
        ports: [
          { name: 'grpc', port: 8080, protocol: 'grpc' },
          { name: 'prom', port: 8801, protocol: 'http' },
        ],
      };
      const r = (ip: string, port: number, sa?: string, p = '/metrics'): SimulatedRequest => ({
        client: sa === undefined ? { ip } : { ip, identity: { namespace: 'emojivoto', serviceAccount: sa } },
        destination: voting,
        port,
        method: port === 8080 ? 'POST' : 'GET',
        path: p,
      });
      expect(sim.decide(objects, r('10.2.3.4', 8801)), 'allow', 'ServerAuthorization emojivoto/prom-prometheus');
      expect(sim.decide(objects, r(PUBLIC, 8801)), 'deny');
      expect(sim.decide(objects, r('10.2.3.4', 8080, 'web', '/emojivoto.v1.VotingService/Vote')), 'allow', 'ServerAuthorization emojivoto/internal-grpc');
      expect(sim.decide(objects, r('10.2.3.4', 8080, 'vote-bot', '/emojivoto.v1.VotingService/Vote')), 'deny');
    },
  );

  itIfPresent(
    'linkerd.md §14 (OSM migration blog as published): GIVEN a route without apiVersion and a policy naming the wrong route WHEN the website calls THEN nothing grants: denied',
    () => {
      const objects = loadExample('linkerd-blog-osm-migration/01-as-published.yaml');
      const user: Workload = {
        namespace: 'default',
        name: 'user',
        serviceAccount: 'user',
        labels: { app: 'user-workload' },
        ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      };
      const d = sim.decide(objects, {
        client: { ip: '10.0.0.5', identity: { namespace: 'default', serviceAccount: 'website' } },
        destination: user,
        port: 8080,
        method: 'GET',
        path: '/users',
      });
      expect(d, 'deny', 'Server default/user-server');
      assert.match(d.reason, /no apiVersion/);
      assert.match(d.reason, /users-routes .*does not exist/);
    },
  );

  itIfPresent(
    'linkerd.md §9 (multicluster task): GIVEN bb only from slow-cooker WHEN slow-cooker of a linked cluster (same identity) calls THEN it is admitted, another account is not',
    () => {
      const objects = loadExample('linkerd-multicluster/bb-policy.yaml');
      const bb: Workload = {
        namespace: 'mc-demo',
        name: 'bb',
        serviceAccount: 'bb',
        labels: { app: 'bb' },
        ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      };
      const r = (sa: string): SimulatedRequest => ({
        client: { ip: '192.168.40.2', identity: { namespace: 'mc-demo', serviceAccount: sa } },
        destination: bb,
        port: 8080,
        method: 'GET',
        path: '/',
      });
      expect(sim.decide(objects, r('slow-cooker')), 'allow', 'MeshTLSAuthentication mc-demo/bb-good');
      expect(sim.decide(objects, r('other')), 'deny');
    },
  );
});
