/**
 * The proof at scale (issue 16): the request space is built per destination port from the values the model
 * AND every simulator's objects name there, so a mistake that admits a caller no rule of the destination
 * names (an unrelated service, a namespace) is still probed and found, in a 1,000-service policy as in a
 * two-service one.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from '@jest/globals';
import { compiledFile } from '../compiler/package-files';
import { renderTarget } from '../compiler/render';
import { SourceStore } from '../compiler/sources';
import { hasErrors } from '../diagnostics/diagnostic';
import type { PolicyModel, ServiceModel } from '../model/model';
import { simulatorFor, targets } from '../meshes';
import { manifestsFromFiles, verify, type VerificationResult } from '../verify/compare';
import { verifyInParallel, type Outputs } from '../verify/parallel';
import type { ManifestObject } from '../verify/simulator';
import { verificationDiagnostics } from '../verify/verify-build';
import { model as buildModel, rule, svc } from './model-builders';
import { benchModel, plantInOneDestination, renderedOutputs } from './verify-bench';
import type { MutationClass } from './fuzz/planted-mistakes';

/** A target's objects: rendered and parsed as the cluster receives them, or (at 1,000 services, for time) as compiled. */
function compiled(model: PolicyModel, targetName: string, rendered = true): ManifestObject[] {
  const target = targets.get(targetName);
  if (target === undefined) throw new Error(`no target ${targetName}`);
  const output = target.compile(model, { spanOf: () => undefined });
  assert.ok(!hasErrors(output.diagnostics), `${targetName} refused the model`);
  return rendered ? manifestsFromFiles(renderTarget(output, model.entry)) : (output.objects as readonly ManifestObject[] as ManifestObject[]);
}

type Spec = Record<string, unknown>;
const specOf = (o: ManifestObject): Spec => o['spec'] as Spec;

/** Istio: one ALLOW AuthorizationPolicy of the destination gets the principal of `intruder` in its first rule. */
function admitInIstio(objects: readonly ManifestObject[], destination: ServiceModel, intruder: ServiceModel): ManifestObject[] | undefined {
  const policy = objects.find(
    (o) =>
      o.kind === 'AuthorizationPolicy' &&
      o.metadata.namespace === destination.namespace &&
      (specOf(o)['selector'] as { matchLabels?: Record<string, string> } | undefined)?.matchLabels?.['app'] === destination.name &&
      (specOf(o)['action'] ?? 'ALLOW') === 'ALLOW',
  );
  if (policy === undefined) return undefined;
  const [first, ...rest] = specOf(policy)['rules'] as Spec[];
  const principal = `cluster.local/ns/${intruder.namespace}/sa/${intruder.serviceAccount}`;
  const widened = { ...first, from: [...((first?.['from'] as Spec[] | undefined) ?? []), { source: { principals: [principal] } }] };
  const mistaken = { ...policy, spec: { ...specOf(policy), rules: [widened, ...rest] } } as ManifestObject;
  return objects.map((o) => (o === policy ? mistaken : o));
}

/**
 * Linkerd: one AuthorizationPolicy of the destination gets its own MeshTLSAuthentication, the identities it required
 * plus the identity of `intruder` (authentications are shared by who they admit, and one account is a ServiceAccount
 * ref, so the mistake is planted where it touches this destination only).
 */
function admitInLinkerd(objects: readonly ManifestObject[], destination: ServiceModel, intruder: ServiceModel): ManifestObject[] | undefined {
  const name = (sa: string, ns: string): string => `${sa}.${ns}.serviceaccount.identity.linkerd.cluster.local`;
  type Ref = { kind?: string; name?: string; namespace?: string };
  const identitiesOf = (ref: Ref, policy: ManifestObject): string[] | undefined => {
    if (ref.kind === 'ServiceAccount') return [name(ref.name ?? '', ref.namespace ?? policy.metadata.namespace ?? '')];
    if (ref.kind !== 'MeshTLSAuthentication') return undefined;
    const mta = objects.find(
      (o) => o.kind === 'MeshTLSAuthentication' && o.metadata.name === ref.name && o.metadata.namespace === (ref.namespace ?? policy.metadata.namespace),
    );
    const ids = mta === undefined ? undefined : (specOf(mta)['identities'] as string[] | undefined);
    return ids === undefined || ids.includes('*') ? undefined : ids;
  };
  for (const policy of objects) {
    if (
      policy.kind !== 'AuthorizationPolicy' ||
      policy.metadata.namespace !== destination.namespace ||
      !policy.metadata.name.startsWith(`${destination.name}-`)
    )
      continue;
    const refs = (specOf(policy)['requiredAuthenticationRefs'] as Ref[] | undefined) ?? [];
    const index = refs.findIndex((r) => identitiesOf(r, policy) !== undefined);
    if (index < 0) continue;
    const planted: ManifestObject = {
      apiVersion: 'policy.linkerd.io/v1alpha1',
      kind: 'MeshTLSAuthentication',
      metadata: { name: `${policy.metadata.name}-planted`, namespace: destination.namespace },
      spec: { identities: [...(identitiesOf(refs[index] as Ref, policy) ?? []), name(intruder.serviceAccount, intruder.namespace)] },
    };
    const replaced = refs.map((r, i) => (i === index ? { group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: planted.metadata.name } : r));
    const mistaken = { ...policy, spec: { ...specOf(policy), requiredAuthenticationRefs: replaced } } as ManifestObject;
    return [...objects.map((o) => (o === policy ? mistaken : o)), planted];
  }
  return undefined;
}

/** The callers a destination's own rules name, as service ids and namespaces. */
function namedBy(model: PolicyModel, destination: ServiceModel): { services: Set<string>; namespaces: Set<string> } {
  const services = new Set<string>();
  const namespaces = new Set<string>();
  for (const r of model.rules.filter((x) => x.destination === destination.id)) {
    for (const s of r.sources) {
      if (s.kind === 'service') services.add(s.service);
      if (s.kind === 'namespace') namespaces.add(s.namespace);
    }
  }
  return { services, namespaces };
}

function assertCaught(result: VerificationResult, model: PolicyModel, target: string, destination: ServiceModel, intruder: ServiceModel): void {
  assert.ok(result.differing > 0, `${target}: the planted mistake was not found`);
  for (const m of result.mismatches) {
    assert.equal(m.request.destination, destination.id);
    assert.ok(m.overPermissive);
    assert.deepEqual(m.request.client.kind === 'service' ? m.request.client.service : m.request.client, intruder.id);
  }
  const [first] = verificationDiagnostics(target, model, result, new SourceStore('/'));
  assert.equal(first?.code, 'PC4002');
  assert.match(first?.message ?? '', new RegExp(`^${target}: ${intruder.id} \\(.*\\) → ${destination.id}:.* is ALLOWED .* but the policy denies it`));
}

const bench = benchModel(1000);

describe('verify at 1,000 services', () => {
  const model = bench;
  // A destination in the middle of the policy, and a caller from the last namespace, which no rule of the
  // destination names, neither by service nor by namespace (the generator's sources come from the same or
  // earlier namespaces only).
  const destination = model.services[520] as ServiceModel;
  const intruder = model.services[model.services.length - 1] as ServiceModel;
  const named = namedBy(model, destination);
  // The planted destination and its neighbours: the mistake must show on that destination only.
  const around = new Set(model.services.slice(518, 523).map((s) => s.id));

  it('GIVEN the generated policy THEN the intruder is unrelated to the planted destination', () => {
    assert.ok(!named.services.has(intruder.id) && !named.namespaces.has(intruder.namespace));
    assert.notEqual(intruder.namespace, destination.namespace);
  });

  for (const [target, admit] of [
    ['istio', admitInIstio],
    ['linkerd', admitInLinkerd],
  ] as const) {
    it(`GIVEN the ${target} output with one object of one destination admitting an unrelated service WHEN verified THEN the breach is reported on that destination`, () => {
      const simulator = simulatorFor(target, model.mesh);
      assert.ok(simulator !== undefined);
      const objects = compiled(model, target, false);
      const correct = verify(model, objects, simulator, { destinations: around });
      assert.ok(correct.checked > 0);
      assert.equal(correct.differing, 0);
      const mistaken = admit(objects, destination, intruder);
      assert.ok(mistaken !== undefined, `no ${target} object of ${destination.id} to plant the mistake in`);
      assertCaught(verify(model, mistaken, simulator, { destinations: around }), model, target, destination, intruder);
    }, 120_000);
  }
});

/**
 * The whole proof at 1,000 services, as `policyc verify --target all` runs it (rendered files, every destination,
 * this thread and the workers; needs `npx tsc -p .` for dist/cli/verify-worker.js): one mistake in ONE
 * destination's file per target, and each target's report names that destination and no other. About 40 s on
 * this 2-core machine; the build of the three targets is a few seconds of it.
 */
describe('verify at 1,000 services, every destination: one planted mistake per target', () => {
  const plants: readonly (readonly [string, MutationClass, number])[] = [
    ['istio', 'drop-principal', 520],
    ['linkerd', 'widen-path', 610],
    ['istio-ambient', 'flip-deny', 700],
  ];

  it('GIVEN a dropped principal (istio), a widened path (linkerd) and a flipped deny (ambient), each in one destination WHEN the whole space is verified THEN each target reports exactly that destination', () => {
    let outputs: Outputs = renderedOutputs(bench);
    const planted = new Map<string, string>();
    for (const [target, kind, from] of plants) {
      const plant = plantInOneDestination(bench, outputs, target, kind, from);
      outputs = plant.outputs;
      planted.set(target, plant.destination.id);
    }
    const { results } = verifyInParallel(bench, outputs, simulatorFor, { workerFile: compiledFile('cli/verify-worker.js') });
    for (const [target, destination] of planted) {
      const result = results.get(target);
      assert.ok(result !== undefined, `${target} was not verified`);
      assert.ok(result.differing > 0, `${target}: the mistake planted in ${destination} was not found`);
      // Every difference is kept (fewer than the cap), and each is on the planted destination.
      assert.equal(result.mismatches.length, result.differing);
      assert.deepEqual([...new Set(result.mismatches.map((m) => m.request.destination))], [destination]);
      assert.equal(result.unsimulated, 0);
    }
  }, 300_000);
});

describe('a caller no rule of the destination names (the flaw of a space built from the rules alone)', () => {
  // b admits a; c is declared but named by no rule of b, in another namespace. The space's one caller from
  // a namespace nothing names is archive/z (the first), so c is probed only because the objects name it.
  const a = svc('front', 'a', { http: { port: 8080, protocol: 'http' } });
  const b = svc('back', 'b', { http: { port: 8080, protocol: 'http' } });
  const c = svc('batch', 'c', { http: { port: 8080, protocol: 'http' } });
  const z = svc('archive', 'z', { http: { port: 8080, protocol: 'http' } });
  const policy = buildModel([a, b, c, z], [rule('allow', [{ kind: 'service', service: a.id }], b.id, ['http'])]);

  for (const [target, admit] of [
    ['istio', admitInIstio],
    ['linkerd', admitInLinkerd],
  ] as const) {
    it(`GIVEN ${target} objects of b that also admit c WHEN verified THEN c → b is reported as a breach`, () => {
      const simulator = simulatorFor(target, policy.mesh);
      assert.ok(simulator !== undefined);
      const objects = compiled(policy, target);
      assert.equal(verify(policy, objects, simulator).differing, 0);
      const mistaken = admit(objects, b, c);
      assert.ok(mistaken !== undefined);
      assertCaught(verify(policy, mistaken, simulator), policy, target, b, c);
    });
  }
});
