/**
 * The Istio target, through the whole pipeline: GIVEN a small policy, WHEN compiled for Istio, THEN the
 * objects follow Istio's semantics (shared/docs/istio.md §3 checklist), each test naming the trap it guards.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { compile } from '../compiler/compile';
import type { KubernetesObject } from '../model/target';
import { istioTarget } from '../targets/istio';
import { objectName } from '../targets/names';
import { tempProject } from './helpers';

const head = `import { allow, deny, anyone, authenticated, identity, ipBlocks, mesh, namespace, service } from 'policyc';
const shop = namespace('shop');
export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });
export const api = service(shop, 'api', { serviceAccount: 'api-sa', ports: { http: { port: 8080, protocol: 'http' } } });
`;

function istio(body: string): KubernetesObject[] {
  const dir = tempProject({ 'policy.ts': head + body });
  const result = compile({ entry: path.join(dir, 'policy.ts'), targets: [istioTarget] });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, []);
  return istioTarget.compile(result.model as NonNullable<typeof result.model>, { spanOf: () => undefined }).objects as KubernetesObject[];
}

function find(objects: readonly KubernetesObject[], kind: string, namespace: string, name: string): KubernetesObject & { spec: Record<string, unknown> } {
  const found = objects.find((o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.name === name);
  assert.ok(found !== undefined, `${kind} ${namespace}/${name} in ${objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`).join(', ')}`);
  return found as KubernetesObject & { spec: Record<string, unknown> };
}

/** Every array in a value (an empty list in an Istio rule widens or voids it). */
function arrays(value: unknown): unknown[][] {
  if (Array.isArray(value)) return [value, ...value.flatMap(arrays)];
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(arrays);
  return [];
}

describe('Istio target', () => {
  it('grants by principal with the trust domain, one rule per model rule, ports as container port strings (traps 5, 12)', () => {
    const objects = istio(`export default mesh({ trustDomain: 'corp.example', services: [web, api], rules: [allow(api).to(web, { ports: ['http'] })] });`);
    const policy = find(objects, 'AuthorizationPolicy', 'shop', 'web-allow');
    assert.deepEqual(policy.spec, {
      selector: { matchLabels: { app: 'web' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['corp.example/ns/shop/sa/api-sa'] } }], to: [{ operation: { ports: ['8080'] } }] }],
    });
  });

  it('puts an allow-nothing baseline in each namespace under default deny, and no ALLOW policy under default allow (trap 4)', () => {
    const denied = istio(`export default mesh({ services: [web, api], rules: [allow(api).to(web, { ports: ['http'] })] });`);
    assert.deepEqual(find(denied, 'AuthorizationPolicy', 'shop', 'allow-nothing').spec, {});
    const allowed = istio(`export default mesh({ defaultAction: 'allow', services: [web, api], rules: [deny(anyone).to(web, { ports: ['db'] })] });`);
    assert.equal(allowed.filter((o) => o.kind === 'AuthorizationPolicy' && (o['spec'] as { action?: string }).action !== 'DENY').length, 0);
    assert.equal(find(allowed, 'AuthorizationPolicy', 'shop', 'web-deny').spec['action'], 'DENY');
  });

  it('scopes every DENY rule with ports, also when it uses paths (traps 2, 3)', () => {
    const objects = istio(`export default mesh({ services: [web, api], rules: [deny(anyone).to(web, { paths: ['/admin/*'] })] });`);
    const policy = find(objects, 'AuthorizationPolicy', 'shop', 'web-deny');
    // Only the HTTP port: a DENY with HTTP fields must never reach the TCP port.
    assert.deepEqual(policy.spec['rules'], [{ to: [{ operation: { ports: ['8080'], paths: ['/admin/*'] } }] }]);
  });

  it('maps anyone to a rule without from, authenticated to principals ["*"], a namespace to its trust-domain principal and IP blocks to their field (trap 6)', () => {
    const objects = istio(
      `export default mesh({ mtls: 'PERMISSIVE', services: [web, api], rules: [
        allow(anyone).to(web, { ports: ['http'], methods: ['GET'] }),
        allow(authenticated).to(api, { ports: ['http'] }),
        allow(shop, ipBlocks('10.0.0.0/8'), identity('ops', 'bot')).to(web, { ports: ['db'] }),
      ] });`,
    );
    const web = find(objects, 'AuthorizationPolicy', 'shop', 'web-allow').spec['rules'];
    assert.deepEqual(web, [
      { to: [{ operation: { ports: ['8080'], methods: ['GET'] } }] },
      {
        // A namespace is bound to the trust domain (`namespaces: [shop]` would admit shop of any trust domain, istio.md §1.2).
        from: [{ source: { principals: ['cluster.local/ns/ops/sa/bot', 'cluster.local/ns/shop/sa/*'] } }, { source: { ipBlocks: ['10.0.0.0/8'] } }],
        to: [{ operation: { ports: ['5432'] } }],
      },
    ]);
    assert.deepEqual(find(objects, 'AuthorizationPolicy', 'shop', 'api-allow').spec['rules'], [
      { from: [{ source: { principals: ['*'] } }], to: [{ operation: { ports: ['8080'] } }] },
    ]);
    for (const list of arrays(objects)) assert.ok(list.length > 0, 'no empty list anywhere');
  });

  it('emits one mesh PA in the root namespace without selector, and one workload PA with portLevelMtls by container port (traps 5, 7)', () => {
    const objects = istio(
      `const legacy = namespace('legacy', { mtls: 'PERMISSIVE' });
       export const old = service(legacy, 'old', { mtls: 'DISABLE', ports: { http: { port: 80, protocol: 'http' }, admin: { port: 9000, protocol: 'http', mtls: 'STRICT' } } });
       export default mesh({ rootNamespace: 'mesh-root', services: [web, old], rules: [] });`,
    );
    assert.deepEqual(find(objects, 'PeerAuthentication', 'mesh-root', 'default').spec, { mtls: { mode: 'STRICT' } });
    assert.deepEqual(find(objects, 'PeerAuthentication', 'legacy', 'default').spec, { mtls: { mode: 'PERMISSIVE' } });
    assert.deepEqual(find(objects, 'PeerAuthentication', 'legacy', 'old-mtls').spec, {
      selector: { matchLabels: { app: 'old' } },
      mtls: { mode: 'DISABLE' },
      portLevelMtls: { '9000': { mode: 'STRICT' } },
    });
    const workloadPolicies = objects.filter((o) => o.kind === 'PeerAuthentication' && o.metadata.namespace === 'legacy' && o.metadata.name !== 'default');
    assert.equal(workloadPolicies.length, 1);
  });

  it('uses a selector, never targetRefs, and only positive matches (traps 1, 8)', () => {
    const objects = istio(`export default mesh({ services: [web, api], rules: [allow(api).to(web), deny(shop).to(api, { ports: ['http'] })] });`);
    const text = JSON.stringify(objects);
    assert.ok(!text.includes('targetRef'));
    assert.ok(!/"not[A-Z]/.test(text));
  });

  it('names objects as DNS-1123 labels of at most 63 characters, cut with a stable hash', () => {
    const long = 'a'.repeat(60);
    const name = objectName(long, 'allow');
    assert.ok(name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name));
    assert.equal(name, objectName(long, 'allow'));
    assert.notEqual(name, objectName(long, 'deny'));
    assert.equal(objectName('payments', 'allow'), 'payments-allow');
  });
});
