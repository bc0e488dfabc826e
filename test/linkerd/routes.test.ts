import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import type { Client } from './support';
import { httpPathMatch, httpRegions } from '../../targets/linkerd/routes';
import { isNormalPath } from '../../model/path';
import { codes, compile, disagreements, errors, exact, model, ofKind, prefix, requests, rule, spec, svc } from './support';

const api = svc('shop', 'api', { http: { port: 8080, protocol: 'http' }, rpc: { port: 9090, protocol: 'grpc' } });
const x = svc('shop', 'x', { http: { port: 80, protocol: 'http' } });
const y = svc('shop', 'y', { http: { port: 80, protocol: 'http' } });
const clients: Client[] = [
  { label: 'x', identity: 'shop/x', ip: '10.0.0.1' },
  { label: 'y', identity: 'shop/y', ip: '10.0.0.2' },
  { label: 'z', identity: 'shop/z', ip: '10.0.0.3' },
  { label: 'plain', ip: '10.0.0.4' },
];
const paths = ['/', '/api', '/api/', '/api/admin', '/api/admin/', '/api/admin/x', '/api/adminx', '/api/users', '/apix', '/other', '/healthz', '/v1', '/v1/a'];
// Raw-path variants (model.ts, 5.): Linkerd matches them byte for byte, the application reads them normalized.
const variants = [
  '/%61pi/admin',
  '/api/%61dmin',
  '/api/../other',
  '/api/admin/../../other',
  '/x/../api/admin',
  '/api/./admin',
  '/api/.%2e/other',
  '/api\\admin',
];
const methods = ['GET', 'POST', 'DELETE', 'PROPFIND'];
const from = (s: { id: string }) => ({ kind: 'service' as const, service: s.id });

describe('Linkerd target: HTTP routes', () => {
  it('GIVEN A allows x on /api/* and B allows y on exact /api/admin WHEN compiled THEN the /api/admin route carries both grants (most-specific-route trap)', () => {
    const m = model(
      [api, x, y],
      [rule('allow', [from(x)], api.id, ['http'], { paths: [prefix('/api/')] }), rule('allow', [from(y)], api.id, ['http'], { paths: [exact('/api/admin')] })],
    );
    const out = compile(m);
    const routes = ofKind(out, 'HTTPRoute');
    const exactRoute = routes.find((r) => spec(r)['rules'][0].matches[0].path.type === 'Exact')!;
    assert.deepEqual(spec(exactRoute)['rules'][0].matches, [{ path: { type: 'Exact', value: '/api/admin' } }]);
    const grants = ofKind(out, 'AuthorizationPolicy').filter((p) => spec(p)['targetRef'].name === exactRoute.metadata.name);
    const ids = grants
      .flatMap((p) => ofKind(out, 'MeshTLSAuthentication').filter((a) => a.metadata.name === spec(p)['requiredAuthenticationRefs'][0].name))
      .flatMap((a) => spec(a)['identities']);
    assert.deepEqual(ids.sort(), ['x.shop.serviceaccount.identity.linkerd.cluster.local', 'y.shop.serviceaccount.identity.linkerd.cluster.local']);
    assert.deepEqual(disagreements(m, out, api, 'http', clients, requests(methods, paths)), []);
  });

  it('GIVEN two path regions with the same grants WHEN compiled THEN they are one route with both matches, and refused regions get no route', () => {
    // linkerd.md §6: only the single best-matching route decides, and a route's authorizations hold for all its
    // rules; a request no route matches gets 404. So cells that decide alike can share a route.
    const m = model([api, x, y], [rule('allow', [from(x)], api.id, ['http'], { methods: ['GET'], paths: [exact('/a'), prefix('/b/')] })]);
    const out = compile(m);
    const routes = ofKind(out, 'HTTPRoute');
    assert.deepEqual(
      routes.map((r) => r.metadata.name),
      ['api-http-a'],
    );
    assert.equal(spec(routes[0]!)['rules'][0].matches.length, 2);
    assert.deepEqual(disagreements(m, out, api, 'http', clients, requests(methods, [...paths, '/a', '/b/c', '/bx'])), []);
  });

  it('GIVEN a model prefix /api/ WHEN compiled THEN it is a regex, not PathPrefix (which works on segments and would also match /api)', () => {
    const m = model([api, x], [rule('allow', [from(x)], api.id, ['http'], { paths: [prefix('/api/'), prefix('/v1')] })]);
    const out = compile(m);
    const matches = ofKind(out, 'HTTPRoute').flatMap((r) => spec(r)['rules'].flatMap((rr: { matches: unknown[] }) => rr.matches));
    // After /api/, only normal-form paths: no '%', no backslash, no segment starting with '.' (targets/linkerd/routes.ts).
    assert.ok(
      matches.some(
        (mm: any) => mm.path.type === 'RegularExpression' && mm.path.value === '^/api/(?:\\.{0,2}[^%\\\\/.][^%\\\\/]*)?(?:/+\\.{0,2}[^%\\\\/.][^%\\\\/]*)*/*$',
      ),
    );
    assert.ok(!matches.some((mm: any) => mm.path.type === 'PathPrefix' && mm.path.value !== '/'));
    // /v1 prefix in the model also matches /v1x; /api/ does not match /api.
    assert.deepEqual(disagreements(m, out, api, 'http', clients, requests(methods, [...paths, ...variants, '/v1x', '/api'])), []);
  });

  it('GIVEN a port-wide grant and a route-level grant WHEN compiled THEN the port-wide grant targets the Server and a catch-all PathPrefix / route keeps every other path reachable', () => {
    const m = model(
      [api, x, y],
      [rule('allow', [from(x)], api.id, ['http']), rule('allow', [from(y)], api.id, ['http'], { methods: ['GET'], paths: [exact('/healthz')] })],
    );
    const out = compile(m);
    const catchAll = ofKind(out, 'HTTPRoute').find((r) => r.metadata.name === 'api-http-default')!;
    assert.deepEqual(spec(catchAll)['rules'], [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }]);
    const targets = ofKind(out, 'AuthorizationPolicy').map((p) => spec(p)['targetRef'].kind);
    assert.ok(targets.includes('Server'));
    assert.deepEqual(disagreements(m, out, api, 'http', clients, requests(methods, paths)), []);
    assert.ok(codes(out).includes('PC4106'), 'probes lose their automatic route: warned');
  });

  it('GIVEN rules with methods WHEN compiled THEN each method is its own match and other methods fall to the any-method route', () => {
    const m = model(
      [api, x, y],
      [
        rule('allow', [from(x)], api.id, ['http'], { methods: ['GET', 'HEAD'], paths: [prefix('/api/')] }),
        rule('allow', [from(y)], api.id, ['http'], { methods: ['DELETE'], paths: [prefix('/api/')] }),
        rule('allow', [{ kind: 'authenticated' }], api.id, ['http'], { paths: [exact('/api/users')] }),
      ],
    );
    const out = compile(m);
    for (const r of ofKind(out, 'HTTPRoute'))
      for (const rr of spec(r)['rules']) for (const mm of rr.matches) assert.ok(mm.method === undefined || typeof mm.method === 'string');
    assert.deepEqual(disagreements(m, out, api, 'http', clients, requests([...methods, 'HEAD'], paths)), []);
  });

  it('GIVEN deny scoped to a path under a port-wide allow of the same caller WHEN compiled THEN PC4125 refuses it: /%61pi/admin and /x/../api/admin would reach the catch-all, which admits y', () => {
    const m = model(
      [api, x, y],
      [rule('allow', [from(x), from(y)], api.id, ['http']), rule('deny', [from(y)], api.id, ['http'], { paths: [prefix('/api/admin')] })],
    );
    const out = compile(m);
    assert.deepEqual(
      codes(out).filter((c) => c === 'PC4125'),
      ['PC4125'],
    );
    assert.match(errors(out).join('\n'), /'\/%61pi\/admin' or '\/x\/\.\.\/api\/admin'/);
  });

  it('GIVEN deny scoped to a path under path-limited allows WHEN compiled THEN grants move to routes, and no raw-path variant gets past the deny', () => {
    const m = model(
      [api, x, y],
      [
        rule('allow', [from(x)], api.id, ['http']),
        rule('allow', [from(y)], api.id, ['http'], { paths: [prefix('/api/')] }),
        rule('deny', [from(y)], api.id, ['http'], { paths: [prefix('/api/admin')] }),
      ],
    );
    const out = compile(m);
    assert.deepEqual(errors(out), []);
    assert.ok(!ofKind(out, 'AuthorizationPolicy').some((p) => spec(p)['targetRef'].kind === 'Server'));
    assert.deepEqual(disagreements(m, out, api, 'http', clients, requests(methods, [...paths, ...variants])), []);
  });

  it('GIVEN model paths that include / itself WHEN compiled THEN no route ties with the catch-all (the rest is a disjoint regex)', () => {
    const m = model(
      [api, x, y],
      [rule('allow', [from(x)], api.id, ['http'], { paths: [exact('/')] }), rule('allow', [from(y)], api.id, ['http'], { paths: [prefix('/')] })],
    );
    const out = compile(m);
    assert.deepEqual(disagreements(m, out, api, 'http', clients, requests(methods, [...paths, '*'])), []);
  });

  it('GIVEN paths with regex metacharacters WHEN compiled THEN they are escaped', () => {
    const m = model([api, x], [rule('allow', [from(x)], api.id, ['http'], { paths: [prefix('/a.b+(c)/'), exact('/a.b+(c)/d')] })]);
    const out = compile(m);
    assert.deepEqual(disagreements(m, out, api, 'http', clients, requests(['GET'], ['/a.b+(c)/', '/a.b+(c)/d', '/a.b+(c)/e', '/aXb+(c)/', '/a.bb(c)/'])), []);
  });
});

describe('Linkerd target: gRPC routes', () => {
  const grpcPaths = ['/pkg.Cart/Get', '/pkg.Cart/Put', '/pkg.Cart/Get/x', '/pkg.Other/Get', '/pkg.Cart/'];
  it('GIVEN method and service paths on a gRPC port WHEN compiled THEN Gateway API GRPCRoutes match {service, method} and {service}, plus a catch-all', () => {
    const m = model(
      [api, x, y],
      [
        rule('allow', [from(x)], api.id, ['rpc'], { paths: [prefix('/pkg.Cart/')] }),
        rule('allow', [from(y)], api.id, ['rpc'], { paths: [exact('/pkg.Cart/Get')] }),
      ],
    );
    const out = compile(m);
    assert.deepEqual(ofKind(out, 'HTTPRoute'), [], 'an HTTPRoute on a gRPC Server is ignored');
    const routes = ofKind(out, 'GRPCRoute');
    assert.ok(routes.every((r) => r.apiVersion === 'gateway.networking.k8s.io/v1'));
    const methodMatches = routes.flatMap((r) =>
      spec(r)['rules'].flatMap((rr: { matches?: { method: unknown }[] }) => (rr.matches ?? []).map((mm) => mm.method)),
    );
    assert.deepEqual(
      methodMatches.sort((a: any, b: any) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [
        { type: 'Exact', service: 'pkg.Cart', method: 'Get' },
        { type: 'Exact', service: 'pkg.Cart' },
      ],
    );
    for (const p of ofKind(out, 'AuthorizationPolicy'))
      if (spec(p)['targetRef'].kind === 'GRPCRoute') assert.equal(spec(p)['targetRef'].group, 'gateway.networking.k8s.io');
    assert.ok(codes(out).includes('PC4107'));
    // /pkg.Cart/Get/x: Linkerd matches by the first two segments; no gRPC client sends it (documented).
    assert.deepEqual(
      disagreements(
        m,
        out,
        api,
        'rpc',
        clients,
        requests(
          ['POST'],
          grpcPaths.filter((p) => p !== '/pkg.Cart/Get/x'),
        ),
      ),
      [],
    );
  });

  it('GIVEN a gRPC rule whose methods exclude POST WHEN compiled THEN it grants nothing (gRPC calls are always POST)', () => {
    const m = model([api, x], [rule('allow', [from(x)], api.id, ['rpc'], { methods: ['GET'] })]);
    const out = compile(m);
    assert.deepEqual(ofKind(out, 'AuthorizationPolicy'), []);
    assert.deepEqual(disagreements(m, out, api, 'rpc', clients, requests(['POST'], grpcPaths)), []);
  });

  it('GIVEN a gRPC path that is not /pkg.Service/Method or /pkg.Service/* WHEN compiled THEN PC4103 refuses it', () => {
    const out = compile(model([api, x], [rule('allow', [from(x)], api.id, ['rpc'], { paths: [prefix('/pkg.')] })]));
    assert.deepEqual(
      codes(out).filter((c) => c !== 'PC4107'),
      ['PC4103'],
    );
  });

  it('GIVEN every path of up to 6 characters over / a . %61 \\ WHEN a prefix region regex matches THEN the path is in normal form and in the region, and every normal path of the region (bar all-dot segments) matches', () => {
    const units = ['/', 'a', '.', '%61', '\\'];
    const all: string[] = [];
    const grow = (p: string, depth: number): void => {
      all.push(p);
      if (depth < 6) for (const u of units) grow(p + u, depth + 1);
    };
    grow('/', 1);
    const regions = httpRegions([{ methods: null, paths: [prefix('/a/'), exact('/a/a'), prefix('/a/a/')] }]);
    for (const region of regions.filter((r) => r.kind === 'prefix')) {
      const re = new RegExp(httpPathMatch(region, regions).value, 'u');
      const others = regions.filter((r) => r !== region && r.kind !== 'rest' && r.value.startsWith((region as { value: string }).value));
      for (const path of all) {
        const owned =
          path.startsWith((region as { value: string }).value) &&
          !others.some((o) => (o.kind === 'exact' ? path === o.value : path.startsWith((o as { value: string }).value)));
        const allDots = path.split('/').some((seg) => /^\.{3,}$/.test(seg));
        if (re.test(path)) assert.ok(owned && isNormalPath(path), `${region.value}: ${path} matched`);
        else assert.ok(!owned || !isNormalPath(path) || allDots, `${region.value}: ${path} not matched`);
      }
    }
  });
});
