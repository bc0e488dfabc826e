/**
 * The Istio semantics simulator (verify/istio): GIVEN hand-written security.istio.io objects and a request, WHEN the
 * simulator decides it, THEN the verdict is the one shared/docs/istio.md gives. Each test names the section it encodes.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ManifestObject, SimulatedDecision, SimulatedRequest, Workload } from '../verify/simulator';
import { createIstioSimulator } from '../verify/istio';

const ROOT = 'istio-system';
const istio = createIstioSimulator({ rootNamespace: ROOT, trustDomain: 'cluster.local' });

function ap(namespace: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): ManifestObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace, ...(annotations === undefined ? {} : { annotations }) },
    spec,
  };
}

function pa(namespace: string, name: string, spec: Record<string, unknown>, creationTimestamp?: string): ManifestObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace, ...(creationTimestamp === undefined ? {} : { creationTimestamp }) },
    spec,
  };
}

const web: Workload = {
  namespace: 'shop',
  name: 'web',
  serviceAccount: 'web',
  labels: { app: 'web', tier: 'front' },
  ports: [
    { name: 'http', port: 8080, protocol: 'http' },
    { name: 'db', port: 5432, protocol: 'tcp' },
    { name: 'rpc', port: 9090, protocol: 'grpc' },
  ],
};
const api: Workload = {
  namespace: 'shop',
  name: 'api',
  serviceAccount: 'api-sa',
  labels: { app: 'api' },
  ports: [{ name: 'http', port: 8080, protocol: 'http' }],
};
const billing: Workload = {
  namespace: 'billing',
  name: 'pay',
  serviceAccount: 'pay',
  labels: { app: 'pay' },
  ports: [{ name: 'http', port: 8080, protocol: 'http' }],
};

type Client = SimulatedRequest['client'];
const mtlsFrom = (namespace: string, serviceAccount: string, ip = '10.1.2.3'): Client => ({ identity: { namespace, serviceAccount }, ip });
const plaintext = (ip = '10.1.2.3'): Client => ({ ip });

function request(client: Client, destination: Workload, port: number, method?: string, path?: string): SimulatedRequest {
  return { client, destination, port, ...(method === undefined ? {} : { method }), ...(path === undefined ? {} : { path }) };
}
const get = (client: Client, destination = web, path = '/'): SimulatedRequest => request(client, destination, 8080, 'GET', path);
const tcp = (client: Client, destination = web, port = 5432): SimulatedRequest => request(client, destination, port);

function expect(decision: SimulatedDecision, verdict: SimulatedDecision['verdict'], objects?: readonly string[]): void {
  assert.equal(decision.verdict, verdict, decision.reason);
  if (objects !== undefined) assert.deepEqual([...decision.objects].sort(), [...objects].sort(), decision.reason);
  assert.ok(decision.reason.length > 0);
}

// ---------------------------------------------------------------------------------------------------------------

describe('istio.md §3 checklist (traps)', () => {
  it('istio.md §3.1: GIVEN a DENY on namespaces [foo] and a PERMISSIVE workload WHEN a plaintext client from foo calls THEN it is NOT denied; STRICT resets it; a notPrincipals ["*"] DENY denies it', () => {
    const deny = ap('shop', 'deny-foo', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] });
    expect(istio.decide([deny], get(plaintext())), 'allow');
    expect(istio.decide([deny], get(mtlsFrom('foo', 'sleep'))), 'deny', ['AuthorizationPolicy shop/deny-foo']);
    const strict = pa('shop', 'default', { mtls: { mode: 'STRICT' } });
    const reset = istio.decide([deny, strict], get(plaintext()));
    expect(reset, 'deny', ['PeerAuthentication shop/default']);
    assert.match(reset.reason, /connection reset/);
    const denyPlain = ap('shop', 'deny-plaintext', { action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] });
    expect(istio.decide([deny, denyPlain], get(plaintext())), 'deny', ['AuthorizationPolicy shop/deny-plaintext']);
    expect(istio.decide([deny, denyPlain], get(mtlsFrom('shop', 'api'))), 'allow');
  });

  it('istio.md §3.2: GIVEN a DENY with methods [GET] and no ports WHEN a TCP connection arrives THEN it is denied; scoped with ports ["8080"] it leaves TCP alone', () => {
    const unscoped = ap('shop', 'deny-get', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] });
    expect(istio.decide([unscoped], tcp(mtlsFrom('shop', 'api'))), 'deny', ['AuthorizationPolicy shop/deny-get']);
    const scoped = ap('shop', 'deny-get', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'], ports: ['8080'] } }] }] });
    expect(istio.decide([scoped], tcp(mtlsFrom('shop', 'api'))), 'allow');
    expect(istio.decide([scoped], get(mtlsFrom('shop', 'api'))), 'deny');
    expect(istio.decide([scoped], request(mtlsFrom('shop', 'api'), web, 8080, 'POST', '/')), 'allow');
  });

  it('istio.md §3.3: GIVEN an ALLOW with methods or paths WHEN a TCP connection arrives THEN no rule matches and it is denied; a port-only rule allows it', () => {
    const httpAllow = ap('shop', 'allow', {
      rules: [{ to: [{ operation: { methods: ['GET'], ports: ['5432'] } }] }, { to: [{ operation: { paths: ['/x'] } }] }],
    });
    expect(istio.decide([httpAllow], tcp(mtlsFrom('shop', 'api'))), 'deny', ['AuthorizationPolicy shop/allow']);
    const portAllow = ap('shop', 'allow', { rules: [{ to: [{ operation: { ports: ['5432'] } }] }] });
    expect(istio.decide([portAllow], tcp(mtlsFrom('shop', 'api'))), 'allow', ['AuthorizationPolicy shop/allow']);
  });

  it('istio.md §3.4: GIVEN one ALLOW policy for one caller WHEN any other caller (gateway, scraper) calls THEN it is denied; without ALLOW policies it is allowed', () => {
    const allowApi = ap('shop', 'allow-api', {
      selector: { matchLabels: { app: 'web' } },
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/api-sa'] } }] }],
    });
    expect(istio.decide([allowApi], get(mtlsFrom('shop', 'api-sa'))), 'allow', ['AuthorizationPolicy shop/allow-api']);
    expect(istio.decide([allowApi], get(mtlsFrom('istio-system', 'istio-ingressgateway-service-account'))), 'deny', ['AuthorizationPolicy shop/allow-api']);
    expect(istio.decide([allowApi], get(mtlsFrom('monitoring', 'prometheus'))), 'deny');
    expect(istio.decide([], get(mtlsFrom('monitoring', 'prometheus'))), 'allow', []);
    // The ALLOW selects only app=web: api stays open.
    expect(istio.decide([allowApi], get(mtlsFrom('monitoring', 'prometheus'), api)), 'allow');
  });

  it('istio.md §3.5: GIVEN a Service port 80 → targetPort 8080 WHEN policies name the Service port THEN they do not apply; the container port does', () => {
    const servicePort = ap('shop', 'allow', { rules: [{ to: [{ operation: { ports: ['80'] } }] }] });
    expect(istio.decide([servicePort], get(mtlsFrom('shop', 'api'))), 'deny');
    const targetPort = ap('shop', 'allow', { rules: [{ to: [{ operation: { ports: ['8080'] } }] }] });
    expect(istio.decide([targetPort], get(mtlsFrom('shop', 'api'))), 'allow');
    const paServicePort = pa('shop', 'web', {
      selector: { matchLabels: { app: 'web' } },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 80: { mode: 'DISABLE' } },
    });
    expect(istio.decide([paServicePort], get(plaintext())), 'deny', ['PeerAuthentication shop/web']);
    const paTargetPort = pa('shop', 'web', {
      selector: { matchLabels: { app: 'web' } },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 8080: { mode: 'DISABLE' } },
    });
    expect(istio.decide([paTargetPort], get(plaintext())), 'allow');
  });

  it('istio.md §3.6: GIVEN `*` in the middle of a principal, methods in lower case, and namespace wildcards WHEN matched THEN the middle `*` is literal, `get` never matches GET, and namespaces accept `*` anywhere', () => {
    const middle = ap('shop', 'allow', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/*/sa/api'] } }] }] });
    expect(istio.decide([middle], get(mtlsFrom('team', 'api'))), 'deny');
    const prefix = ap('shop', 'allow', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/team/*'] } }] }] });
    expect(istio.decide([prefix], get(mtlsFrom('team', 'api'))), 'allow');
    const suffix = ap('shop', 'allow', { rules: [{ from: [{ source: { principals: ['*/sa/api'] } }] }] });
    expect(istio.decide([suffix], get(mtlsFrom('team', 'api'))), 'allow');
    expect(istio.decide([suffix], get(mtlsFrom('team', 'apix'))), 'deny');
    const lower = ap('shop', 'allow', { rules: [{ to: [{ operation: { methods: ['get'] } }] }] });
    expect(istio.decide([lower], get(mtlsFrom('shop', 'api'))), 'deny');
    const ns = ap('shop', 'allow', { rules: [{ from: [{ source: { namespaces: ['team-*-prod'] } }] }] });
    expect(istio.decide([ns], get(mtlsFrom('team-a-prod', 'x'))), 'allow');
    expect(istio.decide([ns], get(mtlsFrom('team-a-dev', 'x'))), 'deny');
    const hosts = ap('shop', 'allow', { rules: [{ to: [{ operation: { hosts: ['Web.shop'] } }] }] });
    expect(istio.decide([hosts], get(mtlsFrom('shop', 'api'))), 'unsupported', ['AuthorizationPolicy shop/allow']);
  });

  it('istio.md §3.7: GIVEN two namespace-wide PeerAuthentications WHEN a request is decided THEN the result is unsupported (the oldest wins, and manifests carry no age); with creationTimestamps the oldest decides', () => {
    const strict = pa('shop', 'a-strict', { mtls: { mode: 'STRICT' } });
    const disable = pa('shop', 'b-disable', { mtls: { mode: 'DISABLE' } });
    const decision = istio.decide([strict, disable], get(plaintext()));
    expect(decision, 'unsupported', ['PeerAuthentication shop/a-strict', 'PeerAuthentication shop/b-disable']);
    const older = pa('shop', 'z-strict', { mtls: { mode: 'STRICT' } }, '2024-01-01T00:00:00Z');
    const newer = pa('shop', 'a-disable', { mtls: { mode: 'DISABLE' } }, '2024-06-01T00:00:00Z');
    expect(istio.decide([newer, older], get(plaintext())), 'deny', ['PeerAuthentication shop/z-strict']);
    // Same second: the name decides.
    const tieA = pa('shop', 'a', { mtls: { mode: 'DISABLE' } }, '2024-01-01T00:00:00.100Z');
    const tieB = pa('shop', 'b', { mtls: { mode: 'STRICT' } }, '2024-01-01T00:00:00.000Z');
    expect(istio.decide([tieB, tieA], get(plaintext())), 'allow');
    // Two workload PAs selecting one pod are ambiguous too.
    const w1 = pa('shop', 'w1', { selector: { matchLabels: { app: 'web' } }, mtls: { mode: 'STRICT' } });
    const w2 = pa('shop', 'w2', { selector: { matchLabels: { tier: 'front' } }, mtls: { mode: 'PERMISSIVE' } });
    expect(istio.decide([w1, w2], get(plaintext())), 'unsupported');
  });

  it('istio.md §3.8: GIVEN an AuthorizationPolicy with targetRefs WHEN a sidecar workload is called THEN the policy is ignored, not applied namespace-wide', () => {
    const waypointOnly = ap('shop', 'allow-nothing-waypoint', { targetRefs: [{ kind: 'Service', group: '', name: 'web' }] });
    expect(istio.decide([waypointOnly], get(mtlsFrom('shop', 'api'))), 'allow', []);
    const denyAll = ap('shop', 'deny-all', { action: 'DENY', targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw' }, rules: [{}] });
    expect(istio.decide([denyAll], get(mtlsFrom('shop', 'api'))), 'allow');
  });

  it('istio.md §3.9: GIVEN a root-namespace ALLOW with a selector and a root-namespace DENY without one WHEN workloads in other namespaces are called THEN both reach them', () => {
    const rootAllow = ap(ROOT, 'pay-only-from-shop', { selector: { matchLabels: { app: 'pay' } }, rules: [{ from: [{ source: { namespaces: ['shop'] } }] }] });
    expect(istio.decide([rootAllow], get(mtlsFrom('shop', 'web'), billing)), 'allow', ['AuthorizationPolicy istio-system/pay-only-from-shop']);
    expect(istio.decide([rootAllow], get(mtlsFrom('other', 'x'), billing)), 'deny');
    expect(istio.decide([rootAllow], get(mtlsFrom('other', 'x'), web)), 'allow');
    const meshDeny = ap(ROOT, 'deny-evil', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['evil'] } }] }] });
    expect(istio.decide([meshDeny], get(mtlsFrom('evil', 'x'), billing)), 'deny');
    expect(istio.decide([meshDeny], get(mtlsFrom('evil', 'x'), web)), 'deny');
    // Another namespace's policy does not reach the workload.
    const otherNs = ap('billing', 'allow-nothing', {});
    expect(istio.decide([otherNs], get(mtlsFrom('evil', 'x'), web)), 'allow');
  });

  it('istio.md §3.10: GIVEN ALLOW with rules omitted, ALLOW with rules [{}] and DENY with rules [{}] or none WHEN called THEN deny-all, allow-all, deny-all, and never-matches', () => {
    expect(istio.decide([ap('shop', 'allow-nothing', {})], get(mtlsFrom('shop', 'api'))), 'deny', ['AuthorizationPolicy shop/allow-nothing']);
    expect(istio.decide([ap('shop', 'allow-nothing', { action: 'ALLOW', rules: [] })], get(mtlsFrom('shop', 'api'))), 'deny');
    expect(istio.decide([ap('shop', 'allow-nothing', {}), ap('shop', 'allow-all', { rules: [{}] })], get(plaintext())), 'allow', [
      'AuthorizationPolicy shop/allow-all',
    ]);
    expect(istio.decide([ap('shop', 'deny-all', { action: 'DENY', rules: [{}] })], tcp(mtlsFrom('shop', 'api'))), 'deny');
    const denyNoRules = istio.decide([ap('shop', 'deny-nothing', { action: 'DENY' })], get(mtlsFrom('shop', 'api')));
    expect(denyNoRules, 'allow');
    assert.match(denyNoRules.reason, /DENY without rules/);
  });

  it('istio.md §3.11: GIVEN a source mixing serviceAccounts and principals WHEN decided THEN unsupported (CEL rejects it); serviceAccounts alone match ns/sa or the policy namespace', () => {
    const mixed = ap('shop', 'mixed', { rules: [{ from: [{ source: { serviceAccounts: ['shop/api'], principals: ['cluster.local/ns/shop/sa/api'] } }] }] });
    expect(istio.decide([mixed], get(mtlsFrom('shop', 'api'))), 'unsupported', ['AuthorizationPolicy shop/mixed']);
    const sas = ap('shop', 'sas', { rules: [{ from: [{ source: { serviceAccounts: ['api', 'billing/pay'] } }] }] });
    expect(istio.decide([sas], get(mtlsFrom('shop', 'api'))), 'allow');
    expect(istio.decide([sas], get(mtlsFrom('billing', 'pay'))), 'allow');
    expect(istio.decide([sas], get(mtlsFrom('billing', 'api'))), 'deny');
    expect(istio.decide([sas], get(plaintext())), 'deny');
  });

  it('istio.md §3.12: GIVEN principals under cluster.local, the trust domain, an alias and a foreign domain WHEN the mesh trust domain is new-td with alias old-td THEN the first three match and the foreign one is literal', () => {
    const migrated = createIstioSimulator({ rootNamespace: ROOT, trustDomain: 'new-td', trustDomainAliases: ['old-td'] });
    for (const td of ['cluster.local', 'new-td', 'old-td']) {
      const allow = ap('shop', 'allow', { rules: [{ from: [{ source: { principals: [`${td}/ns/shop/sa/api`] } }] }] });
      expect(migrated.decide([allow], get(mtlsFrom('shop', 'api'))), 'allow');
    }
    const foreign = ap('shop', 'allow', { rules: [{ from: [{ source: { principals: ['other-td/ns/shop/sa/api'] } }] }] });
    expect(migrated.decide([foreign], get(mtlsFrom('shop', 'api'))), 'deny');
    // Without the alias the old-td principal stops matching (the td-migration task's 403).
    const noAlias = createIstioSimulator({ rootNamespace: ROOT, trustDomain: 'new-td' });
    const oldTd = ap('shop', 'allow', { rules: [{ from: [{ source: { principals: ['old-td/ns/shop/sa/api'] } }] }] });
    expect(noAlias.decide([oldTd], get(mtlsFrom('shop', 'api'))), 'deny');
    expect(migrated.decide([oldTd], get(mtlsFrom('shop', 'api'))), 'allow');
  });
});

describe('istio.md §1.5 mTLS-only fields on plaintext (fail-open trap)', () => {
  it('istio.md §1.5: GIVEN ALLOW principals [X] WHEN a plaintext request arrives THEN it is denied (safe)', () => {
    const allow = ap('shop', 'allow', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/x'] } }] }] });
    expect(istio.decide([allow], get(plaintext())), 'deny');
    expect(istio.decide([allow], get(mtlsFrom('foo', 'x'))), 'allow');
  });

  it('istio.md §1.5: GIVEN ALLOW notNamespaces [foo] WHEN a plaintext request comes from foo THEN it is ALLOWED (bypass)', () => {
    const allow = ap('shop', 'allow', { rules: [{ from: [{ source: { notNamespaces: ['foo'] } }] }] });
    expect(istio.decide([allow], get(plaintext())), 'allow');
    expect(istio.decide([allow], get(mtlsFrom('foo', 'x'))), 'deny');
    const allowNotSa = ap('shop', 'allow', { rules: [{ from: [{ source: { notServiceAccounts: ['foo/x'] } }] }] });
    expect(istio.decide([allowNotSa], get(plaintext())), 'allow');
    expect(istio.decide([allowNotSa], get(mtlsFrom('foo', 'x'))), 'deny');
  });

  it('istio.md §1.5: GIVEN DENY namespaces [foo] WHEN a plaintext request comes from foo THEN it is NOT denied (bypass)', () => {
    const deny = ap('shop', 'deny', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] });
    expect(istio.decide([deny], get(plaintext())), 'allow');
  });

  it('istio.md §1.5: GIVEN a client with a sidecar WHEN its port is DISABLE THEN auto-mTLS sends plaintext and identity fields do not match', () => {
    const disable = pa('shop', 'web', { selector: { matchLabels: { app: 'web' } }, mtls: { mode: 'DISABLE' } });
    const deny = ap('shop', 'deny', { action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/x'] } }] }] });
    expect(istio.decide([disable, deny], get(mtlsFrom('foo', 'x'))), 'allow');
    expect(istio.decide([deny], get(mtlsFrom('foo', 'x'))), 'deny');
  });

  it('istio.md §1.5: GIVEN identity `when` conditions (source.namespace, source.principal) WHEN the request is plaintext THEN values never match and notValues always match', () => {
    const denyWhen = ap('shop', 'deny', { action: 'DENY', rules: [{ when: [{ key: 'source.namespace', values: ['foo'] }] }] });
    expect(istio.decide([denyWhen], get(plaintext())), 'allow');
    expect(istio.decide([denyWhen], get(mtlsFrom('foo', 'x'))), 'deny');
    const allowWhen = ap('shop', 'allow', { rules: [{ when: [{ key: 'source.principal', notValues: ['cluster.local/ns/foo/sa/x'] }] }] });
    expect(istio.decide([allowWhen], get(plaintext())), 'allow');
    expect(istio.decide([allowWhen], get(mtlsFrom('foo', 'x'))), 'deny');
  });

  it('istio.md §1.5 fixes: GIVEN STRICT, or ALLOW namespaces ["*"], or DENY notPrincipals ["*"] WHEN a plaintext request arrives THEN it is rejected', () => {
    const allow = ap('shop', 'allow', { rules: [{ from: [{ source: { notNamespaces: ['foo'] } }] }] });
    expect(istio.decide([allow, pa(ROOT, 'default', { mtls: { mode: 'STRICT' } })], get(plaintext())), 'deny', ['PeerAuthentication istio-system/default']);
    const allowAuthenticated = ap('shop', 'allow', { rules: [{ from: [{ source: { namespaces: ['*'], notNamespaces: ['foo'] } }] }] });
    expect(istio.decide([allowAuthenticated], get(plaintext())), 'deny');
    expect(istio.decide([allowAuthenticated], get(mtlsFrom('bar', 'x'))), 'allow');
    const denyPlain = ap('shop', 'deny-plain', { action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] });
    expect(istio.decide([allow, denyPlain], get(plaintext())), 'deny', ['AuthorizationPolicy shop/deny-plain']);
  });
});

describe('istio.md §1.7 HTTP-only attributes on TCP', () => {
  const tcpEcho: Workload = {
    namespace: 'foo',
    name: 'tcp-echo',
    serviceAccount: 'tcp-echo',
    labels: { app: 'tcp-echo' },
    ports: [
      { name: 'tcp', port: 9000, protocol: 'tcp' },
      { name: 'tcp-other', port: 9001, protocol: 'tcp' },
      { name: 'tcp-undeclared-in-service', port: 9002, protocol: 'tcp' },
    ],
  };
  const client = mtlsFrom('foo', 'sleep');

  it('istio.md §1.7: GIVEN an ALLOW rule with methods [GET] and ports ["9000"] WHEN TCP reaches port 9000 THEN the rule is dropped and 9000 is denied', () => {
    const allow = ap('foo', 'tcp-policy', {
      selector: { matchLabels: { app: 'tcp-echo' } },
      action: 'ALLOW',
      rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }],
    });
    expect(istio.decide([allow], tcp(client, tcpEcho, 9000)), 'deny', ['AuthorizationPolicy foo/tcp-policy']);
  });

  it('istio.md §1.7: GIVEN an ALLOW rule with an HTTP-only field in one of several `to` entries or a request.headers `when` WHEN TCP arrives THEN the whole rule is dropped', () => {
    const allow = ap('foo', 'p', { rules: [{ to: [{ operation: { ports: ['9000'] } }, { operation: { paths: ['/x'] } }] }] });
    expect(istio.decide([allow], tcp(client, tcpEcho, 9000)), 'deny');
    const allowWhen = ap('foo', 'p', { rules: [{ to: [{ operation: { ports: ['9000'] } }], when: [{ key: 'request.headers[x-token]', values: ['a'] }] }] });
    expect(istio.decide([allowWhen], tcp(client, tcpEcho, 9000)), 'deny');
  });

  it('istio.md §1.7: GIVEN a DENY with only methods WHEN TCP arrives THEN it denies all TCP traffic', () => {
    const deny = ap('foo', 'tcp-policy', {
      selector: { matchLabels: { app: 'tcp-echo' } },
      action: 'DENY',
      rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
    });
    for (const port of [9000, 9001, 9002]) expect(istio.decide([deny], tcp(client, tcpEcho, port)), 'deny', ['AuthorizationPolicy foo/tcp-policy']);
  });

  it('istio.md §1.7: GIVEN a DENY with methods [GET] and ports ["9000"] WHEN TCP arrives THEN port 9000 is denied and 9001 is allowed', () => {
    const deny = ap('foo', 'tcp-policy', {
      selector: { matchLabels: { app: 'tcp-echo' } },
      action: 'DENY',
      rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }],
    });
    expect(istio.decide([deny], tcp(client, tcpEcho, 9000)), 'deny');
    expect(istio.decide([deny], tcp(client, tcpEcho, 9001)), 'allow');
  });

  it('istio.md §1.7: GIVEN a DENY whose only condition is a request.headers `when` WHEN TCP arrives THEN it denies all TCP (no webhook warning covers this)', () => {
    const deny = ap('foo', 'p', { action: 'DENY', rules: [{ when: [{ key: 'request.headers[x-token]', notValues: ['admin'] }] }] });
    expect(istio.decide([deny], tcp(client, tcpEcho, 9001)), 'deny');
    // On an HTTP port the header decides (notValues: denied unless the header is `admin`; names compare case-insensitively).
    const onHttp = [ap('shop', 'p', { action: 'DENY', rules: [{ when: [{ key: 'request.headers[x-token]', notValues: ['admin'] }] }] })];
    expect(istio.decide(onHttp, get(client)), 'deny');
    expect(istio.decide(onHttp, { ...get(client), headers: { 'X-Token': 'admin' } }), 'allow');
  });

  it('istio.md §1.7: GIVEN a DENY with notRequestPrincipals ["*"] and a `from` namespace WHEN TCP arrives THEN only the namespace condition stays (the rule widens)', () => {
    const deny = ap('foo', 'p', { action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'], namespaces: ['bar'] } }] }] });
    expect(istio.decide([deny], tcp(mtlsFrom('bar', 'x'), tcpEcho, 9000)), 'deny');
    expect(istio.decide([deny], tcp(mtlsFrom('foo', 'x'), tcpEcho, 9000)), 'allow');
  });

  it('istio.md §1.7: GIVEN remoteIpBlocks (not HTTP-only; PROXY protocol) WHEN decided THEN unsupported rather than dropped', () => {
    const allow = ap('foo', 'p', { rules: [{ from: [{ source: { remoteIpBlocks: ['1.2.3.4'] } }] }] });
    expect(istio.decide([allow], tcp(client, tcpEcho, 9000)), 'unsupported', ['AuthorizationPolicy foo/p']);
  });
});

describe('istio.md §2 PeerAuthentication resolution', () => {
  const workloadStrict = pa('shop', 'web', { selector: { matchLabels: { app: 'web' } }, mtls: { mode: 'STRICT' } });

  it('istio.md §2: GIVEN nothing set WHEN a plaintext client calls THEN PERMISSIVE accepts it', () => {
    expect(istio.decide([], get(plaintext())), 'allow');
  });

  it('istio.md §2: GIVEN mesh STRICT, namespace UNSET and workload UNSET WHEN a plaintext client calls THEN UNSET falls through to STRICT', () => {
    const mesh = pa(ROOT, 'default', { mtls: { mode: 'STRICT' } });
    const ns = pa('shop', 'default', { mtls: { mode: 'UNSET' } });
    const wl = pa('shop', 'web', { selector: { matchLabels: { app: 'web' } } });
    expect(istio.decide([mesh, ns, wl], get(plaintext())), 'deny', ['PeerAuthentication istio-system/default']);
    expect(istio.decide([mesh, ns, wl], get(mtlsFrom('a', 'b'))), 'allow');
  });

  it('istio.md §2: GIVEN namespace STRICT and a workload DISABLE WHEN a plaintext client calls THEN the narrowest scope (workload) wins', () => {
    const ns = pa('shop', 'default', { mtls: { mode: 'STRICT' } });
    const wl = pa('shop', 'overwrite', { selector: { matchLabels: { app: 'web' } }, mtls: { mode: 'DISABLE' } });
    expect(istio.decide([ns, wl], get(plaintext())), 'allow');
    expect(istio.decide([ns, wl], get(plaintext(), api)), 'deny', ['PeerAuthentication shop/default']);
  });

  it('istio.md §2: GIVEN a workload PA with portLevelMtls 5432 UNSET and 8080 PERMISSIVE WHEN plaintext arrives THEN 5432 inherits STRICT and 8080 is PERMISSIVE', () => {
    const wl = pa('shop', 'web', {
      selector: { matchLabels: { app: 'web' } },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 5432: { mode: 'UNSET' }, 8080: { mode: 'PERMISSIVE' } },
    });
    expect(istio.decide([wl], tcp(plaintext())), 'deny');
    expect(istio.decide([wl], get(plaintext())), 'allow');
    // Port-level UNSET inherits the workload result even when that comes from the namespace.
    const wlUnset = pa('shop', 'web', { selector: { matchLabels: { app: 'web' } }, portLevelMtls: { 5432: { mode: 'UNSET' } } });
    expect(istio.decide([wlUnset, pa('shop', 'default', { mtls: { mode: 'STRICT' } })], tcp(plaintext())), 'deny', ['PeerAuthentication shop/default']);
  });

  it('istio.md §2: GIVEN a PA with a selector in the root namespace WHEN its pods are called THEN it is ignored', () => {
    const rootSelector = pa(ROOT, 'web-strict', { selector: { matchLabels: { app: 'web' } }, mtls: { mode: 'STRICT' } });
    expect(istio.decide([rootSelector], get(plaintext())), 'allow');
  });

  it('istio.md §2: GIVEN portLevelMtls without a selector, or a dry-run annotation on a PA WHEN consulted THEN unsupported (rejected by CEL / the webhook)', () => {
    expect(istio.decide([pa('shop', 'default', { mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } })], get(plaintext())), 'unsupported');
    const dry: ManifestObject = { ...workloadStrict, metadata: { name: 'web', namespace: 'shop', annotations: { 'istio.io/dry-run': 'true' } } };
    expect(istio.decide([dry], get(plaintext())), 'unsupported');
  });

  it('istio.md §2: GIVEN v1beta1 objects and non-security kinds WHEN decided THEN v1beta1 counts and the others are ignored', () => {
    const beta: ManifestObject = { ...workloadStrict, apiVersion: 'security.istio.io/v1beta1' };
    const vs: ManifestObject = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'x', namespace: 'shop' },
      spec: { hosts: ['*'] },
    };
    expect(istio.decide([beta, vs], get(plaintext())), 'deny', ['PeerAuthentication shop/web']);
  });
});

describe('istio.md §1.1–§1.4, §1.6, §1.8 evaluation and matching', () => {
  it('istio.md §1.1: GIVEN a matching DENY and a matching ALLOW WHEN decided THEN DENY wins', () => {
    const deny = ap('shop', 'deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] });
    const allow = ap('shop', 'allow', { rules: [{}] });
    expect(istio.decide([deny, allow], get(plaintext(), web, '/admin/x')), 'deny', ['AuthorizationPolicy shop/deny']);
    expect(istio.decide([deny, allow], get(plaintext(), web, '/public')), 'allow', ['AuthorizationPolicy shop/allow']);
  });

  it('istio.md §1.1: GIVEN dry-run policies WHEN decided THEN they are not enforced, and a dry-run-only ALLOW does not switch to default-deny', () => {
    const dry = { 'istio.io/dry-run': 'true' };
    expect(istio.decide([ap('shop', 'allow-nothing', {}, dry)], get(plaintext())), 'allow', []);
    expect(istio.decide([ap('shop', 'deny-all', { action: 'DENY', rules: [{}] }, dry)], get(plaintext())), 'allow');
    expect(istio.decide([ap('shop', 'deny-all', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'false' })], get(plaintext())), 'deny');
  });

  it('istio.md §1.1: GIVEN a CUSTOM policy WHEN it applies THEN unsupported; GIVEN AUDIT THEN it never changes the outcome', () => {
    const custom = ap('shop', 'ext', { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] });
    expect(istio.decide([custom], get(plaintext())), 'unsupported', ['AuthorizationPolicy shop/ext']);
    expect(istio.decide([ap('shop', 'audit', { action: 'AUDIT', rules: [{}] })], get(plaintext())), 'allow');
  });

  it('istio.md §1.2: GIVEN from/to/when in one rule WHEN one axis fails THEN the rule fails; from[] and values are OR-ed, fields AND-ed', () => {
    const allow = ap('shop', 'allow', {
      rules: [
        {
          from: [{ source: { namespaces: ['a'] } }, { source: { namespaces: ['b'], principals: ['cluster.local/ns/b/sa/ok'] } }],
          to: [{ operation: { methods: ['GET', 'HEAD'], notPaths: ['/private*'] } }],
          when: [{ key: 'destination.port', values: ['8080'] }],
        },
      ],
    });
    expect(istio.decide([allow], get(mtlsFrom('a', 'x'))), 'allow');
    expect(istio.decide([allow], request(mtlsFrom('a', 'x'), web, 8080, 'HEAD', '/')), 'allow');
    expect(istio.decide([allow], get(mtlsFrom('b', 'ok'))), 'allow');
    expect(istio.decide([allow], get(mtlsFrom('b', 'nope'))), 'deny');
    expect(istio.decide([allow], get(mtlsFrom('a', 'x'), web, '/private/1')), 'deny');
    expect(istio.decide([allow], request(mtlsFrom('a', 'x'), web, 8080, 'POST', '/')), 'deny');
  });

  it('istio.md §1.2: GIVEN explicitly empty from/to or an empty source WHEN decided THEN unsupported (rejected by the webhook)', () => {
    expect(istio.decide([ap('shop', 'p', { rules: [{ from: [] }] })], get(plaintext())), 'unsupported');
    expect(istio.decide([ap('shop', 'p', { rules: [{ to: [{ operation: {} }] }] })], get(plaintext())), 'unsupported');
    expect(istio.decide([ap('shop', 'p', { rules: [{ when: [{ key: 'source.ip' }] }] })], get(plaintext())), 'unsupported');
  });

  it('istio.md §1.2: GIVEN an unknown condition next to a failing one WHEN decided THEN the known failure decides; alone it is unsupported', () => {
    const allow = ap('shop', 'allow', { rules: [{ from: [{ source: { namespaces: ['a'] } }], to: [{ operation: { hosts: ['web'] } }] }] });
    expect(istio.decide([allow], get(mtlsFrom('b', 'x'))), 'deny');
    expect(istio.decide([allow], get(mtlsFrom('a', 'x'))), 'unsupported');
    const denyUnknown = ap('shop', 'deny', { action: 'DENY', rules: [{ to: [{ operation: { hosts: ['web'] } }] }] });
    // An unknown DENY cannot turn an already-denied request into an allowed one.
    expect(istio.decide([denyUnknown, ap('shop', 'allow-nothing', {})], get(mtlsFrom('a', 'x'))), 'deny', ['AuthorizationPolicy shop/allow-nothing']);
  });

  it('istio.md §1.3: GIVEN selector matchLabels WHEN the pod lacks one label THEN the policy does not apply; an empty selector applies to all', () => {
    const p = ap('shop', 'allow-nothing', { selector: { matchLabels: { app: 'web', tier: 'back' } } });
    expect(istio.decide([p], get(plaintext())), 'allow');
    expect(istio.decide([ap('shop', 'allow-nothing', { selector: { matchLabels: {} } })], get(plaintext())), 'deny');
  });

  it('istio.md §1.4: GIVEN `*` principals WHEN the peer is authenticated THEN it matches; plaintext does not', () => {
    const allow = ap('shop', 'allow', { rules: [{ from: [{ source: { principals: ['*'] } }] }] });
    expect(istio.decide([allow], get(mtlsFrom('a', 'b'))), 'allow');
    expect(istio.decide([allow], get(plaintext())), 'deny');
  });

  it('istio.md §1.6: GIVEN ipBlocks with IPv4 and IPv6 CIDRs WHEN clients come from inside and outside THEN only inside matches', () => {
    const allow = ap('shop', 'allow', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] } }] }] });
    expect(istio.decide([allow], get(plaintext('10.9.8.7'))), 'allow');
    expect(istio.decide([allow], get(plaintext('11.0.0.1'))), 'deny');
    expect(istio.decide([allow], get(plaintext('2001:db8:1::5'))), 'allow');
    expect(istio.decide([allow], get(plaintext('2001:db9::5'))), 'deny');
    expect(istio.decide([allow], get(plaintext('192.0.2.7'))), 'allow');
    const notIp = ap('shop', 'deny', { action: 'DENY', rules: [{ from: [{ source: { notIpBlocks: ['10.0.0.0/8'] } }] }] });
    expect(istio.decide([notIp], get(plaintext('10.1.1.1'))), 'allow');
    expect(istio.decide([notIp], get(plaintext('172.16.0.1'))), 'deny');
    expect(istio.decide([ap('shop', 'allow', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }] }] })], get(plaintext())), 'unsupported');
    expect(istio.decide([ap('shop', 'allow', { rules: [{ from: [{ source: { ipBlocks: ['::1'] } }] }] })], get(plaintext('0:0::1'))), 'allow');
    expect(istio.decide([allow], get(plaintext('::ffff:10.0.0.1'))), 'unsupported');
  });

  it('istio.md §1.6: GIVEN notPorts and a port outside the Service WHEN decided THEN container ports are compared exactly', () => {
    const allow = ap('shop', 'allow', { rules: [{ to: [{ operation: { notPorts: ['5432'] } }] }] });
    expect(istio.decide([allow], get(plaintext())), 'allow');
    expect(istio.decide([allow], tcp(plaintext())), 'deny');
    expect(istio.decide([ap('shop', 'allow', { rules: [{ to: [{ operation: { ports: ['80*'] } }] }] })], get(plaintext())), 'unsupported');
  });

  it('istio.md §1.8: GIVEN exact, prefix, suffix and presence paths WHEN matched THEN "/api/*" does not match "/api" and templates are unsupported', () => {
    const allow = (paths: string[]): ManifestObject => ap('shop', 'allow', { rules: [{ to: [{ operation: { paths } }] }] });
    expect(istio.decide([allow(['/info*'])], get(plaintext(), web, '/infox')), 'allow');
    expect(istio.decide([allow(['/api/*'])], get(plaintext(), web, '/api')), 'deny');
    expect(istio.decide([allow(['*/info'])], get(plaintext(), web, '/x/info')), 'allow');
    expect(istio.decide([allow(['*'])], get(plaintext(), web, '/')), 'allow');
    expect(istio.decide([allow(['/a/*/b'])], get(plaintext(), web, '/a/x/b')), 'deny');
    expect(istio.decide([allow(['/a/{*}/b'])], get(plaintext(), web, '/a/x/b')), 'unsupported');
  });

  it('istio normalization reference (https://istio.io/latest/docs/reference/config/security/normalization, BASE, the default): GIVEN encoded, dotted and backslashed paths WHEN matched THEN policies see the normalized path', () => {
    const deny = ap('shop', 'deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/debug/*'] } }] }] });
    // Percent-encoded unreserved characters are decoded once; dot segments resolved; a backslash is a slash.
    expect(istio.decide([deny], get(plaintext(), web, '/%64ebug/pprof')), 'deny');
    expect(istio.decide([deny], get(plaintext(), web, '/metrics/../debug/pprof')), 'deny');
    expect(istio.decide([deny], get(plaintext(), web, '/metrics/%2e%2e/debug/pprof')), 'deny');
    expect(istio.decide([deny], get(plaintext(), web, '\\debug\\pprof')), 'deny');
    // Not decoded by BASE: %2F (DECODE_AND_MERGE_SLASHES only), and no double decoding; slashes are not merged.
    expect(istio.decide([deny], get(plaintext(), web, '/debug%2Fpprof')), 'allow');
    expect(istio.decide([deny], get(plaintext(), web, '/%2564ebug/pprof')), 'allow');
    expect(istio.decide([deny], get(plaintext(), web, '//debug/pprof')), 'allow');
  });

  it('istio.md §1.2: GIVEN a gRPC port WHEN a call arrives THEN it is POST with path /pkg.Service/Method', () => {
    const allow = ap('shop', 'allow', { rules: [{ to: [{ operation: { methods: ['POST'], paths: ['/shop.Cart/*'] } }] }] });
    expect(istio.decide([allow], request(mtlsFrom('a', 'b'), web, 9090, undefined, '/shop.Cart/Add')), 'allow');
    expect(istio.decide([allow], request(mtlsFrom('a', 'b'), web, 9090, undefined, '/shop.Admin/Drop')), 'deny');
    expect(
      istio.decide(
        [ap('shop', 'allow', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })],
        request(mtlsFrom('a', 'b'), web, 9090, undefined, '/shop.Cart/Add'),
      ),
      'deny',
    );
  });

  it('istio.md §1.6: GIVEN an undeclared port WHEN TCP and HTTP agree THEN that verdict, else unsupported', () => {
    expect(istio.decide([ap('shop', 'allow-nothing', {})], request(plaintext(), web, 7777)), 'deny');
    expect(
      istio.decide(
        [ap('shop', 'deny', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })],
        request(plaintext(), web, 7777, 'POST', '/'),
      ),
      'unsupported',
    );
  });

  it('istio.md §1.3: GIVEN a policy without a namespace or a gateway pod WHEN decided THEN unsupported', () => {
    const noNs: ManifestObject = {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default' },
      spec: { mtls: { mode: 'STRICT' } },
    };
    expect(istio.decide([noNs], get(plaintext())), 'unsupported');
    const gw: Workload = { ...web, labels: { 'gateway.networking.k8s.io/gateway-name': 'gw' } };
    expect(istio.decide([], get(plaintext(), gw)), 'unsupported');
  });
});

// ---------------------------------------------------------------------------------------------------------------

const EXAMPLES = path.resolve(__dirname, '..', '..', 'shared', 'mesh-examples');

function loadExample(file: string): ManifestObject[] {
  return parseAllDocuments(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'))
    .map((d) => d.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => o !== null);
}

(fs.existsSync(EXAMPLES) ? describe : describe.skip)('shared/mesh-examples (the documented Istio tasks)', () => {
  const tcpEcho: Workload = {
    namespace: 'foo',
    name: 'tcp-echo',
    serviceAccount: 'tcp-echo',
    labels: { app: 'tcp-echo' },
    ports: [9000, 9001, 9002].map((port) => ({ name: `tcp-${port}`, port, protocol: 'tcp' as const })),
  };
  const sleep = mtlsFrom('foo', 'sleep');

  it('istio.md §1.6, §1.7 (authz-tcp task): GIVEN each step WHEN sleep connects to 9000/9001/9002 THEN the documented outcomes', () => {
    const verdicts = (file: string): string[] => [9000, 9001, 9002].map((port) => istio.decide(loadExample(file), tcp(sleep, tcpEcho, port)).verdict);
    assert.deepEqual(verdicts('istio-authz-tcp/01-allow-ports.yaml'), ['allow', 'allow', 'deny']);
    assert.deepEqual(verdicts('istio-authz-tcp/02-allow-get-9000.yaml'), ['deny', 'deny', 'deny']);
    assert.deepEqual(verdicts('istio-authz-tcp/03-deny-get.yaml'), ['deny', 'deny', 'deny']);
    assert.deepEqual(verdicts('istio-authz-tcp/04-deny-get-9000.yaml'), ['deny', 'allow', 'allow']);
  });

  it('istio.md §1.4 (authz-td-migration task): GIVEN the old-td principal WHEN the trust domain is new-td THEN 403 without the alias and allowed with it', () => {
    const httpbin: Workload = {
      namespace: 'default',
      name: 'httpbin',
      serviceAccount: 'httpbin',
      labels: { app: 'httpbin' },
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
    };
    const objects = loadExample('istio-authz-td-migration/01-allow-sleep-allow.yaml');
    const call = get(mtlsFrom('sleep-allow', 'sleep'), httpbin, '/ip');
    expect(createIstioSimulator({ rootNamespace: ROOT, trustDomain: 'new-td' }).decide(objects, call), 'deny');
    expect(createIstioSimulator({ rootNamespace: ROOT, trustDomain: 'new-td', trustDomainAliases: ['old-td'] }).decide(objects, call), 'allow');
    expect(createIstioSimulator({ rootNamespace: ROOT, trustDomain: 'old-td' }).decide(objects, get(mtlsFrom('default', 'sleep'), httpbin)), 'deny');
  });

  it('istio.md §2 (authn-policy task): GIVEN mesh STRICT, then bar/httpbin with port 80 DISABLE WHEN a sidecar-less client calls THEN reset, except on port 80', () => {
    const httpbin: Workload = {
      namespace: 'bar',
      name: 'httpbin',
      serviceAccount: 'httpbin',
      labels: { app: 'httpbin' },
      ports: [
        { name: 'http', port: 80, protocol: 'http' },
        { name: 'alt', port: 8080, protocol: 'http' },
      ],
    };
    const mesh = loadExample('istio-authn-policy/01-mesh-strict.yaml');
    expect(istio.decide(mesh, request(plaintext(), httpbin, 80, 'GET', '/headers')), 'deny', ['PeerAuthentication istio-system/default']);
    const port80 = [...mesh, ...loadExample('istio-authn-policy/04-bar-httpbin-port80-disable.yaml')];
    expect(istio.decide(port80, request(plaintext(), httpbin, 80, 'GET', '/headers')), 'allow');
    expect(istio.decide(port80, request(plaintext(), httpbin, 8080, 'GET', '/headers')), 'deny', ['PeerAuthentication bar/httpbin']);
    // The mtls-migration manifest has no namespace in its text: where it lands is unknown.
    expect(istio.decide(loadExample('istio-mtls-migration/strict-default.yaml'), request(plaintext(), httpbin, 80, 'GET', '/')), 'unsupported');
  });

  it('istio.md §1.1, §1.2 (authz-http and authz-deny tasks): GIVEN allow-nothing plus viewers WHEN Bookinfo calls THEN only the documented callers pass', () => {
    const details: Workload = {
      namespace: 'default',
      name: 'details',
      serviceAccount: 'bookinfo-details',
      labels: { app: 'details' },
      ports: [{ name: 'http', port: 9080, protocol: 'http' }],
    };
    const objects = ['01-allow-nothing', '02-productpage-viewer', '04-details-viewer'].flatMap((f) => loadExample(`istio-authz-http/${f}.yaml`));
    expect(istio.decide(objects, request(mtlsFrom('default', 'bookinfo-productpage'), details, 9080, 'GET', '/details/0')), 'allow', [
      'AuthorizationPolicy default/details-viewer',
    ]);
    expect(istio.decide(objects, request(mtlsFrom('default', 'bookinfo-reviews'), details, 9080, 'GET', '/details/0')), 'deny');
    expect(istio.decide(objects, request(mtlsFrom('default', 'bookinfo-productpage'), details, 9080, 'POST', '/details/0')), 'deny');
    const httpbin: Workload = {
      namespace: 'foo',
      name: 'httpbin',
      serviceAccount: 'httpbin',
      labels: { app: 'httpbin' },
      ports: [{ name: 'http', port: 8000, protocol: 'http' }],
    };
    const denyGet = loadExample('istio-authz-deny/01-deny-method-get.yaml');
    expect(istio.decide(denyGet, request(sleep, httpbin, 8000, 'GET', '/get')), 'deny');
    expect(istio.decide(denyGet, request(sleep, httpbin, 8000, 'POST', '/post')), 'allow');
    // Step 2 (the authz-deny task: deny GET unless `x-token: admin`): the request header decides GET.
    const step2 = loadExample('istio-authz-deny/02-deny-get-unless-admin.yaml');
    expect(istio.decide(step2, request(sleep, httpbin, 8000, 'GET', '/get')), 'deny');
    expect(istio.decide(step2, { ...request(sleep, httpbin, 8000, 'GET', '/get'), headers: { 'x-token': 'admin' } }), 'allow');
    expect(istio.decide(step2, request(sleep, httpbin, 8000, 'POST', '/post')), 'allow');
  });
});
