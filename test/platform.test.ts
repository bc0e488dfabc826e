/**
 * Platform traffic on examples/platform, through the whole pipeline and the simulators of both meshes it builds for
 * (Istio, Linkerd; ambient refuses its gateway, PC4213): GIVEN its probes (STRICT and PERMISSIVE HTTP ports, a TCP
 * port, an audited namespace), a Gateway API ingress gateway and Prometheus WHEN each target's output is simulated
 * THEN the kubelet's probes reach every probed port, and no other caller reaches a probe path unless a rule allows it
 * (or the namespace is audited, where a denial is only reported).
 * And GIVEN Linkerd's raw-path matching THEN `/%64ebug/x` and `/metrics/../debug/x` stay denied.
 * Facts: Istio's probe rewrite (https://istio.io/latest/docs/ops/configuration/mesh/app-health-check/),
 * ambient's node SNAT (https://istio.io/latest/docs/ambient/usage/networkpolicy), Linkerd's probe routes
 * (shared/docs/linkerd.md §6, §7) and TCP acceptance (linkerd/linkerd2#7777), Istio's BASE normalization
 * (https://istio.io/latest/docs/reference/config/security/normalization).
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compile } from '../compiler/compile';
import { decide, type Client, type Request } from '../model/decide';
import { effectiveEnforcement, probeNetworksOf, servicesById, type PolicyModel } from '../model/model';
import { kubeletAddress } from '../model/request-space';
import { ipInCidr } from '../model/cidr';
import { meshes } from '../meshes';
import { istioAmbientTarget } from '../targets/istio-ambient';
import { renderTarget } from '../compiler/render';
import { manifestsFromFiles, simulatedRequest, verifyTargets } from '../verify/compare';
import type { MeshSimulator } from '../verify/simulator';
import { EXAMPLES, runCli } from './helpers';

const entry = path.join(EXAMPLES, 'platform', 'policy.ts');
/** The example's targets (its `targets` file). */
const TARGETS = fs
  .readFileSync(path.join(EXAMPLES, 'platform', 'targets'), 'utf8')
  .trim()
  .split(',');
const result = compile({ entry, targets: TARGETS.map((name) => meshes.get(name)?.target).filter((t) => t !== undefined) });
const model = result.model as PolicyModel;
const services = servicesById(model);

/**
 * Ambient refuses the gateway (PC4213): its probes and raw paths are checked on the example without the gateway and
 * the rules that name it (the services and rules those checks are about are unchanged).
 */
const edgeId = 'ingress/edge';
const withoutGateway: PolicyModel = {
  ...model,
  services: model.services.filter((s) => s.id !== edgeId),
  rules: model.rules.filter((r) => r.destination !== edgeId && !r.sources.some((s) => s.kind === 'service' && s.service === edgeId)),
  assertions: [],
};
const ambient = istioAmbientTarget.compile(withoutGateway, { spanOf: () => undefined });
const outputs = new Map([...result.outputs, ['istio-ambient', renderTarget(ambient, model.entry)]]);
/** The targets that decide probes and raw paths: the example's, and ambient on the example without its gateway. */
const PROBE_TARGETS = [...TARGETS, 'istio-ambient'];

function decideOn(target: string, request: Request): 'allow' | 'deny' | 'unsupported' {
  const mesh = meshes.get(target);
  const files = outputs.get(target);
  assert.ok(mesh !== undefined && files !== undefined, target);
  return mesh.simulator(model.mesh).decide(manifestsFromFiles(files), simulatedRequest(request, services, model.mesh.trustDomain)).verdict;
}

describe('platform traffic (examples/platform)', () => {
  it('builds for Istio and Linkerd without errors, and verify finds no mismatch and nothing unsimulated on either', () => {
    assert.deepEqual(TARGETS, ['istio', 'linkerd']);
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code),
      [],
    );
    assert.deepEqual([...result.outputs.keys()].sort(), TARGETS);
    const simulated = TARGETS.map((name) => ({
      name,
      objects: manifestsFromFiles(result.outputs.get(name) ?? new Map()),
      simulator: meshes.get(name)?.simulator(model.mesh) as MeshSimulator,
    }));
    for (const [name, verification] of verifyTargets(model, simulated)) {
      assert.ok(verification.checked > 100, name);
      assert.equal(verification.differing, 0, name);
      assert.equal(verification.unsimulated, 0, name);
    }
  });

  it('GIVEN the ambient target WHEN it builds the example THEN it refuses the gateway (PC4213), which is why `targets` leaves it out; without the gateway it builds', () => {
    const refused = compile({ entry, targets: [istioAmbientTarget] });
    assert.deepEqual([...new Set(refused.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code))], ['PC4213']);
    assert.deepEqual(
      ambient.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code),
      [],
    );
  });

  const probes = model.services.flatMap((svc) => svc.ports.flatMap((port) => (port.probes ?? []).map((probe) => ({ svc, port, probe }))));

  it('GIVEN every declared probe WHEN the kubelet runs it THEN every mesh lets it through, STRICT ports included', () => {
    assert.ok(probes.length >= 5);
    const kubelet: Client = { kind: 'kubelet', ip: kubeletAddress(model) };
    for (const { svc, port, probe } of probes) {
      const request: Request = { client: kubelet, destination: svc.id, port: port.port, ...(probe.kind === 'http' ? { method: 'GET', path: probe.path } : {}) };
      assert.equal(decide(model, request).allowed, true);
      for (const target of PROBE_TARGETS) assert.equal(decideOn(target, request), 'allow', `${target}: ${probe.probe} probe of ${svc.id}:${port.name}`);
    }
  });

  it('GIVEN a caller from outside the probe networks WHEN it GETs a probe path THEN every mesh decides as the rules do: no rule here allows it, so it is denied, or in the audited namespace let through and reported', () => {
    const outside = '10.0.0.7';
    assert.ok(!probeNetworksOf(model.mesh).some((cidr) => ipInCidr(outside, cidr)));
    const callers: Client[] = [
      { kind: 'plaintext', ip: outside },
      { kind: 'service', service: 'shop/web', ip: outside, tls: true },
      { kind: 'service', service: 'ingress/edge', ip: outside, tls: true },
      { kind: 'identity', namespace: 'monitoring', serviceAccount: 'prometheus', ip: outside, tls: true },
    ];
    let denied = 0;
    let audited = 0;
    let allowedByRule = 0;
    for (const { svc, port, probe } of probes) {
      if (probe.kind !== 'http') continue;
      const audit = effectiveEnforcement(model, svc) === 'audit';
      for (const client of callers) {
        const request: Request = { client, destination: svc.id, port: port.port, method: 'GET', path: probe.path };
        const decision = decide(model, request);
        const what: string = `${client.kind === 'service' ? client.service : client.kind} GET ${probe.path} on ${svc.id}:${port.name}`;
        // Allowed only by an allow rule that names the caller (the gateway's GET on web), or by audit.
        const byRule = decision.allowed && decision.audited !== true;
        if (byRule)
          assert.ok(
            decision.rules.some((r) => r.action === 'allow'),
            what,
          );
        else assert.equal(decision.allowed, audit, what);
        for (const target of TARGETS) assert.equal(decideOn(target, request), decision.allowed ? 'allow' : 'deny', `${target}: ${what}`);
        if (byRule) allowedByRule++;
        else if (audit) audited++;
        else denied++;
      }
    }
    assert.ok(denied >= 15 && audited >= 4 && allowedByRule === 1, `${denied} ${audited} ${allowedByRule}`);
  });

  it('GIVEN the gateway WHEN a client from outside the mesh calls it, and it calls the app THEN both meshes allow it; the gateway gets nothing else of the app', () => {
    const cases: { request: Request; allowed: boolean }[] = [
      { request: { client: { kind: 'plaintext', ip: '203.0.113.9' }, destination: 'ingress/edge', port: 8080, method: 'GET', path: '/' }, allowed: true },
      {
        request: {
          client: { kind: 'service', service: 'ingress/edge', ip: '10.0.0.8', tls: true },
          destination: 'shop/web',
          port: 8080,
          method: 'POST',
          path: '/cart',
        },
        allowed: true,
      },
      {
        request: {
          client: { kind: 'service', service: 'ingress/edge', ip: '10.0.0.8', tls: true },
          destination: 'shop/web',
          port: 8080,
          method: 'DELETE',
          path: '/cart',
        },
        allowed: false,
      },
      {
        request: {
          client: { kind: 'service', service: 'ingress/edge', ip: '10.0.0.8', tls: true },
          destination: 'shop/api',
          port: 8080,
          method: 'GET',
          path: '/v1/x',
        },
        allowed: false,
      },
      { request: { client: { kind: 'service', service: 'ingress/edge', ip: '10.0.0.8', tls: true }, destination: 'shop/cache', port: 6379 }, allowed: false },
    ];
    for (const { request, allowed } of cases) {
      assert.equal(decide(model, request).allowed, allowed, JSON.stringify(request));
      for (const target of TARGETS) assert.equal(decideOn(target, request), allowed ? 'allow' : 'deny', `${target}: ${JSON.stringify(request)}`);
    }
  });

  it('GIVEN `policyc explain` (examples/platform/README.md) WHEN the kubelet probes and when another caller GETs a probe path THEN it prints the verdicts of the README', () => {
    const explain = (...args: string[]) => runCli(['explain', ...args, '--target', 'istio,linkerd'], path.join(EXAMPLES, 'platform')).stdout;
    const probe = explain('kubelet', 'shop/api', '--port', 'http', '--path', '/healthz', '--ip', '10.128.0.1');
    assert.match(probe, /^policy: ALLOWED — the kubelet's readiness probe/m);
    assert.match(probe, /^istio: ALLOW — the kubelet's probe of port 8080 is rewritten/m);
    assert.match(probe, /^linkerd: ALLOW — .*HTTPRoute shop\/api-http-healthz.*NetworkAuthentication linkerd\/linkerd-proxy-admin-probes-networks/m);
    const other = explain('ingress/edge', 'shop/api', '--port', 'http', '--path', '/healthz', '--ip', '10.0.0.7');
    assert.match(other, /^policy: DENIED/m);
    assert.match(other, /^istio: DENY/m);
    assert.match(other, /^linkerd: DENY — .*403/m);
  });

  it('GIVEN a deny on /debug/* WHEN a caller sends a percent-encoded or dot-segment variant THEN every mesh denies it (Linkerd matches raw paths)', () => {
    const prometheus: Client = { kind: 'identity', namespace: 'monitoring', serviceAccount: 'prometheus', ip: '10.0.0.7', tls: true };
    for (const variant of ['/%64ebug/x', '/metrics/../debug/x', '/metrics/%2e%2e/debug/x']) {
      const request: Request = { client: prometheus, destination: 'shop/api', port: 9102, method: 'GET', path: variant };
      assert.equal(decide(model, request).allowed, false, variant);
      for (const target of PROBE_TARGETS) assert.equal(decideOn(target, request), 'deny', `${target}: ${variant}`);
    }
    // The allowed path itself still passes everywhere.
    const metrics: Request = { client: prometheus, destination: 'shop/api', port: 9102, method: 'GET', path: '/metrics' };
    for (const target of PROBE_TARGETS) assert.equal(decideOn(target, metrics), 'allow', target);
  });

  it('GIVEN probes WHEN compiled for Linkerd THEN each probe path has its own GET route and a NetworkAuthentication of exactly the probe networks', () => {
    const objects = manifestsFromFiles(result.outputs.get('linkerd') ?? new Map());
    const routes = objects.filter((o) => o.kind === 'HTTPRoute');
    const probeRoute = routes.find(
      (r) => JSON.stringify(r['spec']).includes('"method":"GET","path":{"type":"Exact","value":"/healthz"}') && r.metadata.name.startsWith('api-http'),
    );
    assert.ok(probeRoute !== undefined);
    const nets = objects.filter((o) => o.kind === 'NetworkAuthentication').map((o) => JSON.stringify(o['spec']));
    assert.ok(nets.includes(JSON.stringify({ networks: [{ cidr: '10.128.0.0/16' }] })), nets.join('\n'));
    const codes = result.diagnostics.map((d) => d.code);
    assert.ok(codes.includes('PC4126'), 'the TCP probe is flagged on Linkerd');
    assert.ok(!codes.includes('PC4127'), 'the probe networks are narrowed');
    assert.ok(!codes.includes('PC4106'), 'every probed port with routes has its probes declared');
  });
});
