/**
 * Linkerd objects written once for several ports of a namespace (targets/linkerd/share.ts), checked against the
 * Linkerd simulator on a grid of requests. Facts used:
 *  - a route attaches to every Server any of its parentRefs names (linkerd2
 *    policy-controller/k8s/index/src/inbound/routes.rs, `RouteBinding::selects_server` = `parents.iter().any(..)`),
 *    and a route-targeted AuthorizationPolicy authorizes that route wherever it is attached (shared/docs/linkerd.md §3, §6);
 *  - `spec.parentRefs` holds at most 32 entries (HTTPRoute/GRPCRoute CRDs, shared/crds/linkerd);
 *  - a label selector's `In` expression matches a pod whose label has one of the values
 *    (linkerd2 policy-controller/k8s/api/src/labels.rs, `Expression::matches`; linkerd.md §2).
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

  it('GIVEN the same two callers admitted in two namespaces WHEN compiled THEN one MeshTLSAuthentication serves both, named with its namespace; without that namespace the policy would be ignored', () => {
    // linkerd.md §3: a requiredAuthenticationRefs entry may carry a namespace (default: the policy's own); a policy
    // whose authentication object does not exist is ignored.
    const p = svc('pay', 'p', http);
    const callers = [from(x), from(y)];
    const m = model([a, p, x, y], [rule('allow', callers, a.id, ['http']), rule('allow', callers, p.id, ['http'])]);
    const out = compile(m);
    const mtls = ofKind(out, 'MeshTLSAuthentication');
    assert.deepEqual(
      mtls.map((o) => o.metadata.namespace),
      ['pay'],
    );
    const shopPolicy = ofKind(out, 'AuthorizationPolicy').find((o) => o.metadata.namespace === 'shop')!;
    assert.deepEqual(spec(shopPolicy)['requiredAuthenticationRefs'], [
      { group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: mtls[0]!.metadata.name, namespace: 'pay' },
    ]);
    for (const s of [a, p]) assert.deepEqual(disagreements(m, out, s, 'http', clients, grid), []);
    // The wrong variant: the ref without its namespace names an object that does not exist in shop.
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
