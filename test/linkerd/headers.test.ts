/**
 * Header conditions on Linkerd: the emitted HTTPRoute and GRPCRoute header matches, the simulator's header
 * matching and route precedence (each fact citing its source), the route-precedence traps a naive compilation
 * falls into, proved absent from policyc's output on the whole request space, and the refusals at their rule.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import type { HeaderCondition, PolicyModel, RuleModel, SourceModel } from '../../model/model';
import { renderTarget } from '../../compiler/render';
import { createLinkerdSimulator } from '../../verify/linkerd';
import { manifestsFromFiles, verify } from '../../verify/compare';
import type { ManifestObject, SimulatedRequest, Workload } from '../../verify/simulator';
import * as path from 'node:path';
import { compile as compilePolicy } from '../../compiler/compile';
import { linkerdTarget } from '../../targets/linkerd';
import { tempProject } from '../helpers';
import { compile, errors, model, ofKind, prefix, rule, spec, svc } from './support';

const web = svc('shop', 'web', { http: { port: 8080, protocol: 'http' } });
const reports = svc('shop', 'reports', { http: { port: 8080, protocol: 'http' } });
const api = svc('shop', 'api', { http: { port: 8080, protocol: 'http' }, rpc: { port: 9090, protocol: 'grpc' } });
const fromWeb: SourceModel = { kind: 'service', service: 'shop/web' };
const fromReports: SourceModel = { kind: 'service', service: 'shop/reports' };

function withHeaders(r: RuleModel, headers: HeaderCondition[]): RuleModel {
  return { ...r, headers };
}

const simulator = createLinkerdSimulator({ trustDomain: 'cluster.local' });

/** The rendered output (as a cluster receives it) and its verification on the whole request space, every client, operation and header set (not one per key). */
function proved(m: PolicyModel): { objects: ManifestObject[]; mismatches: number; unsupported: number; checked: number } {
  const output = compile(m);
  assert.deepEqual(errors(output), []);
  const objects = manifestsFromFiles(renderTarget(output, m.entry));
  const result = verify(m, objects, simulator, { everyClient: true });
  return { objects, mismatches: result.mismatches.length, unsupported: result.unsupported.length, checked: result.checked };
}

const apiWorkload: Workload = {
  namespace: 'shop',
  name: 'api',
  serviceAccount: 'api',
  labels: { app: 'api' },
  ports: [
    { name: 'http', port: 8080, protocol: 'http' },
    { name: 'rpc', port: 9090, protocol: 'grpc' },
  ],
};

function request(sa: string, extra: Partial<SimulatedRequest> = {}): SimulatedRequest {
  return {
    client: { identity: { namespace: 'shop', serviceAccount: sa }, ip: '10.0.0.7' },
    destination: apiWorkload,
    port: 8080,
    method: 'GET',
    path: '/',
    ...extra,
  };
}

/** The reporting job only with its headers; web on GET everywhere. */
const reportsWithHeaders = model(
  [web, reports, api],
  [
    withHeaders(rule('allow', [fromReports], 'shop/api', ['http'], { id: 'reports' }), [
      { name: 'x-env', match: { kind: 'prefix', value: 'prod-' } },
      { name: 'x-report', match: { kind: 'exact', value: 'daily' } },
    ]),
    rule('allow', [fromWeb], 'shop/api', ['http'], { id: 'web', methods: ['GET'] }),
  ],
  { scope: 'namespaces' },
);

/** Hand-written routes: route `method` admits web on GET; route `header` admits reports with x-env: prod. */
function twoRoutes(sameGrants: boolean): ManifestObject[] {
  const server = {
    apiVersion: 'policy.linkerd.io/v1beta3',
    kind: 'Server',
    metadata: { name: 'api-http', namespace: 'shop' },
    spec: { podSelector: { matchLabels: { app: 'api' } }, port: 8080, proxyProtocol: 'HTTP/1', accessPolicy: 'deny' },
  };
  const route = (name: string, match: object) => ({
    apiVersion: 'policy.linkerd.io/v1beta3',
    kind: 'HTTPRoute',
    metadata: { name, namespace: 'shop' },
    spec: { parentRefs: [{ group: 'policy.linkerd.io', kind: 'Server', name: 'api-http' }], rules: [{ matches: [match] }] },
  });
  const authz = (name: string, target: string, sa: string) => ({
    apiVersion: 'policy.linkerd.io/v1alpha1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace: 'shop' },
    spec: {
      targetRef: { group: 'policy.linkerd.io', kind: 'HTTPRoute', name: target },
      requiredAuthenticationRefs: [{ group: '', kind: 'ServiceAccount', name: sa, namespace: 'shop' }],
    },
  });
  return [
    server,
    route('by-method', { path: { type: 'PathPrefix', value: '/' }, method: 'GET' }),
    route('by-header', { path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'X-Env', value: 'prod' }] }),
    authz('by-method-web', 'by-method', 'web'),
    authz('by-header-reports', 'by-header', 'reports'),
    ...(sameGrants ? [authz('by-method-reports', 'by-method', 'reports'), authz('by-header-web', 'by-header', 'web')] : []),
  ] as ManifestObject[];
}

describe('Linkerd header conditions: the emitted routes', () => {
  it('an exact condition is an Exact header match, a prefix one a RegularExpression of the prefix, names as written (lower-case); verify: 0 mismatches, 0 not simulated', () => {
    const { objects, mismatches, unsupported, checked } = proved(reportsWithHeaders);
    const routes = objects.filter((o) => o.kind === 'HTTPRoute');
    const headerMatches = routes.flatMap((r) =>
      (spec(r as never)['rules'] as { matches?: { headers?: unknown[]; method?: string }[] }[]).flatMap((rule) =>
        (rule.matches ?? []).flatMap((m) => (m.headers === undefined ? [] : [{ method: m.method ?? 'any', headers: m.headers }])),
      ),
    );
    const expected = [
      { name: 'x-env', type: 'RegularExpression', value: '^prod\\-.*$' },
      { name: 'x-report', type: 'Exact', value: 'daily' },
    ];
    // GET (web's method group) and every other method each get the match: the header route must win in both groups.
    assert.deepEqual(headerMatches.map((m) => m.method).sort(), ['GET', 'any']);
    for (const m of headerMatches) assert.deepEqual(m.headers, expected);
    assert.equal(mismatches, 0);
    assert.equal(unsupported, 0);
    assert.ok(checked > 500, String(checked));
  });

  it('a header condition of a gRPC port is a GRPCRoute match of headers alone (no method match) for every call, verified', () => {
    const m = model(
      [web, reports, api],
      [
        withHeaders(rule('allow', [fromReports], 'shop/api', ['rpc']), [{ name: 'x-debug', match: { kind: 'present' } }]),
        rule('allow', [fromWeb], 'shop/api', ['rpc'], { paths: [prefix('/pkg.Svc/')] }),
      ],
      { scope: 'namespaces' },
    );
    const { objects, mismatches, unsupported } = proved(m);
    const matches = objects
      .filter((o) => o.kind === 'GRPCRoute')
      .flatMap((r) => (spec(r as never)['rules'] as { matches?: object[] }[]).flatMap((rule) => rule.matches ?? []));
    assert.ok(
      matches.some((x) => JSON.stringify(x) === JSON.stringify({ headers: [{ name: 'x-debug', type: 'RegularExpression', value: '^.*$' }] })),
      JSON.stringify(matches),
    );
    assert.equal(mismatches, 0);
    assert.equal(unsupported, 0);
  });

  it('values of one header are split into disjoint classes: an exact value inside a prefix is its own Exact class, the prefix class excludes it', () => {
    const m = model(
      [web, reports, api],
      [
        withHeaders(rule('allow', [fromReports], 'shop/api', ['http']), [{ name: 'x-env', match: { kind: 'prefix', value: 'prod-' } }]),
        withHeaders(rule('allow', [fromWeb], 'shop/api', ['http']), [{ name: 'x-env', match: { kind: 'exact', value: 'prod-1' } }]),
        withHeaders(rule('deny', [fromReports], 'shop/api', ['http']), [{ name: 'x-token', match: { kind: 'exact', value: 't' } }]),
      ],
      { scope: 'namespaces' },
    );
    const { objects, mismatches, unsupported } = proved(m);
    const values = new Set(
      objects
        .filter((o) => o.kind === 'HTTPRoute')
        .flatMap((r) => (spec(r as never)['rules'] as { matches: { headers?: { name: string; value: string }[] }[] }[]).flatMap((rule) => rule.matches))
        .flatMap((x) => (x.headers ?? []).filter((h) => h.name === 'x-env').map((h) => h.value)),
    );
    assert.deepEqual([...values].sort(), ['^prod\\-(?:[^1].*|1.+)?$', 'prod-1']);
    assert.equal(mismatches, 0);
    assert.equal(unsupported, 0);
  });
});

describe('the Linkerd simulator: header matches and route precedence', () => {
  it('header names compare case-insensitively, values exactly; Exact is the default type (linkerd2-proxy http/match/header.rs; http HeaderName lower-cases names)', () => {
    const objects = twoRoutes(true);
    const post = (headers: Record<string, string>) => simulator.decide(objects, request('reports', { method: 'POST', headers })).verdict;
    assert.equal(post({ 'x-env': 'prod' }), 'allow');
    assert.equal(post({ 'X-ENV': 'prod' }), 'allow');
    assert.equal(post({ 'x-env': 'PROD' }), 'deny');
    assert.equal(post({}), 'deny');
  });

  it('a regex header match applies only to visible-ASCII values (http HeaderValue::to_str) and must match the whole value', () => {
    const { objects } = proved(reportsWithHeaders);
    const post = (env: string) => simulator.decide(objects, request('reports', { method: 'POST', headers: { 'x-env': env, 'x-report': 'daily' } })).verdict;
    assert.equal(post('prod-7'), 'allow');
    assert.equal(post('xprod-7'), 'deny');
    // Not visible ASCII: the regex is never tried, the request falls to a route without the reports grant (fail closed).
    assert.equal(post('prod-\u00e9'), 'deny');
  });

  it('the two precedence orders: released proxies rank header count before method, linkerd2-proxy#4604 method first; where they decide differently the verdict is unsupported, where alike it is decided', () => {
    const different = simulator.decide(twoRoutes(false), request('web', { headers: { 'x-env': 'prod' } }));
    assert.equal(different.verdict, 'unsupported');
    assert.match(different.reason, /linkerd2-proxy#4604/);
    assert.match(different.reason, /HTTPRoute shop\/by-header/);
    const alike = simulator.decide(twoRoutes(true), request('web', { headers: { 'x-env': 'prod' } }));
    assert.equal(alike.verdict, 'allow');
  });
});

describe('route precedence traps a header route must not fall into', () => {
  it('GIVEN web on GET and reports with a header on every method THEN GET with the header is decided for both callers as the model says (a naive header route steals it from web)', () => {
    const m = model(
      [web, reports, api],
      [
        rule('allow', [fromWeb], 'shop/api', ['http'], { methods: ['GET'] }),
        withHeaders(rule('allow', [fromReports], 'shop/api', ['http']), [{ name: 'x-env', match: { kind: 'exact', value: 'prod' } }]),
      ],
      { scope: 'namespaces' },
    );
    // The naive compilation: one route per rule, as written (twoRoutes). Under the released order the header route
    // wins GET from web, under #4604 the method route wins it from reports: the outcome depends on the proxy.
    const naive = verify(m, twoRoutes(false), simulator);
    assert.ok(naive.unsupported.some((u) => u.request.method === 'GET' && u.request.headers?.['x-env'] === 'prod'));
    const { mismatches, unsupported } = proved(m);
    assert.equal(mismatches, 0);
    assert.equal(unsupported, 0);
  });

  it('GIVEN a path grant and a header deny of the same caller THEN the header cell of the path region carries the deny, and other callers keep the path grant', () => {
    const m = model(
      [web, reports, api],
      [
        rule('allow', [fromWeb, fromReports], 'shop/api', ['http'], { paths: [prefix('/api/')] }),
        withHeaders(rule('deny', [fromWeb], 'shop/api', ['http']), [{ name: 'x-token', match: { kind: 'exact', value: 'leaked' } }]),
      ],
      { scope: 'namespaces' },
    );
    const { objects, mismatches, unsupported } = proved(m);
    assert.equal(mismatches, 0);
    assert.equal(unsupported, 0);
    const get = (sa: string, headers: Record<string, string>) => simulator.decide(objects, request(sa, { path: '/api/x', headers })).verdict;
    assert.deepEqual([get('web', {}), get('web', { 'x-token': 'leaked' }), get('reports', { 'x-token': 'leaked' })], ['allow', 'deny', 'allow']);
  });
});

describe('Linkerd refusals of header conditions', () => {
  it("a deny's prefix or presence condition is refused (PC4112), its exact condition compiled", () => {
    const refused = compile(
      model(
        [web, api],
        [
          rule('allow', [fromWeb], 'shop/api', ['http']),
          withHeaders(rule('deny', [fromWeb], 'shop/api', ['http'], { id: 'debug' }), [{ name: 'x-debug', match: { kind: 'present' } }]),
        ],
        { scope: 'namespaces' },
      ),
    );
    assert.deepEqual(
      refused.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code),
      ['PC4112'],
    );
    assert.match(refused.diagnostics.find((d) => d.code === 'PC4112')?.message ?? '', /Deny exact values instead/);
    const exactDeny = compile(
      model(
        [web, api],
        [
          rule('allow', [fromWeb], 'shop/api', ['http']),
          withHeaders(rule('deny', [fromWeb], 'shop/api', ['http']), [{ name: 'x-debug', match: { kind: 'exact', value: 'on' } }]),
        ],
        { scope: 'namespaces' },
      ),
    );
    assert.deepEqual(errors(exactDeny), []);
    assert.ok(ofKind(exactDeny, 'HTTPRoute').length > 0);
  });

  it('too many combinations of header classes on one port are refused (PC4145) at each rule, naming the headers', () => {
    const names = ['x-a', 'x-b', 'x-c', 'x-d', 'x-e', 'x-f', 'x-g'];
    const out = compile(
      model(
        [web, api],
        names.map((name) => withHeaders(rule('allow', [fromWeb], 'shop/api', ['http'], { id: name }), [{ name, match: { kind: 'exact', value: 'v' } }])),
        { scope: 'namespaces' },
      ),
    );
    const refusals = out.diagnostics.filter((d) => d.code === 'PC4145');
    assert.equal(refusals.length, names.length);
    assert.match(refusals[0]?.message ?? '', /x-a, x-b, x-c, x-d, x-e, x-f, x-g/);
  });

  it('both refusals are located at their rule in the policy source', () => {
    const rules = ['x-a', 'x-b', 'x-c', 'x-d', 'x-e', 'x-f', 'x-g'].map(
      (name) => `  allow(web).to(api, { ports: ['http'], headers: { '${name}': exact('v') } }),`,
    );
    const source = [
      "import { allow, deny, exact, mesh, namespace, present, service } from 'policyc';",
      "const shop = namespace('shop');",
      "export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });",
      "export const api = service(shop, 'api', { ports: { http: { port: 8080, protocol: 'http' } } });",
      "export default mesh({ scope: 'namespaces', services: [web, api], rules: [",
      ...rules,
      "  deny(web).to(api, { ports: ['http'], headers: { 'x-debug': present } }),",
      '] });',
    ].join('\n');
    const dir = tempProject({ 'policy.ts': source });
    const result = compilePolicy({ entry: path.join(dir, 'policy.ts'), targets: [linkerdTarget] });
    const located = result.diagnostics.filter((d) => d.code === 'PC4145' || d.code === 'PC4112').map((d) => [d.code, d.span?.line]);
    assert.deepEqual(
      located,
      [...rules.map((_, i) => ['PC4145', 6 + i]), ['PC4112', 13]].sort((a, b) => Number(a[1]) - Number(b[1])),
    );
  });
});
