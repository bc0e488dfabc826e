/**
 * The conformance suite: one list of policies, run against every mesh of the registry (meshes/index.ts), as
 * one router suite runs against every router. GIVEN a case WHEN a target compiles it THEN either the target
 * refuses it with the diagnostic the skip list names (and says why), or the mesh's simulator, reading only the
 * rendered YAML, decides every request of the model's request space as the model does.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { renderTarget } from '../compiler/render';
import { meshes } from '../meshes';
import type { PolicyModel } from '../model/model';
import { manifestsFromFiles, verify } from '../verify/compare';
import { exact, model, prefix, rule, svc } from './model-builders';

const web = svc('shop', 'web', { http: { port: 8080, protocol: 'http' } });
const api = svc('shop', 'api', { http: { port: 8080, protocol: 'http' }, grpc: { port: 9090, protocol: 'grpc' } }, { serviceAccount: 'api-sa' });
const db = svc('data', 'db', { sql: { port: 5432, protocol: 'tcp' } });
const metrics = svc('shop', 'metrics', { http: { port: 8080, protocol: 'http' }, prom: { port: 9102, protocol: 'http', mtls: 'PERMISSIVE' } });
const legacy = svc('legacy', 'old', { http: { port: 80, protocol: 'http', mtls: 'DISABLE' } });

/** Each case is a small policy that isolates one feature of the model. */
const CASES: Readonly<Record<string, PolicyModel>> = {
  'one service to another, L4': model([web, db], [rule('allow', [{ kind: 'service', service: 'shop/web' }], 'data/db', ['sql'])]),
  'methods and exact and prefix paths': model(
    [web, api],
    [
      rule('allow', [{ kind: 'service', service: 'shop/web' }], 'shop/api', ['http'], {
        methods: ['GET', 'POST'],
        paths: [exact('/v1/items'), prefix('/v1/orders/')],
      }),
    ],
  ),
  'namespace and authenticated sources': model(
    [web, api, db],
    [rule('allow', [{ kind: 'namespace', namespace: 'shop' }], 'data/db', ['sql']), rule('allow', [{ kind: 'authenticated' }], 'shop/web', ['http'])],
  ),
  'an identity outside the policy': model(
    [web],
    [rule('allow', [{ kind: 'identity', namespace: 'istio-system', serviceAccount: 'gateway' }], 'shop/web', ['http'])],
  ),
  'anyone on a PERMISSIVE port, L4': model([metrics], [rule('allow', [{ kind: 'anyone' }], 'shop/metrics', ['prom'])]),
  'IP blocks': model(
    [web],
    [
      rule(
        'allow',
        [
          { kind: 'ipBlock', cidr: '10.0.0.0/8' },
          { kind: 'ipBlock', cidr: '2001:db8::/32' },
        ],
        'shop/web',
        ['http'],
      ),
    ],
  ),
  'a deny of one identity inside an allowed namespace': model(
    [web, api],
    [
      rule('allow', [{ kind: 'namespace', namespace: 'shop' }], 'shop/api', ['http']),
      rule('deny', [{ kind: 'service', service: 'shop/web' }], 'shop/api', ['http']),
    ],
  ),
  'default allow with a deny of an IP block': model([web, db], [rule('deny', [{ kind: 'ipBlock', cidr: '10.1.0.0/16' }], 'data/db', ['sql'])], {
    defaultAction: 'allow',
  }),
  'gRPC service paths': model(
    [web, api],
    [rule('allow', [{ kind: 'service', service: 'shop/web' }], 'shop/api', ['grpc'], { methods: ['POST'], paths: [prefix('/shop.v1.Api/')] })],
  ),
  'a DISABLE port': model([web, legacy], [rule('allow', [{ kind: 'anyone' }], 'legacy/old', ['http'])]),
  'HTTP rules that admit plaintext clients': model(
    [metrics],
    [rule('allow', [{ kind: 'anyone' }], 'shop/metrics', ['prom'], { methods: ['GET'], paths: [exact('/metrics')] })],
  ),
  'SPIFFE IDs and a trust domain': model(
    [web, api],
    [
      rule(
        'allow',
        [
          { kind: 'spiffe', id: 'spiffe://cluster.local/ns/ops/sa/bot' },
          { kind: 'spiffe', id: 'spiffe://old.example/ns/shop/sa/web' },
          { kind: 'trustDomain', trustDomain: 'legacy.example' },
        ],
        'shop/api',
        ['http'],
      ),
      rule('allow', [{ kind: 'namespace', namespace: 'shop' }], 'shop/web', ['http']),
    ],
  ),
  'an identity that must also come from a network': model(
    [web, api],
    [rule('allow', [{ kind: 'both', identity: { kind: 'service', service: 'shop/web' }, cidrs: ['10.0.0.0/8'] }], 'shop/api', ['http'])],
  ),
  'an ingress gateway admitting original client addresses': model(
    [
      {
        ...svc('istio-system', 'ingress', { http: { port: 8080, protocol: 'http' } }, { selector: { istio: 'ingressgateway' } }),
        gateway: { kind: 'istio-ingress', numTrustedProxies: 1 },
      },
      web,
    ],
    [
      rule('allow', [{ kind: 'remoteIpBlock', cidr: '203.0.113.0/24' }], 'istio-system/ingress', ['http']),
      rule('allow', [{ kind: 'service', service: 'istio-system/ingress' }], 'shop/web', ['http']),
    ],
  ),
};

/**
 * What a target refuses, with the code it must refuse with and why; every other case must verify. An entry
 * that no longer matches what the target does fails the suite, so the list cannot go stale.
 */
const SKIPS: Readonly<Record<string, Readonly<Record<string, { readonly code: string; readonly why: string }>>>> = {
  linkerd: {
    'a DISABLE port': { code: 'PC4101', why: 'Linkerd always uses mTLS between meshed pods; no policy object turns it off.' },
    'a deny of one identity inside an allowed namespace': {
      code: 'PC4102',
      why: "Linkerd's authorizations only allow, and a namespace wildcard identity cannot leave one identity out.",
    },
    'an ingress gateway admitting original client addresses': {
      code: 'PC4115',
      why: 'Linkerd never reads X-Forwarded-For, and an Istio ingress gateway is an Istio component (PC4116).',
    },
  },
  'istio-ambient': {
    'a DISABLE port': { code: 'PC4201', why: 'ztunnel always uses mTLS (HBONE); DISABLE is ignored (docs/ambient.md §6).' },
    'HTTP rules that admit plaintext clients': {
      code: 'PC4203',
      why: 'A plaintext client never reaches the waypoint, so its requests cannot be matched by method or path (docs/ambient.md §7).',
    },
    'an ingress gateway admitting original client addresses': {
      code: 'PC4213',
      why: "A gateway's own Envoy enforces its policy, not ztunnel; the ambient target does not model gateways.",
    },
  },
};

describe.each([...meshes.keys()])('conformance: %s', (meshName) => {
  const mesh = meshes.get(meshName);
  for (const [name, policy] of Object.entries(CASES)) {
    const skip = SKIPS[meshName]?.[name];
    it(
      skip === undefined ? `GIVEN ${name} THEN the simulated mesh decides as the model` : `GIVEN ${name} THEN it is refused with ${skip.code}: ${skip.why}`,
      () => {
        assert.ok(mesh !== undefined);
        const output = mesh.target.compile(policy, { spanOf: () => undefined });
        const errors = output.diagnostics.filter((d) => d.severity === 'error').map((d): string => d.code);
        if (skip !== undefined) {
          assert.ok(errors.includes(skip.code), `expected ${skip.code}, got ${errors.join(', ') || 'no error'}`);
          return;
        }
        assert.deepEqual(errors, []);
        const objects = manifestsFromFiles(renderTarget(output, policy.entry));
        const result = verify(policy, objects, mesh.simulator(policy.mesh));
        assert.ok(result.checked > 0);
        assert.deepEqual(result.unsupported, []);
        assert.deepEqual(
          result.mismatches.map((m) => `${m.request.destination}:${m.request.port} ${m.request.method ?? ''} ${m.request.path ?? ''}: ${m.simulated.reason}`),
          [],
        );
      },
    );
  }
});

describe('the skip list', () => {
  it('GIVEN every skip entry THEN it names a mesh of the registry and a case of the suite', () => {
    for (const [meshName, skips] of Object.entries(SKIPS)) {
      assert.ok(meshes.has(meshName), meshName);
      for (const name of Object.keys(skips)) assert.ok(name in CASES, name);
    }
  });
});
