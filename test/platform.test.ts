/**
 * Platform traffic on examples/platform, through the whole pipeline and every mesh's simulator: GIVEN its
 * probes (STRICT and PERMISSIVE HTTP ports, a TCP port) WHEN each target's output is simulated THEN the
 * kubelet's probes reach every probed port, and no other caller reaches a probe path unless a rule allows it.
 * And GIVEN Linkerd's raw-path matching THEN `/%64ebug/x` and `/metrics/../debug/x` stay denied.
 * Facts: Istio's probe rewrite (https://istio.io/latest/docs/ops/configuration/mesh/app-health-check/),
 * ambient's node SNAT (https://istio.io/latest/docs/ambient/usage/networkpolicy), Linkerd's probe routes
 * (shared/docs/linkerd.md §6, §7) and TCP acceptance (linkerd/linkerd2#7777), Istio's BASE normalization
 * (https://istio.io/latest/docs/reference/config/security/normalization).
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { compile } from '../compiler/compile';
import { decide, type Client, type Request } from '../model/decide';
import { probeNetworksOf, servicesById, type PolicyModel } from '../model/model';
import { kubeletAddress } from '../model/request-space';
import { ipInCidr } from '../model/cidr';
import { meshes } from '../meshes';
import { manifestsFromFiles, simulatedRequest } from '../verify/compare';
import { EXAMPLES } from './helpers';

const entry = path.join(EXAMPLES, 'platform', 'policy.ts');
const result = compile({ entry, targets: [...meshes.values()].map((m) => m.target) });
const model = result.model as PolicyModel;
const services = servicesById(model);

function decideOn(target: string, request: Request): 'allow' | 'deny' | 'unsupported' {
  const mesh = meshes.get(target);
  const files = result.outputs.get(target);
  assert.ok(mesh !== undefined && files !== undefined, target);
  return mesh.simulator(model.mesh).decide(manifestsFromFiles(files), simulatedRequest(request, services, model.mesh.trustDomain)).verdict;
}

describe('platform traffic (examples/platform)', () => {
  it('builds for every target without errors', () => {
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code),
      [],
    );
    assert.deepEqual([...result.outputs.keys()].sort(), ['istio', 'istio-ambient', 'linkerd']);
  });

  const probes = model.services.flatMap((svc) => svc.ports.flatMap((port) => (port.probes ?? []).map((probe) => ({ svc, port, probe }))));

  it('GIVEN every declared probe WHEN the kubelet runs it THEN every mesh lets it through, STRICT ports included', () => {
    assert.ok(probes.length >= 5);
    const kubelet: Client = { kind: 'kubelet', ip: kubeletAddress(model) };
    for (const { svc, port, probe } of probes) {
      const request: Request = { client: kubelet, destination: svc.id, port: port.port, ...(probe.kind === 'http' ? { method: 'GET', path: probe.path } : {}) };
      assert.equal(decide(model, request).allowed, true);
      for (const target of meshes.keys()) assert.equal(decideOn(target, request), 'allow', `${target}: ${probe.probe} probe of ${svc.id}:${port.name}`);
    }
  });

  it('GIVEN a caller from outside the probe networks WHEN it GETs a probe path THEN every mesh decides as the rules do, and no rule here allows it', () => {
    const outside = '10.0.0.7';
    assert.ok(!probeNetworksOf(model.mesh).some((cidr) => ipInCidr(outside, cidr)));
    const callers: Client[] = [
      { kind: 'plaintext', ip: outside },
      { kind: 'service', service: 'shop/web', ip: outside, tls: true },
      { kind: 'identity', namespace: 'monitoring', serviceAccount: 'prometheus', ip: outside, tls: true },
    ];
    let checked = 0;
    for (const { svc, port, probe } of probes) {
      if (probe.kind !== 'http') continue;
      for (const client of callers) {
        const request: Request = { client, destination: svc.id, port: port.port, method: 'GET', path: probe.path };
        assert.equal(decide(model, request).allowed, false, `${client.kind} GET ${probe.path} on ${svc.id}`);
        for (const target of meshes.keys())
          assert.equal(decideOn(target, request), 'deny', `${target}: ${client.kind} GET ${probe.path} on ${svc.id}:${port.name}`);
        checked++;
      }
    }
    assert.ok(checked >= 9);
  });

  it('GIVEN a deny on /debug/* WHEN a caller sends a percent-encoded or dot-segment variant THEN every mesh denies it (Linkerd matches raw paths)', () => {
    const prometheus: Client = { kind: 'identity', namespace: 'monitoring', serviceAccount: 'prometheus', ip: '10.0.0.7', tls: true };
    for (const variant of ['/%64ebug/x', '/metrics/../debug/x', '/metrics/%2e%2e/debug/x']) {
      const request: Request = { client: prometheus, destination: 'shop/api', port: 9102, method: 'GET', path: variant };
      assert.equal(decide(model, request).allowed, false, variant);
      for (const target of meshes.keys()) assert.equal(decideOn(target, request), 'deny', `${target}: ${variant}`);
    }
    // The allowed path itself still passes everywhere.
    const metrics: Request = { client: prometheus, destination: 'shop/api', port: 9102, method: 'GET', path: '/metrics' };
    for (const target of meshes.keys()) assert.equal(decideOn(target, metrics), 'allow', target);
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
