/**
 * Kubelet probes on the Linkerd target (model.ts, 6.): GIVEN ports with probes WHEN compiled THEN each probe
 * path gets a GET route admitting the probe networks (shared/docs/linkerd.md §6: once a Server has a route the
 * automatic probe route is gone), never narrowed by a deny, and the simulator agrees with the model on the
 * whole request space (the kubelet included); a TCP probe only gets warning PC4126 (linkerd/linkerd2#7777).
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import type { PortModel, ServiceModel } from '../../model/model';
import { renderTarget } from '../../compiler/render';
import { createLinkerdSimulator } from '../../verify/linkerd';
import { manifestsFromFiles, verify } from '../../verify/compare';
import { codes, compile, exact, model, ofKind, prefix, rule, spec, svc } from './support';

function withProbes(service: ServiceModel, portName: string, probes: PortModel['probes']): ServiceModel {
  return { ...service, ports: service.ports.map((p) => (p.name === portName && probes !== undefined ? { ...p, probes } : p)) };
}

const web = svc('shop', 'web', { http: { port: 8080, protocol: 'http' } });
const api = withProbes(
  withProbes(svc('shop', 'api', { http: { port: 8080, protocol: 'http' }, redis: { port: 6379, protocol: 'tcp' } }), 'http', [
    { kind: 'http', probe: 'readiness', path: '/healthz' },
    { kind: 'http', probe: 'liveness', path: '/livez' },
  ]),
  'redis',
  [{ kind: 'tcp', probe: 'liveness' }],
);
const from = (s: { id: string }) => ({ kind: 'service' as const, service: s.id });

function mismatches(m: ReturnType<typeof model>): string[] {
  const out = compile(m);
  const objects = manifestsFromFiles(renderTarget(out, m.entry));
  const result = verify(m, objects, createLinkerdSimulator({ trustDomain: m.mesh.trustDomain }));
  return [...result.mismatches.map((x) => `${JSON.stringify(x.request)}: ${x.simulated.reason}`), ...result.unsupported.map((u) => u.reason)];
}

describe('Linkerd target: kubelet probes', () => {
  it('linkerd.md §11: GIVEN an audited PERMISSIVE service whose only route is its probe route WHEN a path no rule names is called THEN it is let through (audit), as the model says: the Server keeps its route without grants, never a 404', () => {
    // Found by the fuzz (seeds 4242, 1, 99): the probe route gave the Server routes, and a dropped grant-less route
    // left every other path to Linkerd's 404, which audit does not let through.
    const audited = {
      ...withProbes(svc('shop', 'api', { http: { port: 8080, protocol: 'http' } }), 'http', [{ kind: 'http', probe: 'readiness', path: '/healthz' }]),
      mtls: 'PERMISSIVE' as const,
      enforcement: 'audit' as const,
    };
    const m = model([audited, web], [rule('allow', [from(web)], audited.id, ['http'], { paths: [prefix('/v1/')] })]);
    const routes = ofKind(compile(m), 'HTTPRoute');
    assert.ok(
      routes.some((r) => JSON.stringify(spec(r)['rules']).includes('"value":"/"')),
      'a catch-all route remains',
    );
    assert.deepEqual(mismatches(m), []);
  });

  it('GIVEN a STRICT port with probes and only a port-wide allow WHEN compiled THEN a GET route per probe path with a NetworkAuthentication of the probe networks, and no mismatch anywhere', () => {
    const m = model([api, web], [rule('allow', [from(web)], api.id, ['http'])], { probeNetworks: ['10.128.0.0/16'] });
    const out = compile(m);
    const probeRoutes = ofKind(out, 'HTTPRoute').filter((r) => JSON.stringify(spec(r)['rules']).includes('"method":"GET"'));
    // Probe paths with the same grants share one route (its rules list both matches).
    const probePaths = probeRoutes.flatMap((r) =>
      (spec(r)['rules'] as { matches: { path: { value: string } }[] }[]).flatMap((rule) => rule.matches.map((m) => m.path.value)),
    );
    assert.deepEqual(probePaths.sort(), ['/healthz', '/livez']);
    assert.deepEqual(
      ofKind(out, 'NetworkAuthentication').map((n) => spec(n)['networks']),
      [[{ cidr: '10.128.0.0/16' }]],
    );
    assert.deepEqual(mismatches(m), []);
  });

  it('GIVEN a deny of anyone on the probe path WHEN compiled THEN the kubelet still gets its probe (the probe grant is never narrowed), everyone else is refused', () => {
    const m = model(
      [api, web],
      [
        rule('allow', [from(web)], api.id, ['http'], { paths: [prefix('/v1/')] }),
        rule('deny', [{ kind: 'anyone' }], api.id, ['http'], { paths: [exact('/healthz')] }),
      ],
      { probeNetworks: ['10.128.0.0/16'] },
    );
    assert.deepEqual(mismatches(m), []);
  });

  it('GIVEN the default probe networks WHEN compiled THEN PC4127 says any client can GET the probe paths, and verify accepts that answer only for probe GETs', () => {
    const m = model([api, web], [rule('allow', [from(web)], api.id, ['http'], { paths: [prefix('/v1/')] })]);
    assert.ok(codes(compile(m)).includes('PC4127'));
    assert.deepEqual(mismatches(m), []);
  });

  it('GIVEN a TCP probe WHEN compiled THEN no object for it and warning PC4126; the kubelet connection is admitted by the proxy itself', () => {
    const m = model([api, web], [rule('allow', [from(web)], api.id, ['redis'])], { probeNetworks: ['10.128.0.0/16'] });
    assert.ok(codes(compile(m)).includes('PC4126'));
    assert.deepEqual(mismatches(m), []);
  });

  it('GIVEN a port with path rules and no declared probes WHEN compiled THEN PC4106 still warns that probes lost their automatic route', () => {
    const bare = svc('shop', 'bare', { http: { port: 8080, protocol: 'http' } });
    const m = model([bare, web], [rule('allow', [from(web)], bare.id, ['http'], { paths: [prefix('/v1/')] })]);
    assert.ok(codes(compile(m)).includes('PC4106'));
  });

  it('GIVEN defaultAction deny WHEN compiled THEN PC4128 says the admin port 4191 closes for linkerd-viz and names `linkerd viz allow-scrapes` per namespace (https://linkerd.io/2.15/reference/cli/viz); defaultAction allow does not', () => {
    const m = model([api, web], [rule('allow', [from(web)], api.id, ['http'])]);
    const message = compile(m).diagnostics.find((d) => d.code === 'PC4128')?.message ?? '';
    assert.match(message, /linkerd viz allow-scrapes --namespace shop/);
    assert.ok(!compile(model([api, web], [], { defaultAction: 'allow' })).diagnostics.some((d) => d.code === 'PC4128'));
  });
});
