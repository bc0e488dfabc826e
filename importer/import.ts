/**
 * `policyc import` as a library: manifests → policy model → TypeScript files → `policyc build` of those files →
 * equivalence with the original manifests. Each step's diagnostics are kept; an error stops the steps after it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compile, type CompileResult } from '../compiler/compile';
import type { PolicyTypeChecker } from '../compiler/typecheck';
import { diagnostic, hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics/diagnostic';
import { simulatorFor, targets } from '../meshes';
import { manifestsFromFiles } from '../verify/compare';
import { compareWithOriginal, describeDifference, type Equivalence } from './equivalence';
import { isPartial, type ImportedPolicy } from './imported';
import { importIstio } from './istio';
import { importLinkerd } from './linkerd';
import { groupVersion, parseManifests, readManifestTexts, type ImportedObject, type ManifestText } from './manifests';
import { ENTRY_FILE, generateSources } from './write-source';
import { namespaceOf, servicesOf, workloadsFor } from './workloads';

export interface ImportOptions {
  readonly texts: readonly ManifestText[];
  /** The folder the TypeScript files are written to. */
  readonly out: string;
  /** The mesh to compile the imported policy for, to compare with the original; by default the manifests' own. */
  readonly target?: 'istio' | 'linkerd';
  readonly rootNamespace?: string;
  /** A type-checker session to reuse across imports (the round-trip fuzz); otherwise one is opened and closed. */
  readonly checker?: PolicyTypeChecker;
}

export interface ImportOutcome {
  readonly diagnostics: readonly Diagnostic[];
  readonly imported?: ImportedPolicy;
  /** Written files, relative to `out`. */
  readonly written: readonly string[];
  readonly compiled?: CompileResult;
  readonly equivalence?: Equivalence;
  /** Some of the cluster's policy is not in the import (PC6005, PC6006). */
  readonly partial: boolean;
}

/** How many differences are listed as diagnostics; the count says how many there were. */
const SHOWN = 20;
const LINKERD_GROUPS = new Set(['policy.linkerd.io', 'gateway.networking.k8s.io']);

export { readManifestTexts };

/**
 * The objects as `kubectl apply` of them in order would leave the cluster: a namespace-less object lands in
 * `default`; a later object with the same kind, namespace and name replaces the earlier one (PC6009).
 */
export function appliedObjects(objects: readonly ImportedObject[]): { objects: ImportedObject[]; diagnostics: Diagnostic[] } {
  const byKey = new Map<string, ImportedObject>();
  const diagnostics: Diagnostic[] = [];
  for (const imported of objects) {
    const { object } = imported;
    const namespaced = object.kind !== 'Namespace';
    const normal =
      namespaced && object.metadata.namespace === undefined
        ? { ...imported, object: { ...object, metadata: { ...object.metadata, namespace: 'default' } } }
        : imported;
    const key = `${groupVersion(object.apiVersion).group}/${object.kind}/${namespaceOf(imported)}/${object.metadata.name}`;
    const earlier = byKey.get(key);
    if (earlier !== undefined) {
      diagnostics.push(
        diagnostic(
          'import-replaced',
          `${imported.ref} replaces the one at ${path.basename(earlier.span.file)}:${earlier.span.line}, as applying both in order would. Import only the objects the cluster has.`,
          imported.span,
        ),
      );
      byKey.delete(key);
    }
    byKey.set(key, normal);
  }
  return { objects: [...byKey.values()], diagnostics };
}

export function importManifests(options: ImportOptions): ImportOutcome {
  const parsed = parseManifests(options.texts);
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  const applied = appliedObjects(parsed.objects);
  diagnostics.push(...applied.diagnostics);
  const objects = applied.objects;
  const linkerd = objects.filter((o) => LINKERD_GROUPS.has(groupVersion(o.object.apiVersion).group));
  const istio = objects.filter((o) => groupVersion(o.object.apiVersion).group === 'security.istio.io');
  if (hasErrors(diagnostics)) return { diagnostics, written: [], partial: isPartial(diagnostics) };
  if (istio.length === 0 && linkerd.length === 0) {
    diagnostics.push(diagnostic('import-no-input', 'None of the manifests is an Istio or Linkerd policy object, so there is nothing to import.'));
    return { diagnostics, written: [], partial: false };
  }
  // One mesh per import: the one most objects are for; the other mesh's objects are reported.
  const mesh = istio.length >= linkerd.length ? 'istio' : 'linkerd';
  for (const o of mesh === 'istio' ? linkerd : istio) {
    diagnostics.push(
      diagnostic('import-inexpressible', `${o.ref}: one import reads the policy of one mesh (${mesh} here); import this object's mesh separately.`, o.span),
    );
  }
  const imported = mesh === 'istio' ? importIstio(objects, { rootNamespace: options.rootNamespace ?? 'istio-system' }) : importLinkerd(objects);
  // A policy expanded onto several workloads reports each lost part once.
  diagnostics.push(...sortDiagnostics(imported.diagnostics));
  if (imported.model.services.length === 0) {
    diagnostics.push(
      diagnostic(
        'import-no-input',
        'The manifests hold no workload (Deployment, StatefulSet, DaemonSet with a Service), so no policy can be attached. Import them together with the workloads, e.g. `kubectl get deployments,services,authorizationpolicies,peerauthentications -A -o yaml | policyc import -`.',
      ),
    );
    return { diagnostics, imported, written: [], partial: true };
  }

  const sources = generateSources(imported, `Imported by \`policyc import\` from ${imported.mesh === 'istio' ? 'Istio' : 'Linkerd'} manifests.`);
  fs.mkdirSync(options.out, { recursive: true });
  const written: string[] = [];
  for (const [file, text] of sources.files) {
    fs.writeFileSync(path.join(options.out, file), text);
    written.push(file);
  }

  const targetName = options.target ?? imported.mesh;
  const target = targets.get(targetName);
  const compiled = compile({
    entry: path.join(options.out, ENTRY_FILE),
    targets: target === undefined ? [] : [target],
    ...(options.checker === undefined ? {} : { checker: options.checker }),
  });
  diagnostics.push(...compiled.diagnostics);
  const files = compiled.outputs.get(targetName);
  if (compiled.model === undefined || files === undefined || targetName !== imported.mesh) {
    return { diagnostics, imported, written, compiled, partial: isPartial(diagnostics) };
  }
  const simulator = simulatorFor(targetName, compiled.model.mesh);
  if (simulator === undefined) return { diagnostics, imported, written, compiled, partial: isPartial(diagnostics) };
  const workloads = workloadsFor(compiled.model, imported.services);
  const equivalence = compareWithOriginal(
    compiled.model,
    objects.map((o) => o.object),
    manifestsFromFiles(files),
    simulator,
    workloads,
  );
  diagnostics.push(...equivalenceDiagnostics(targetName, equivalence));
  return { diagnostics, imported, written, compiled, equivalence, partial: isPartial(diagnostics) };
}

export function equivalenceDiagnostics(target: string, equivalence: Equivalence): Diagnostic[] {
  const out = equivalence.differences.slice(0, SHOWN).map((d) => diagnostic('import-not-equivalent', `${target}: ${describeDifference(d)}.`));
  if (equivalence.differences.length > SHOWN) {
    out.push(diagnostic('import-not-equivalent', `${target}: ${equivalence.differences.length - SHOWN} more requests are decided differently.`));
  }
  return out;
}

/** `policyc verify --against`: the compiled build against the manifests it replaces, on the mesh those manifests are for. */
export function verifyAgainst(
  result: CompileResult,
  texts: readonly ManifestText[],
): { readonly diagnostics: Diagnostic[]; readonly target?: string; readonly equivalence?: Equivalence } {
  const parsed = parseManifests(texts);
  const diagnostics = parsed.diagnostics.filter((d) => d.id !== 'import-not-policy');
  const { objects } = appliedObjects(parsed.objects);
  const model = result.model;
  if (model === undefined) return { diagnostics };
  const target = objects.some((o) => LINKERD_GROUPS.has(groupVersion(o.object.apiVersion).group)) ? 'linkerd' : 'istio';
  const files = result.outputs.get(target);
  const simulator = simulatorFor(target, model.mesh);
  if (files === undefined || simulator === undefined) {
    diagnostics.push(
      diagnostic('import-not-equivalent', `The manifests are for ${target}; build for it too (\`--target ${target}\` or \`--target all\`) to compare.`),
    );
    return { diagnostics, target };
  }
  const workloads = workloadsFor(
    model,
    servicesOf(objects, () => 'tcp'),
  );
  const equivalence = compareWithOriginal(
    model,
    objects.map((o) => o.object),
    manifestsFromFiles(files),
    simulator,
    workloads,
  );
  diagnostics.push(...equivalenceDiagnostics(target, equivalence));
  return { diagnostics, target, equivalence };
}

/** {@link verifyAgainst} of the named files (or - for standard input), with a one-line summary for the terminal. */
export function verifyAgainstFiles(
  result: CompileResult,
  inputs: readonly string[],
  cwd: string,
): { readonly diagnostics: Diagnostic[]; readonly summary?: string } {
  const read = readManifestTexts(inputs, cwd, () => fs.readFileSync(0, 'utf8'));
  if (read.diagnostics.length > 0) return { diagnostics: read.diagnostics };
  const { diagnostics, target, equivalence } = verifyAgainst(result, read.texts);
  if (equivalence === undefined || target === undefined) return { diagnostics };
  const skipped = equivalence.unsupported.length === 0 ? '' : `, ${equivalence.unsupported.length} not simulated`;
  return {
    diagnostics,
    summary:
      equivalence.differences.length === 0
        ? `against ${inputs.join(', ')} (${target}): equivalent, ${equivalence.checked} requests decided the same${skipped}`
        : `against ${inputs.join(', ')} (${target}): NOT equivalent, ${equivalence.differences.length} of ${equivalence.checked} requests decided differently${skipped}`,
  };
}
