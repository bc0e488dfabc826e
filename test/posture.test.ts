/**
 * Posture per scope: defaultAction at mesh, namespace, service and port; audit (dry-run) per namespace and service;
 * namespace scope; acknowledged warnings. Mesh facts are cited where they are used.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decide, type Request } from '../model/decide';
import type { PolicyModel } from '../model/model';
import { renderTarget } from '../compiler/render';
import { formatDiagnostics } from '../diagnostics/format';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import { istioTarget } from '../targets/istio';
import { linkerdTarget } from '../targets/linkerd';
import { istioAmbientTarget } from '../targets/istio-ambient';
import { createIstioSimulator } from '../verify/istio';
import { createIstioAmbientSimulator } from '../verify/istio-ambient';
import { manifestsFromFiles, workloadOf } from '../verify/compare';
import type { KubernetesObject, Target } from '../model/target';
import { checkModel, type FuzzStats } from './fuzz/fuzz';
import { acknowledgedReport } from '../compiler/acknowledge';
import { model, rule, svc } from './model-builders';
import { runCli, tempProject } from './helpers';

const noSpans = { spanOf: () => undefined };
const TARGETS: readonly Target[] = [istioTarget, linkerdTarget, istioAmbientTarget];

const web = svc('shop', 'web', { http: { port: 8080, protocol: 'http' }, health: { port: 8081, protocol: 'http' } });
const api = svc('shop', 'api', { http: { port: 9090, protocol: 'http' } });
const caller = svc('other', 'caller', { http: { port: 80, protocol: 'http' } });

const fromCaller = (destination: string, port: number, tls = true): Request => ({
  client: tls ? { kind: 'service', service: 'other/caller', ip: '10.0.0.1', tls: true } : { kind: 'plaintext', ip: '10.0.0.1' },
  destination,
  port,
  method: 'GET',
  path: '/',
});

describe('defaultAction per scope', () => {
  it('GIVEN defaultAction at mesh, namespace, service and port THEN the port decides, then the service, the namespace, the mesh', () => {
    const ported = svc('shop', 'web', { http: { port: 8080, protocol: 'http' }, health: { port: 8081, protocol: 'http' } });
    const withPort: typeof ported = {
      ...ported,
      defaultAction: 'deny',
      ports: ported.ports.map((p) => (p.name === 'health' ? { ...p, defaultAction: 'allow' } : p)),
    };
    const m = model([withPort, api, caller], [], { defaultAction: 'deny' }, [{ name: 'other' }, { name: 'shop', defaultAction: 'allow' }]);
    assert.equal(decide(m, fromCaller('shop/web', 8081)).allowed, true, 'port allow beats service deny');
    assert.equal(decide(m, fromCaller('shop/web', 8080)).allowed, false, 'service deny beats namespace allow');
    assert.equal(decide(m, fromCaller('shop/api', 9090)).allowed, true, 'namespace allow beats mesh deny');
    assert.equal(decide(m, fromCaller('other/caller', 80)).allowed, false, 'the mesh decides the rest');
  });

  it('GIVEN per-scope defaultActions THEN every target verifies 0 mismatches (or refuses with a diagnostic)', () => {
    const ported = {
      ...web,
      defaultAction: 'deny' as const,
      ports: web.ports.map((p) => (p.name === 'health' ? { ...p, defaultAction: 'allow' as const } : p)),
    };
    const m = model(
      [ported, api, caller],
      [rule('allow', [{ kind: 'service', service: 'other/caller' }], 'shop/web', ['http']), rule('deny', [{ kind: 'anyone' }], 'shop/api', ['http'])],
      { defaultAction: 'deny', mtls: 'PERMISSIVE' },
      [{ name: 'other' }, { name: 'shop', defaultAction: 'allow' }],
    );
    const stats: FuzzStats = { models: 0, verified: {}, refused: {}, requests: 0, unsupported: 0 };
    checkModel(m, stats, TARGETS);
    assert.deepEqual(stats.verified, { istio: 1, linkerd: 1 });
    // Ambient writes policies per service, so different defaultActions on one service's ports are refused.
    assert.deepEqual(
      istioAmbientTarget.compile(m, noSpans).diagnostics.map((d) => d.code),
      ['PC4221'],
    );
  });
});

describe('audit', () => {
  const audited = (mtls: 'STRICT' | 'PERMISSIVE'): PolicyModel =>
    model([web, api, caller], [rule('allow', [{ kind: 'service', service: 'shop/web' }], 'shop/api', ['http'])], { mtls }, [
      { name: 'other' },
      { name: 'shop', enforcement: 'audit' },
    ]);

  it('GIVEN an audited namespace THEN a request the policy would deny is allowed with "would be denied (audit)", and a plaintext client of a STRICT port is still refused', () => {
    const m = audited('STRICT');
    const wouldDeny = decide(m, fromCaller('shop/api', 9090));
    assert.equal(wouldDeny.allowed, true);
    assert.equal(wouldDeny.audited, true);
    assert.match(wouldDeny.reason, /^would be denied \(audit\): no allow rule matches/);
    const plaintextClient = decide(m, fromCaller('shop/api', 9090, false));
    assert.equal(plaintextClient.allowed, false);
    assert.equal(plaintextClient.audited, undefined);
  });

  it('GIVEN an audited namespace on Istio THEN every AuthorizationPolicy there is dry-run, and the simulator does not enforce them', () => {
    const m = audited('STRICT');
    const objects = istioTarget.compile(m, noSpans).objects;
    const policies = objects.filter((o) => o.kind === 'AuthorizationPolicy' && o.metadata.namespace === 'shop');
    assert.ok(policies.length >= 2);
    for (const p of policies) assert.deepEqual(p.metadata.annotations, { 'istio.io/dry-run': 'true' }, p.metadata.name);
    // https://istio.io/latest/docs/tasks/security/authorization/authz-dry-run/: a dry-run policy is logged, not
    // enforced, and a dry-run ALLOW policy does not make the workload default-deny (shared/docs/istio.md §1.1).
    const simulator = createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
    const decision = simulator.decide(objects, {
      client: { ip: '10.0.0.1', identity: { namespace: 'other', serviceAccount: 'caller' } },
      destination: workloadOf(api),
      port: 9090,
      method: 'GET',
      path: '/',
    });
    assert.equal(decision.verdict, 'allow');
  });

  it('GIVEN an audited service in an enforced deny namespace on Istio THEN it gets an enforced ALLOW of its ports beside its dry-run policies', () => {
    const apiAudited = { ...api, enforcement: 'audit' as const };
    const m = model([web, apiAudited, caller], [rule('allow', [{ kind: 'service', service: 'shop/web' }], 'shop/api', ['http'])]);
    const objects = istioTarget.compile(m, noSpans).objects;
    const opener = objects.find((o) => o.metadata.name === 'api-audit');
    assert.equal(opener?.metadata.annotations, undefined);
    assert.deepEqual((opener as KubernetesObject & { spec: unknown }).spec, {
      selector: { matchLabels: { app: 'api' } },
      action: 'ALLOW',
      rules: [{ to: [{ operation: { ports: ['9090'] } }] }],
    });
    assert.deepEqual(objects.find((o) => o.metadata.name === 'api-allow')?.metadata.annotations, { 'istio.io/dry-run': 'true' });
    const stats: FuzzStats = { models: 0, verified: {}, refused: {}, requests: 0, unsupported: 0 };
    checkModel(m, stats, [istioTarget, istioAmbientTarget]);
    assert.deepEqual(stats.verified, { istio: 1, 'istio-ambient': 1 });
  });

  it('GIVEN an audited PERMISSIVE namespace on Linkerd THEN its Servers and its default policy are audit, and verify finds 0 mismatches', () => {
    const m = audited('PERMISSIVE');
    const output = linkerdTarget.compile(m, noSpans);
    assert.deepEqual(
      output.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    const servers = output.objects.filter((o) => o.kind === 'Server' && o.metadata.namespace === 'shop');
    // The Server CRD's accessPolicy takes a default-policy name, `audit` among them (shared/docs/linkerd.md §11).
    for (const s of servers) assert.equal((s as KubernetesObject & { spec: { accessPolicy: string } }).spec.accessPolicy, 'audit');
    const shopPatch = output.patches?.find((p) => p.metadata.name === 'shop');
    assert.deepEqual(shopPatch?.metadata.annotations, { 'config.linkerd.io/default-inbound-policy': 'audit' });
    const stats: FuzzStats = { models: 0, verified: {}, refused: {}, requests: 0, unsupported: 0 };
    checkModel(m, stats, [linkerdTarget]);
    assert.deepEqual(stats.verified, { linkerd: 1 });
  });

  it('GIVEN an audited STRICT namespace on Linkerd THEN PC4134 says to make it PERMISSIVE while auditing (audit admits plaintext, linkerd.md §11)', () => {
    const codes = linkerdTarget.compile(audited('STRICT'), noSpans).diagnostics.map((d) => d.code);
    assert.ok(codes.includes('PC4134'));
  });

  it('GIVEN a dry-run policy on ambient THEN the simulator treats it as absent (istio/istio#55414) and the target warns PC4220', () => {
    const m = model([web, api, caller], [], {}, [{ name: 'other' }, { name: 'shop', enforcement: 'audit' }]);
    const output = istioAmbientTarget.compile(m, noSpans);
    assert.deepEqual(
      output.diagnostics.map((d) => d.code),
      ['PC4220', 'PC4220'],
    );
    const simulator = createIstioAmbientSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
    const files = renderTarget(output, m.entry);
    const request = {
      client: { ip: '10.0.0.1', identity: { namespace: 'other', serviceAccount: 'caller' } },
      destination: workloadOf(api),
      port: 9090,
    };
    assert.equal(simulator.decide(manifestsFromFiles(files), request).verdict, 'allow');
    // The same objects without the annotation are enforced: the dry-run is what lets the call through.
    const enforced = manifestsFromFiles(files).map((o) => ({ ...o, metadata: { ...o.metadata, annotations: {} } }));
    assert.equal(simulator.decide(enforced, request).verdict, 'deny');
  });
});

describe('scope', () => {
  const oneNamespace = model([web, api], [rule('allow', [{ kind: 'service', service: 'shop/web' }], 'shop/api', ['http'])], { scope: 'namespaces' });

  it('GIVEN a policy covering one namespace THEN no target emits anything outside it (no root-namespace object)', () => {
    for (const target of TARGETS) {
      const output = target.compile(oneNamespace, noSpans);
      assert.deepEqual(
        output.diagnostics.filter((d) => d.severity === 'error'),
        [],
        target.name,
      );
      for (const o of [...output.objects, ...(output.patches ?? [])]) {
        const namespace = o.kind === 'Namespace' ? o.metadata.name : o.metadata.namespace;
        assert.equal(namespace, 'shop', `${target.name}: ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      }
    }
    // The namespace states its own mode, since nothing mesh-wide does.
    const pa = istioTarget.compile(oneNamespace, noSpans).objects.find((o) => o.kind === 'PeerAuthentication');
    assert.deepEqual((pa as KubernetesObject & { spec: unknown }).spec, { mtls: { mode: 'STRICT' } });
    const stats: FuzzStats = { models: 0, verified: {}, refused: {}, requests: 0, unsupported: 0 };
    checkModel(oneNamespace, stats, TARGETS);
    assert.deepEqual(stats.verified, { istio: 1, linkerd: 1, 'istio-ambient': 1 });
  });

  it('GIVEN mesh scope on Linkerd without everyMeshedNamespaceListed THEN PC4133 refuses it; with it, every listed namespace is annotated', () => {
    const { everyMeshedNamespaceListed: _listed, ...unlisted } = model([web], []).mesh;
    const refused = linkerdTarget.compile({ ...model([web], []), mesh: unlisted }, noSpans);
    assert.deepEqual(
      refused.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code),
      ['PC4133'],
    );
    const listed = linkerdTarget.compile(model([web], [], {}, [{ name: 'quiet' }, { name: 'shop' }]), noSpans);
    assert.deepEqual(
      (listed.patches ?? []).map((p) => p.metadata.name),
      ['quiet', 'shop'],
    );
  });
});

describe('acknowledged warnings', () => {
  const POLICY = (acknowledge: string): string => `import { allow, mesh, namespace, service } from 'policyc';
const shop = namespace('shop');
const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });
const api = service(shop, 'api', { ports: { http: { port: 9090, protocol: 'http' } } });
export default mesh({
  defaultAction: 'allow',
  services: [web, api],
  rules: [
    allow(web).to(api, { ports: ['http'], ${acknowledge} }),
    allow(api).to(web, { ports: ['http'] }),
  ],
});
`;

  it('GIVEN a rule acknowledging the warning it causes THEN it is listed as acknowledged, not counted, and recorded in acknowledged.yaml', () => {
    const dir = tempProject({ 'policy.ts': POLICY(`acknowledge: { PC3018: 'kept for when the mesh turns deny' }`) });
    const check = runCli(['check'], dir);
    assert.equal(check.exit, 0);
    assert.match(check.stderr, /^acknowledged PC3018 ×1 \(kept for when the mesh turns deny\) at policy\.ts:9:\d+$/m);
    assert.match(check.stderr, /^policy\.ts:10:\d+ - warning PC3018: /m);
    assert.match(check.stderr, /Found 1 warning\./);
    assert.match(check.stdout, /1 warnings \(1 acknowledged\)/);
    const built = runCli(['build', '--out', 'out'], dir);
    assert.equal(built.exit, 0, built.stderr);
    const report = runCli(['build', '--out', 'out', '--check'], dir);
    assert.equal(report.exit, 0, report.stderr);
    const text = fs.readFileSync(path.join(dir, 'out', 'istio', 'acknowledged.yaml'), 'utf8');
    assert.match(text, /^# PC3018 policy\.ts:9:\d+ acknowledged: kept for when the mesh turns deny \| warning: /m);
    assert.match(fs.readFileSync(path.join(dir, 'out', 'istio', '.policyc-index'), 'utf8'), / acknowledged\.yaml\n/);
  });

  it('GIVEN an acknowledgement of an unknown code, of an error, or without a reason THEN PC3058 at the rule', () => {
    for (const [ack, want] of [
      [`acknowledge: { PC9999: 'typo' }`, /PC9999 is not a policyc diagnostic code/],
      [`acknowledge: { PC3009: 'an error' }`, /PC3009 is an error, and errors cannot be acknowledged/],
      [`acknowledge: { PC3018: ' ' }`, /gives no reason/],
    ] as const) {
      const result = runCli(['check'], tempProject({ 'policy.ts': POLICY(ack) }));
      assert.equal(result.exit, 1, ack);
      assert.match(result.stderr, /^policy\.ts:9:\d+ - error PC3058: /m);
      assert.match(result.stderr, want);
    }
  });

  it('GIVEN 1,000 services each with the same warning THEN the summary is one line per code with the count and the first three locations', () => {
    const warnings: Diagnostic[] = Array.from({ length: 1000 }, (_, i) =>
      diagnostic('linkerd-probes-need-route', `port http of ns/s${i} gets HTTPRoutes`, {
        file: '/p/policy.ts',
        line: i + 1,
        column: 1,
        start: i * 10,
        length: 5,
      }),
    );
    const acknowledged = warnings.slice(0, 10).map((d) => ({ ...d, code: 'PC4107' as const, acknowledged: 'CRDs installed' }));
    const text = formatDiagnostics([...warnings, ...acknowledged], { cwd: '/p', color: false, readSource: () => undefined, summariseWarnings: true });
    const lines = text.split('\n').filter((l) => l !== '');
    assert.deepEqual(lines, [
      'warning PC4106 ×1000: A Linkerd Server gets routes, so kubelet probes on that port are no longer authorized automatically. At policy.ts:1:1, policy.ts:2:1, policy.ts:3:1 and 997 more.',
      'acknowledged PC4107 ×10 (CRDs installed) at policy.ts:1:1, policy.ts:2:1, policy.ts:3:1 and 7 more',
      'Found 1000 warnings. Warnings are summarised: --verbose prints each with its source line.',
    ]);
  });
});

describe('acknowledged.yaml', () => {
  it('GIVEN a reason with YAML line breaks (NEL, LS, CR) THEN the report stays comment lines only', () => {
    const warning = { ...diagnostic('allow-under-default-allow', 'm\u0085x: 1', { file: '/p/policy.ts', line: 1, column: 1, start: 0, length: 1 }) };
    const text = acknowledgedReport([{ ...warning, acknowledged: 'a\u0085key: value\u2028b\r\n- c' }], 'policy.ts', () => 'policy.ts') ?? '';
    for (const line of text.split('\n').filter((l) => l !== '')) assert.match(line, /^# /);
    assert.equal(text.split('\n').length, 4);
  });
});
