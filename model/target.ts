/**
 * The one contract between the compiler and a mesh target. A target reads the model and returns plain
 * Kubernetes objects; the compiler validates, orders and serialises them. Targets never read files.
 */
import type { Diagnostic } from '../diagnostics/diagnostic';
import type { PolicyModel } from './model';

/**
 * The label every object a target emits carries (never a patch of an object policyc does not own, such as a
 * Namespace): what `kubectl apply --prune -l`, and a reader of the cluster, select policyc's objects by.
 */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY: Readonly<Record<string, string>> = { [MANAGED_BY_LABEL]: 'policyc' };
/**
 * The annotation naming the policy declarations an object implements, `file: declaration` (the file relative
 * to the policy's root; a rule as `allow(shop/frontend) to shop/checkout`, or the service, namespace or mesh
 * it comes from), sorted, `; `-separated. README "Applying the output" says why not line numbers.
 */
export const SOURCE_ANNOTATION = 'policyc.dev/source';

/**
 * The one destination service (`namespace/name`) every declaration in an object's source annotation names
 * (a rule `… to <service>`, or `service <service>`), or undefined when they name none (a namespace, the mesh),
 * several, or the annotation is absent. The build writes an object into its service's file by it (README
 * "Applying the output"); the annotation is written by targets/metadata.ts `sourceText`. Text it cannot read
 * (a file name that looks like a separator) only moves the object to its namespace's file.
 */
export function serviceOfSource(object: Pick<KubernetesObject, 'metadata'>): string | undefined {
  const text = object.metadata.annotations?.[SOURCE_ANNOTATION];
  if (text === undefined) return undefined;
  let service: string | undefined;
  for (const declaration of text.split('; ')) {
    const named = /(?:^|: )(?:service |[a-z]+\(.*\) to )([a-z0-9-]+\/[a-z0-9-]+)$/.exec(declaration)?.[1];
    if (named === undefined || (service !== undefined && named !== service)) return undefined;
    service = named;
  }
  return service;
}

/** An object's kind as `--prune-allowlist` names it: `<group>/<version>/<Kind>`, `core/v1/<Kind>` for the core group. */
export function allowlistKind(object: Pick<KubernetesObject, 'apiVersion' | 'kind'>): string {
  return `${object.apiVersion.includes('/') ? object.apiVersion : `core/${object.apiVersion}`}/${object.kind}`;
}

/** A Kubernetes object as plain JSON. */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

export interface TargetOutput {
  /** Objects to apply, listed as kustomize `resources`. */
  readonly objects: readonly KubernetesObject[];
  /**
   * Strategic-merge patches of objects policyc does not own (for example a Namespace annotation),
   * listed as kustomize `patches` so a GitOps user can apply them without owning the object.
   */
  readonly patches?: readonly KubernetesObject[];
  readonly diagnostics: readonly Diagnostic[];
}

export interface Target {
  /** Folder name under the output directory and value of `--target`. */
  readonly name: string;
  /**
   * The sets of real CRDs (folders under `schemas/crds/`) that describe every custom resource the target
   * emits; each emitted object is validated against them, and a missing set is an error.
   */
  readonly crds: readonly string[];
  /**
   * Every kind of object the target emits (patches are not objects), as `kubectl apply --prune-allowlist` takes
   * them: `<group>/<version>/<Kind>`. README "Applying the output" lists them; a test checks both.
   */
  readonly kinds: readonly string[];
  /**
   * What to watch when a call to `destination` is revoked: how and when this mesh enforces the revocation.
   * `removed` names the target's objects for that destination the change deletes (`Kind namespace/name`):
   * applying without pruning leaves them in the cluster, where they may keep granting the call.
   */
  revocationNote(destination: { readonly id: string; readonly namespace: string; readonly name: string }, removed: readonly string[]): string;
  /**
   * Everything the target cannot express for this model, as diagnostics with what to write instead.
   * Never throws. `resolveSpan` maps a model location to a diagnostic span.
   */
  compile(model: PolicyModel, context: TargetContext): TargetOutput;
  /**
   * For a target that writes some objects once for several namespaces (Linkerd's authentications shared in its
   * control-plane namespace): `compile(model, context)` is `share(model, compileEach(model, context), context)`.
   * `compileEach` gives every namespace's objects as compiling that namespace alone would, which compiler/splice.ts
   * replaces namespace by namespace in a watch session; `share` makes the whole output of them in one pass. Absent: the
   * target shares nothing across namespaces.
   */
  readonly acrossNamespaces?: {
    compileEach(model: PolicyModel, context: TargetContext): TargetOutput;
    share(model: PolicyModel, each: TargetOutput, context: TargetContext): TargetOutput;
  };
}

export interface TargetContext {
  /** Absolute span of a model location, for diagnostics. */
  readonly spanOf: (location: PolicyModel['rules'][number]['location']) => Diagnostic['span'];
}
