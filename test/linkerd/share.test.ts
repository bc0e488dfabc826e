/**
 * Linkerd objects written once for several ports of a namespace (targets/linkerd/share.ts), checked against the
 * Linkerd simulator on a grid of requests. Facts used:
 *  - a route attaches to every Server any of its parentRefs names (linkerd2
 *    policy-controller/k8s/index/src/inbound/routes.rs, `RouteBinding::selects_server` = `parents.iter().any(..)`),
 *    and a route-targeted AuthorizationPolicy authorizes that route wherever it is attached (shared/docs/linkerd.md §3, §6);
 *  - `spec.parentRefs` holds at most 32 entries (HTTPRoute/GRPCRoute CRDs, shared/crds/linkerd);
 *  - a label selector's `In` expression matches a pod whose label has one of the values
 *    (linkerd2 policy-controller/k8s/api/src/labels.rs, `Expression::matches`; linkerd.md §2);
 *  - an AuthorizationPolicy's `requiredAuthenticationRefs` entry may name another namespace (linkerd.md §3), which
 *    lets several namespaces read one authentication object in the control-plane namespace.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import type { KubernetesObject } from '../../model/target';
import type { Client } from './support';
import { compile, disagreements, exact, model, ofKind, requests, rule, spec, svc } from './support';
import { MAX_PARENT_REFS } from '../../targets/linkerd/share';

const from = (s: { id: string }) => ({ kind: 'service' as const, service: s.id });
const http = { http: { port: 8080, protocol: 'http' as const } };
const a = svc('shop', 'a', http);
const b = svc('shop', 'b', http);
const x = svc('shop', 'x', http);
const y = svc('shop', 'y', http);
const clients: Client[] = [
  { label: 'x', identity: 'shop/x', ip: '10.0.0.1' },
  { label: 'y', identity: 'shop/y', ip: '10.0.0.2' },
  { label: 'plain', ip: '10.0.0.4' },
];
const grid = requests(['GET', 'POST'], ['/', '/metrics', '/metrics/x', '/other']);
const metrics = (caller: { id: string }, to: { id: string }) =>
  rule('allow', [from(caller)], to.id, ['http'], { methods: ['GET'], paths: [exact('/metrics')] });

describe('Linkerd target: objects shared between the ports of a namespace', () => {
  it('GIVEN two services whose ports get the same grants and routes WHEN compiled THEN one Server selects both (app In) and one route and policy serve it, deciding as before', () => {
    const m = model([a, b, x, y], [metrics(x, a), metrics(x, b)]);
    const out = compile(m);
    const servers = ofKind(out, 'Server').filter((s) => ['a-http', 'b-http'].includes(s.metadata.name));
    assert.deepEqual(
      servers.map((s) => [s.metadata.name, spec(s)['podSelector']]),
      [['a-http', { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] }]],
    );
    assert.equal(ofKind(out, 'HTTPRoute').length, 1);
    assert.equal(ofKind(out, 'AuthorizationPolicy').length, 1);
    for (const s of [a, b]) assert.deepEqual(disagreements(m, out, s, 'http', clients, grid), []);
  });

  it('GIVEN two ports with the same route but different port-wide grants WHEN compiled THEN two Servers share one route with two parentRefs', () => {
    const m = model([a, b, x, y], [metrics(x, a), metrics(x, b), rule('allow', [from(y)], b.id, ['http'])]);
    const out = compile(m);
    assert.equal(ofKind(out, 'Server').filter((s) => ['a-http', 'b-http'].includes(s.metadata.name)).length, 2);
    const shared = ofKind(out, 'HTTPRoute').filter((r) => JSON.stringify(spec(r)['rules']).includes('/metrics'));
    assert.deepEqual(
      shared.map((r) => spec(r)['parentRefs'].map((p: { name: string }) => p.name)),
      [['a-http', 'b-http']],
    );
    for (const s of [a, b]) assert.deepEqual(disagreements(m, out, s, 'http', clients, grid), []);
  });

  it('GIVEN the same route with different grants per port WHEN the route is wrongly shared (the policy of one port on the route of both) THEN the simulator catches it', () => {
    const m = model([a, b, x, y], [metrics(x, a), metrics(y, b)]);
    const out = compile(m);
    const routes = ofKind(out, 'HTTPRoute');
    assert.equal(routes.length, 2, 'different grants: one route each');
    for (const s of [a, b]) assert.deepEqual(disagreements(m, out, s, 'http', clients, grid), []);
    // The wrong variant: a's route attached to both Servers, b's route and its policy dropped.
    const [ra, rb] = routes as [KubernetesObject, KubernetesObject];
    const wrongRoute = {
      ...ra,
      spec: {
        ...spec(ra),
        parentRefs: [
          { group: 'policy.linkerd.io', kind: 'Server', name: 'a-http' },
          { group: 'policy.linkerd.io', kind: 'Server', name: 'b-http' },
        ],
      },
    };
    const objects = out.objects
      .filter((o) => o !== rb && !(o.kind === 'AuthorizationPolicy' && spec(o)['targetRef'].name === rb.metadata.name))
      .map((o) => (o === ra ? wrongRoute : o)) as KubernetesObject[];
    const wrong = disagreements(m, { ...out, objects }, b, 'http', clients, grid);
    assert.ok(
      wrong.some((d) => d.startsWith('x GET /metrics: model denies')),
      wrong.join('\n'),
    );
    assert.ok(
      wrong.some((d) => d.startsWith('y GET /metrics: model allows')),
      wrong.join('\n'),
    );
  });

  it('GIVEN services selected by two labels WHEN their ports are alike THEN their Servers stay apart (one In expression cannot say it), and the route is shared', () => {
    const c = svc('shop', 'c', http, { selector: { app: 'c', tier: 'web' } });
    const d = svc('shop', 'd', http, { selector: { app: 'd', tier: 'web' } });
    const m = model([c, d, x, y], [metrics(x, c), metrics(x, d)]);
    const out = compile(m);
    assert.deepEqual(
      ofKind(out, 'Server')
        .filter((s) => ['c-http', 'd-http'].includes(s.metadata.name))
        .map((s) => spec(s)['podSelector']),
      [{ matchLabels: { app: 'c', tier: 'web' } }, { matchLabels: { app: 'd', tier: 'web' } }],
    );
    assert.equal(ofKind(out, 'HTTPRoute').length, 1);
    for (const s of [c, d]) assert.deepEqual(disagreements(m, out, s, 'http', clients, grid), []);
  });

  it(`GIVEN more than ${MAX_PARENT_REFS} Servers with one same route WHEN compiled THEN each route names at most ${MAX_PARENT_REFS} parents, and every Server has one`, () => {
    const many = Array.from({ length: MAX_PARENT_REFS + 3 }, (_, i) =>
      svc('shop', `s${String(i).padStart(2, '0')}`, http, { selector: { app: `s${i}`, tier: 'web' } }),
    );
    const m = model(
      [...many, x, y],
      many.map((s) => metrics(x, s)),
    );
    const out = compile(m);
    const parents = ofKind(out, 'HTTPRoute').map((r) => spec(r)['parentRefs'].length as number);
    assert.deepEqual(parents, [MAX_PARENT_REFS, 3]);
    assert.equal(ofKind(out, 'AuthorizationPolicy').length, 2);
    for (const s of [many[0]!, many[MAX_PARENT_REFS + 2]!]) assert.deepEqual(disagreements(m, out, s, 'http', clients, grid), []);
  });

  it('GIVEN the same two callers admitted in two namespaces of a mesh-scope policy WHEN compiled THEN one MeshTLSAuthentication in the control-plane namespace serves both, named with its namespace; without that namespace the policy would be ignored', () => {
    // linkerd.md §3: a requiredAuthenticationRefs entry may carry a namespace (default: the policy's own); a policy
    // whose authentication object does not exist is ignored.
    const p = svc('pay', 'p', http);
    const callers = [from(x), from(y)];
    const m = model([a, p, x, y], [rule('allow', callers, a.id, ['http']), rule('allow', callers, p.id, ['http'])], {
      linkerd: { controlPlaneNamespace: 'mesh-cp' },
    });
    const out = compile(m);
    const mtls = ofKind(out, 'MeshTLSAuthentication');
    assert.deepEqual(
      mtls.map((o) => o.metadata.namespace),
      ['mesh-cp'],
    );
    const policies = ofKind(out, 'AuthorizationPolicy');
    assert.deepEqual(
      policies.map((o) => [o.metadata.namespace, spec(o)['requiredAuthenticationRefs']]),
      ['pay', 'shop'].map((ns) => [ns, [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: mtls[0]!.metadata.name, namespace: 'mesh-cp' }]]),
    );
    for (const s of [a, p]) assert.deepEqual(disagreements(m, out, s, 'http', clients, grid), []);
    // The wrong variant: the ref without its namespace names an object that does not exist in shop.
    const shopPolicy = policies.find((o) => o.metadata.namespace === 'shop')!;
    const objects = out.objects.map((o) =>
      o === shopPolicy
        ? {
            ...o,
            spec: { ...spec(o), requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: mtls[0]!.metadata.name }] },
          }
        : o,
    ) as KubernetesObject[];
    const wrong = disagreements(m, { ...out, objects }, a, 'http', clients, grid);
    assert.ok(
      wrong.some((d) => d.startsWith('x GET /: model allows')),
      wrong.join('\n'),
    );
  });

  it('GIVEN the same callers admitted in two namespaces of a namespace-scope policy WHEN compiled THEN nothing is written outside them: each namespace keeps its own MeshTLSAuthentication', () => {
    const p = svc('pay', 'p', http);
    const callers = [from(x), from(y)];
    const m = model([a, p, x, y], [rule('allow', callers, a.id, ['http']), rule('allow', callers, p.id, ['http'])], { scope: 'namespaces' });
    const out = compile(m);
    assert.deepEqual([...new Set(out.objects.map((o) => o.metadata.namespace))].sort(), ['pay', 'shop']);
    assert.deepEqual(
      ofKind(out, 'MeshTLSAuthentication').map((o) => o.metadata.namespace),
      ['pay', 'shop'],
    );
    for (const policy of ofKind(out, 'AuthorizationPolicy'))
      assert.ok(
        spec(policy)['requiredAuthenticationRefs'].every((r: { namespace?: string }) => r.namespace === undefined),
        JSON.stringify(policy),
      );
    for (const s of [a, p]) assert.deepEqual(disagreements(m, out, s, 'http', clients, grid), []);
  });

  it('GIVEN a mesh-scope policy whose callers are admitted in one namespace only WHEN compiled THEN its MeshTLSAuthentication stays in that namespace', () => {
    const p = svc('pay', 'p', http);
    const m = model([a, p, x, y], [rule('allow', [from(x), from(y)], a.id, ['http']), rule('allow', [from(x)], p.id, ['http'])]);
    const out = compile(m);
    assert.deepEqual(
      ofKind(out, 'MeshTLSAuthentication').map((o) => o.metadata.namespace),
      ['shop'],
    );
    assert.ok(!out.objects.some((o) => o.metadata.namespace === 'linkerd'));
  });

  it("GIVEN a mesh-scope policy that declares the control-plane namespace itself WHEN two namespaces admit the same callers THEN each keeps its own MeshTLSAuthentication (a declared namespace's objects are its own)", () => {
    const p = svc('pay', 'p', http);
    const callers = [from(x), from(y)];
    const m = model([a, p, x, y], [rule('allow', callers, a.id, ['http']), rule('allow', callers, p.id, ['http'])], {
      linkerd: { controlPlaneNamespace: 'pay' },
    });
    const out = compile(m);
    assert.deepEqual(
      ofKind(out, 'MeshTLSAuthentication').map((o) => o.metadata.namespace),
      ['pay', 'shop'],
    );
  });

  it("GIVEN an object shared in the control-plane namespace WHEN a namespace that sorts first starts admitting the same callers THEN the shared object and the other namespaces' objects do not change", () => {
    const p = svc('pay', 'p', http);
    const first = svc('aaa', 'f', http);
    const callers = [from(x), from(y)];
    const before = compile(model([a, p, x, y], [rule('allow', callers, a.id, ['http']), rule('allow', callers, p.id, ['http'])]));
    const after = compile(
      model([a, p, first, x, y], [rule('allow', callers, a.id, ['http']), rule('allow', callers, p.id, ['http']), rule('allow', callers, first.id, ['http'])]),
    );
    // The namespaces that were there keep every object byte for byte.
    const tenants = (o: KubernetesObject) => o.metadata.namespace === 'shop' || o.metadata.namespace === 'pay';
    assert.deepEqual(after.objects.filter(tenants), before.objects.filter(tenants));
    // The shared object keeps its place, name and spec (its source annotation gains the new rule).
    const shared = (out: typeof before) => ofKind(out, 'MeshTLSAuthentication').map((o) => [o.metadata.namespace, o.metadata.name, spec(o)]);
    assert.deepEqual(shared(after), shared(before));
    assert.equal(shared(before)[0]![0], 'linkerd');
  });

  it('GIVEN two ports whose port-wide grants differ WHEN their Servers are wrongly merged (one Server, its grants only) THEN the simulator catches it', () => {
    const m = model([a, b, x, y], [rule('allow', [from(x)], a.id, ['http']), rule('allow', [from(y)], b.id, ['http'])]);
    const out = compile(m);
    const servers = ofKind(out, 'Server').filter((s) => ['a-http', 'b-http'].includes(s.metadata.name));
    assert.equal(servers.length, 2, 'different grants: two Servers');
    const [sa, sb] = servers as [KubernetesObject, KubernetesObject];
    const merged = { ...sa, spec: { ...spec(sa), podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] } } };
    const objects = out.objects
      .filter((o) => o !== sb && !(o.kind === 'AuthorizationPolicy' && spec(o)['targetRef'].name === 'b-http'))
      .map((o) => (o === sa ? merged : o)) as KubernetesObject[];
    const wrong = disagreements(m, { ...out, objects }, b, 'http', clients, grid);
    assert.ok(
      wrong.some((d) => d.startsWith('x GET /: model denies')),
      wrong.join('\n'),
    );
    assert.ok(
      wrong.some((d) => d.startsWith('y GET /: model allows')),
      wrong.join('\n'),
    );
  });
});
