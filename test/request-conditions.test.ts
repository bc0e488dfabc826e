/**
 * Header conditions and request identity (end-user JWT): the model's meaning (model/decide.ts), the Istio
 * simulator's traps (each citing its source), the Istio target proved by verify (and caught when it is wrong),
 * the Linkerd and ambient refusals, the ambient waypoint's header rules, and the review commands.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { compile } from '../compiler/compile';
import { decide, type Request } from '../model/decide';
import type { HeaderCondition, PolicyModel, SourceModel } from '../model/model';
import { requestSpace } from '../model/request-space';
import { istioTarget } from '../targets/istio';
import { istioAmbientTarget } from '../targets/istio-ambient';
import { linkerdTarget } from '../targets/linkerd';
import { createIstioSimulator } from '../verify/istio';
import { createIstioAmbientSimulator } from '../verify/istio-ambient';
import { verify } from '../verify/compare';
import { diffModels, formatDiffText } from '../review/diff';
import type { ManifestObject, SimulatedRequest, Workload } from '../verify/simulator';
import { model, rule, svc } from './model-builders';
import { runCli, tempProject } from './helpers';

const ISSUER = 'https://accounts.example.com';
const OTHER_ISSUER = 'https://other.example.com';
const jwt = (claims: Record<string, string> = {}): SourceModel => ({
  kind: 'requestIdentity',
  issuer: ISSUER,
  ...(Object.keys(claims).length === 0 ? {} : { claims }),
});

const web = svc('shop', 'web', { http: { port: 8080, protocol: 'http' } });
const api = svc('shop', 'api', { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } });

function withIssuers(m: PolicyModel): PolicyModel {
  return { ...m, jwtIssuers: [{ issuer: ISSUER, jwksUri: `${ISSUER}/jwks.json` }] };
}

function headerRule(action: 'allow' | 'deny', sources: SourceModel[], headers: HeaderCondition[]) {
  return { ...rule(action, sources, 'shop/api', ['http']), headers };
}

const fromWeb = (extra: Partial<Request> = {}): Request => ({
  client: { kind: 'service', service: 'shop/web', ip: '10.0.0.1', tls: true },
  destination: 'shop/api',
  port: 8080,
  method: 'GET',
  path: '/',
  ...extra,
});

describe('the model: header conditions and request identity', () => {
  it('GIVEN exact, prefix and present conditions THEN names compare case-insensitively, values exactly, and present holds for an empty value', () => {
    const m = model(
      [web, api],
      [
        headerRule(
          'allow',
          [{ kind: 'service', service: 'shop/web' }],
          [
            { name: 'x-env', match: { kind: 'prefix', value: 'prod-' } },
            { name: 'x-token', match: { kind: 'exact', value: 'admin' } },
            { name: 'x-trace', match: { kind: 'present' } },
          ],
        ),
      ],
    );
    const allowed = (headers: Record<string, string>) => decide(m, fromWeb({ headers })).allowed;
    assert.equal(allowed({ 'X-Env': 'prod-1', 'X-TOKEN': 'admin', 'x-trace': '' }), true);
    assert.equal(allowed({ 'x-env': 'prod-', 'x-token': 'admin', 'x-trace': 'a' }), true);
    assert.equal(allowed({ 'x-env': 'prod', 'x-token': 'admin', 'x-trace': 'a' }), false, 'one character short of the prefix');
    assert.equal(allowed({ 'x-env': 'prod-1', 'x-token': 'Admin', 'x-trace': 'a' }), false, 'values are case-sensitive');
    assert.equal(allowed({ 'x-env': 'prod-1', 'x-token': 'admin' }), false, 'present needs the header');
  });

  it('GIVEN a destination that validates tokens THEN an invalid token or one of another issuer is refused before any rule, and no token is not', () => {
    const m = withIssuers(model([web, api], [rule('allow', [{ kind: 'anyone' }], 'shop/api', ['http', 'db']), rule('allow', [jwt()], 'shop/api', ['http'])]));
    assert.equal(decide(m, fromWeb()).allowed, true, 'no token: the anyone rule decides');
    assert.equal(decide(m, fromWeb({ token: { kind: 'invalid', issuer: ISSUER } })).allowed, false);
    assert.match(decide(m, fromWeb({ token: { kind: 'invalid', issuer: ISSUER } })).reason, /401/);
    assert.equal(decide(m, fromWeb({ token: { kind: 'valid', issuer: OTHER_ISSUER, subject: 'a', claims: {} } })).allowed, false);
    // A TCP port never reads a token.
    assert.equal(decide(m, { client: fromWeb().client, destination: 'shop/api', port: 5432, token: { kind: 'invalid', issuer: ISSUER } }).allowed, true);
  });

  it('GIVEN a request identity with a subject and claims THEN only a valid token with that subject and every claim matches', () => {
    const source: SourceModel = { kind: 'requestIdentity', issuer: ISSUER, subject: 'alice', claims: { role: 'admin' } };
    const m = withIssuers(model([web, api], [rule('allow', [source], 'shop/api', ['http'])]));
    const token = (subject: string, claims: Record<string, string>) => ({ kind: 'valid' as const, issuer: ISSUER, subject, claims });
    assert.equal(decide(m, fromWeb({ token: token('alice', { role: 'admin', team: 'x' }) })).allowed, true);
    assert.equal(decide(m, fromWeb({ token: token('bob', { role: 'admin' }) })).allowed, false);
    assert.equal(decide(m, fromWeb({ token: token('alice', { role: 'viewer' }) })).allowed, false);
    assert.equal(decide(m, fromWeb({ token: token('alice', {}) })).allowed, false);
    assert.equal(decide(m, fromWeb()).allowed, false, 'no token never matches a request identity');
  });

  it('the request space probes every edge: each header absent, empty, at, under and over its value, upper-cased names, and each token kind', () => {
    const m = withIssuers(
      model(
        [web, api],
        [
          headerRule('allow', [{ kind: 'service', service: 'shop/web' }], [{ name: 'x-env', match: { kind: 'prefix', value: 'prod-' } }]),
          rule('allow', [{ kind: 'requestIdentity', issuer: ISSUER, subject: 'alice', claims: { role: 'admin' } }], 'shop/api', ['http']),
        ],
      ),
    );
    const requests = requestSpace(m).filter((r) => r.destination === 'shop/api' && r.port === 8080);
    const envValues = new Set(requests.map((r) => r.headers?.['x-env']));
    for (const v of [undefined, '', 'prod-', 'prod', 'prod-x']) assert.ok(envValues.has(v), `x-env ${String(v)}`);
    assert.ok(requests.some((r) => r.headers?.['X-ENV'] === 'prod-'));
    const tokens = new Set(requests.map((r) => JSON.stringify(r.token ?? null)));
    for (const t of [
      null,
      { kind: 'invalid', issuer: ISSUER },
      { kind: 'valid', issuer: ISSUER, subject: 'alice', claims: { role: 'admin' } },
      { kind: 'valid', issuer: ISSUER, subject: 'alicex', claims: { role: 'admin' } },
      { kind: 'valid', issuer: ISSUER, subject: 'alice', claims: {} },
      { kind: 'valid', issuer: ISSUER, subject: 'alice', claims: { role: 'adminx' } },
    ])
      assert.ok(tokens.has(JSON.stringify(t)), JSON.stringify(t));
    assert.ok(
      [...tokens].some((t) => t.includes('policyc-unknown-issuer')),
      'a token of an issuer the destination does not validate',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The Istio simulator's traps, each from its source

const istio = createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
const workload: Workload = {
  namespace: 'shop',
  name: 'api',
  serviceAccount: 'api',
  labels: { app: 'api' },
  ports: [{ name: 'http', port: 8080, protocol: 'http' }],
};
const requestAuthentication: ManifestObject = {
  apiVersion: 'security.istio.io/v1',
  kind: 'RequestAuthentication',
  metadata: { name: 'api-jwt', namespace: 'shop' },
  spec: { selector: { matchLabels: { app: 'api' } }, jwtRules: [{ issuer: ISSUER, jwksUri: `${ISSUER}/jwks.json` }] },
};
const allowPolicy = (rules: unknown[]): ManifestObject => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'api-allow', namespace: 'shop' },
  spec: { selector: { matchLabels: { app: 'api' } }, action: 'ALLOW', rules },
});
const call = (extra: Partial<SimulatedRequest> = {}): SimulatedRequest => ({
  client: { ip: '10.0.0.1', identity: { namespace: 'shop', serviceAccount: 'web' } },
  destination: workload,
  port: 8080,
  method: 'GET',
  path: '/',
  ...extra,
});
const alice = { iss: ISSUER, sub: 'alice', claims: { role: 'admin' }, signedByIssuer: true };

describe('the Istio simulator: RequestAuthentication, requestPrincipals and `when`', () => {
  it('istio.io authn-policy task "Require a valid token": an ALLOW on requestPrincipals without a RequestAuthentication admits no one, even with a valid token', () => {
    const objects = [allowPolicy([{ from: [{ source: { requestPrincipals: [`${ISSUER}/*`] } }] }])];
    assert.equal(istio.decide(objects, call({ jwt: alice })).verdict, 'deny');
    assert.equal(istio.decide([requestAuthentication, ...objects], call({ jwt: alice })).verdict, 'allow');
  });

  it('istio.io RequestAuthentication reference: a request without a token is accepted by RequestAuthentication alone; an invalid one is rejected (401)', () => {
    assert.equal(istio.decide([requestAuthentication], call()).verdict, 'allow');
    const invalid = istio.decide([requestAuthentication], call({ jwt: { ...alice, signedByIssuer: false } }));
    assert.equal(invalid.verdict, 'deny');
    assert.match(invalid.reason, /401/);
  });

  it('envoyproxy/envoy#15194: a token of an issuer no jwtRule names is rejected, not treated as missing; without a RequestAuthentication it is not read', () => {
    const stranger = { ...alice, iss: OTHER_ISSUER };
    assert.equal(istio.decide([requestAuthentication], call({ jwt: stranger })).verdict, 'deny');
    assert.equal(istio.decide([], call({ jwt: { ...alice, signedByIssuer: false } })).verdict, 'allow');
  });

  it('istio.io authorization conditions: request.auth.claims[role] matches a claim of the validated token', () => {
    const objects = [
      requestAuthentication,
      allowPolicy([{ from: [{ source: { requestPrincipals: [`${ISSUER}/alice`] } }], when: [{ key: 'request.auth.claims[role]', values: ['admin'] }] }]),
    ];
    assert.equal(istio.decide(objects, call({ jwt: alice })).verdict, 'allow');
    assert.equal(istio.decide(objects, call({ jwt: { ...alice, claims: { role: 'viewer' } } })).verdict, 'deny');
    assert.equal(istio.decide(objects, call({ jwt: { ...alice, sub: 'bob' } })).verdict, 'deny');
  });

  it('istio pilot/pkg/security/authz/matcher/header.go: a `when` request.headers key matches names case-insensitively; `*` is presence (even empty), `v*` a prefix', () => {
    const objects = [
      allowPolicy([
        {
          when: [
            { key: 'request.headers[x-token]', values: ['admin'] },
            { key: 'request.headers[x-env]', values: ['prod-*'] },
            { key: 'request.headers[x-trace]', values: ['*'] },
          ],
        },
      ]),
    ];
    assert.equal(istio.decide(objects, call({ headers: { 'X-Token': 'admin', 'X-ENV': 'prod-7', 'x-trace': '' } })).verdict, 'allow');
    assert.equal(istio.decide(objects, call({ headers: { 'x-token': 'admin', 'x-env': 'prod', 'x-trace': 'a' } })).verdict, 'deny');
    assert.equal(istio.decide(objects, call({ headers: { 'x-token': 'admin', 'x-env': 'prod-1' } })).verdict, 'deny');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The targets, from policy source

const head = `import { allow, deny, anyone, exact, jwtIssuer, mesh, namespace, prefix, present, requestIdentity, service } from 'policyc';
const shop = namespace('shop');
export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });
export const api = service(shop, 'api', { ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });
export const accounts = jwtIssuer({ issuer: '${ISSUER}', jwksUri: '${ISSUER}/jwks.json' });
`;
const jwtPolicy = `${head}export default mesh({ services: [web, api], rules: [
  allow(requestIdentity(accounts, { claims: { role: 'admin' } })).to(api, { ports: ['http'], paths: ['/admin/*'] }),
  allow(web).to(api, { ports: ['http'], headers: { 'x-env': prefix('prod-'), 'x-token': exact('t') } }),
  deny(anyone).to(api, { ports: ['http'], headers: { 'x-debug': present } }),
] });`;

function built(source: string, targets = [istioTarget, linkerdTarget, istioAmbientTarget]) {
  const dir = tempProject({ 'policy.ts': source });
  const result = compile({ entry: path.join(dir, 'policy.ts'), targets });
  assert.ok(result.model !== undefined, JSON.stringify(result.diagnostics));
  return { model: result.model, result };
}

describe('the targets', () => {
  it('Istio: one RequestAuthentication for the destination, requestPrincipals + claims and header `when`s; verify finds 0 mismatches, and finds the breach when the RequestAuthentication is left out', () => {
    const { model: m } = built(jwtPolicy);
    const output = istioTarget.compile(m, { spanOf: () => undefined });
    const objects = output.objects as unknown as ManifestObject[];
    const ra = objects.filter((o) => o.kind === 'RequestAuthentication');
    assert.deepEqual(
      ra.map((o) => [o.metadata.namespace, o.metadata.name, o['spec']]),
      [['shop', 'api-jwt', { selector: { matchLabels: { app: 'api' } }, jwtRules: [{ issuer: ISSUER, jwksUri: `${ISSUER}/jwks.json` }] }]],
    );
    const allowRules = (objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata.name === 'api-allow')?.['spec'] as { rules: unknown[] }).rules;
    assert.deepEqual(allowRules, [
      {
        from: [{ source: { requestPrincipals: [`${ISSUER}/*`] } }],
        to: [{ operation: { ports: ['8080'], paths: ['/admin/*'] } }],
        when: [{ key: 'request.auth.claims[role]', values: ['admin'] }],
      },
      {
        from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }],
        to: [{ operation: { ports: ['8080'] } }],
        when: [
          { key: 'request.headers[x-env]', values: ['prod-*'] },
          { key: 'request.headers[x-token]', values: ['t'] },
        ],
      },
    ]);
    const denyRules = (objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata.name === 'api-deny')?.['spec'] as { rules: unknown[] }).rules;
    assert.deepEqual(denyRules, [{ to: [{ operation: { ports: ['8080'] } }], when: [{ key: 'request.headers[x-debug]', values: ['*'] }] }]);
    const good = verify(m, objects, istio);
    assert.equal(good.mismatches.length, 0, JSON.stringify(good.mismatches[0]));
    assert.equal(good.unsupported.length, 0);
    assert.ok(good.checked > 100);
    // Without the RequestAuthentication, invalid tokens pass and request principals never match: both directions differ.
    const broken = verify(
      m,
      objects.filter((o) => o.kind !== 'RequestAuthentication'),
      istio,
    );
    assert.ok(broken.mismatches.some((x) => x.overPermissive && x.request.token?.kind === 'invalid'));
    assert.ok(broken.mismatches.some((x) => !x.overPermissive && x.request.token?.kind === 'valid'));
  });

  it("Linkerd refuses a request identity (PC4111) and a deny's presence header condition (PC4112), each at its rule, saying what to write instead; the allow's header conditions compile", () => {
    const { result } = built(jwtPolicy);
    const linkerd = result.diagnostics.filter((d) => d.code === 'PC4111' || d.code === 'PC4112');
    assert.deepEqual(
      linkerd.map((d) => [d.code, d.span?.line]),
      [
        ['PC4111', 7],
        ['PC4112', 9],
      ],
    );
    assert.match(linkerd[0]?.message ?? '', /--target istio/);
  });

  it('Istio ambient refuses a request identity (PC4210) at its rule, and compiles header conditions for the waypoint, proved by its simulator', () => {
    const refused = built(jwtPolicy).result.diagnostics.filter((d) => d.code === 'PC4210');
    assert.deepEqual(
      refused.map((d) => d.span?.line),
      [7],
    );
    const { model: m, result } = built(
      `${head}export default mesh({ services: [web, api], rules: [allow(web).to(api, { ports: ['http'], headers: { 'x-env': prefix('prod-') } }), deny(web).to(api, { ports: ['http'], headers: { 'x-debug': present } })] });`,
      [istioAmbientTarget],
    );
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    const output = istioAmbientTarget.compile(m, { spanOf: () => undefined });
    const objects = output.objects as unknown as ManifestObject[];
    const allow = objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata.name === 'api-allow');
    assert.deepEqual((allow?.['spec'] as { targetRefs?: unknown }).targetRefs, [{ group: '', kind: 'Service', name: 'api' }]);
    assert.match(JSON.stringify(allow?.['spec']), /request\.headers\[x-env\]/);
    const simulated = verify(
      m,
      [...objects, ...((output.patches ?? []) as unknown as ManifestObject[])],
      createIstioAmbientSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' }),
    );
    assert.equal(simulated.mismatches.length, 0, JSON.stringify(simulated.mismatches[0]));
    assert.equal(simulated.unsupported.length, 0, JSON.stringify(simulated.unsupported[0]));
  });
});

describe('review', () => {
  it('explain, graph and diff show header conditions and request identities', () => {
    const dir = tempProject({ 'policy.ts': jwtPolicy });
    const explain = runCli(
      ['explain', 'shop/web', 'shop/api', '--entry', 'policy.ts', '--target', 'istio', '--port', 'http', '--header', 'X-Env: prod-1', '--header', 'x-token: t'],
      dir,
    );
    assert.equal(explain.exit, 0, explain.stderr);
    assert.match(explain.stdout, /\[X-Env: "prod-1", x-token: "t"\]/);
    assert.match(explain.stdout, /policy: ALLOWED/);
    assert.match(explain.stdout, /istio: ALLOW/);
    const invalid = runCli(
      ['explain', 'shop/web', 'shop/api', '--entry', 'policy.ts', '--target', 'istio', '--port', 'http', '--jwt', `invalid:${ISSUER}`],
      dir,
    );
    assert.match(invalid.stdout, /policy: DENIED — .*401/);
    assert.match(invalid.stdout, /istio: DENY — 401/);
    const graph = runCli(['graph', 'policy.ts'], dir);
    assert.equal(graph.exit, 0, graph.stderr);
    assert.match(graph.stdout, /jwt https:\/\/accounts\.example\.com/);
    assert.match(graph.stdout, /with x-env: prefix\(#quot;prod-#quot;\), x-token: exact\(#quot;t#quot;\) except with x-debug: present/);
    assert.match(graph.stdout, /role=admin/);
  });

  it('diff: a header condition added to a rule narrows the edge, and a new request identity is granted', () => {
    const before = built(`${head}export default mesh({ services: [web, api], rules: [allow(web).to(api, { ports: ['http'] })] });`, []).model;
    const after = built(jwtPolicy, []).model;
    const text = formatDiffText(diffModels(before, after, { base: 'main', head: 'work', targets: [istioTarget] }));
    assert.match(text, /narrowed/);
    assert.match(text, /with x-env: prefix\("prod-"\), x-token: exact\("t"\)/);
    assert.match(text, /jwt:https:\/\/accounts\.example\.com\/\* \{role=admin\}/);
  });
});
