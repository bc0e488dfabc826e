/**
 * Incremental target compiles for a long-lived session (`build --watch`, the editor): after an edit, a target is
 * compiled on a sub-model holding only the rules to the namespaces the edit reaches (every namespace and service
 * kept, so references resolve), and its objects for those namespaces replace the previous output's. README
 * "Incremental watch: recompiling only what an edit reaches" says what this relies on; test/splice.test.ts proves
 * the spliced output byte-identical to a full compile over random models and edits.
 *
 * A namespace is reached when its own declaration, one of its services or a rule to one of its services changed,
 * or when a rule to it names (by service, namespace or identity) a namespace whose declaration or services changed
 * (the sub-model holds no rule to the named namespace, so its rules cannot change the output for the namer). Anything
 * mesh-wide (the mesh settings, the entry, the JWT issuers, the list of namespaces, the SPIFFE IDs any rule names)
 * changing compiles everything again.
 */
import type { Diagnostic } from '../diagnostics/diagnostic';
import type { PolicyModel, SourceModel } from '../model/model';
import type { KubernetesObject, TargetOutput } from '../model/target';
import type { FingerprintMemo } from './model-memo';

/** What the splice compares a model by: its mesh-wide part, and per namespace its whole fingerprint and that of its declarations alone. */
export interface ModelFingerprint {
  readonly global: string;
  readonly namespaces: ReadonlyMap<string, string>;
  /** A namespace's declaration and services: all that a rule to another namespace can read of it (the sub-model keeps no rule to it). */
  readonly declarations: ReadonlyMap<string, string>;
}

/**
 * A namespace's declaration, its services and the rules to them, as one string (changes iff any of them does). With
 * `memo` (a watch session), a model object's JSON is written once, and a namespace whose parts are the same texts
 * keeps its string: an edit writes the JSON of what it changed and joins the namespaces it changed.
 */
export function fingerprint(model: PolicyModel, memo?: FingerprintMemo): ModelFingerprint {
  const parts = new Map<string, string[]>();
  const part = (namespace: string): string[] => {
    let list = parts.get(namespace);
    if (list === undefined) parts.set(namespace, (list = []));
    return list;
  };
  const json = (value: object): string => {
    let text = memo?.json.get(value);
    if (text === undefined) {
      text = JSON.stringify(value);
      memo?.json.set(value, text);
    }
    return text;
  };
  for (const ns of model.namespaces) part(ns.name).push(JSON.stringify(ns));
  for (const service of model.services) part(service.namespace).push(json(service));
  const declarations = new Map([...parts].map(([ns, list]) => [ns, list.join('\n')]));
  const spiffeIds = new Set<string>();
  for (const rule of model.rules) {
    part(namespaceOfService(rule.destination)).push(json(rule));
    for (const source of rule.sources) {
      const identity = source.kind === 'both' ? source.identity : source;
      if (identity.kind === 'spiffe') spiffeIds.add(identity.id);
    }
  }
  const global = JSON.stringify([model.version, model.entry, model.mesh, model.jwtIssuers ?? [], model.namespaces.map((ns) => ns.name), [...spiffeIds].sort()]);
  const namespaces = new Map<string, string>();
  for (const [ns, texts] of parts) {
    const kept = memo?.namespaces.get(ns);
    // The same string as last time when nothing in it changed, so comparing the two fingerprints costs nothing.
    if (kept !== undefined && kept.texts.length === texts.length && kept.texts.every((text, i) => text === texts[i])) namespaces.set(ns, kept.joined);
    else {
      const joined = texts.join('\n');
      memo?.namespaces.set(ns, { texts, joined });
      namespaces.set(ns, joined);
    }
  }
  return { global, namespaces, declarations };
}

function namespaceOfService(id: string): string {
  const slash = id.indexOf('/');
  return slash === -1 ? id : id.slice(0, slash);
}

/** The namespaces a source names: a service's, a namespace, an identity's. */
function namespacesNamed(source: SourceModel): string[] {
  const identity = source.kind === 'both' ? source.identity : source;
  switch (identity.kind) {
    case 'service':
      return [namespaceOfService(identity.service)];
    case 'namespace':
    case 'identity':
      return [identity.namespace];
    default:
      return [];
  }
}

/**
 * The namespaces whose output an edit from `before` to `after` can change, or undefined when it can change
 * anything (a mesh-wide change): then everything is compiled again.
 */
export function reachedNamespaces(model: PolicyModel, before: ModelFingerprint, after: ModelFingerprint): ReadonlySet<string> | undefined {
  if (before.global !== after.global) return undefined;
  const reached = new Set<string>();
  for (const [ns, text] of after.namespaces) if (before.namespaces.get(ns) !== text) reached.add(ns);
  for (const ns of before.namespaces.keys()) if (!after.namespaces.has(ns)) reached.add(ns);
  if (reached.size === 0) return reached;
  // A rule to another namespace reads a changed namespace only through its declaration and services (an edited rule
  // of it changes only its own output): those namespaces are reached too.
  const changed = new Set<string>();
  for (const ns of reached) if (before.declarations.get(ns) !== after.declarations.get(ns)) changed.add(ns);
  if (changed.size === 0) return reached;
  for (const rule of model.rules) {
    const destination = namespaceOfService(rule.destination);
    if (reached.has(destination)) continue;
    if (rule.sources.some((s) => namespacesNamed(s).some((ns) => changed.has(ns)))) reached.add(destination);
  }
  return reached;
}

/**
 * The model a target compiles for the reached namespaces: every namespace, the rules to the reached namespaces,
 * and the services those rules can read: the reached namespaces' own, those the rules name, and every service of
 * a namespace the rules name by namespace or identity. The other services' objects would be thrown away.
 */
export function subModel(model: PolicyModel, reached: ReadonlySet<string>): PolicyModel {
  const rules = model.rules.filter((r) => reached.has(namespaceOfService(r.destination)));
  const namedServices = new Set<string>();
  const namedNamespaces = new Set(reached);
  for (const rule of rules) {
    for (const source of rule.sources) {
      const identity = source.kind === 'both' ? source.identity : source;
      if (identity.kind === 'service') namedServices.add(identity.service);
      else if (identity.kind === 'namespace' || identity.kind === 'identity') namedNamespaces.add(identity.namespace);
    }
  }
  const services = model.services.filter((s) => namedNamespaces.has(s.namespace) || namedServices.has(s.id));
  return { ...model, services, rules };
}

/** The namespace an object belongs to: its own, or for a Namespace patch the namespace it patches; undefined for mesh-wide objects. */
function namespaceOfObject(object: KubernetesObject, namespaces: ReadonlySet<string>): string | undefined {
  const own = object.metadata.namespace;
  if (own !== undefined) return namespaces.has(own) ? own : undefined;
  return object.kind === 'Namespace' && namespaces.has(object.metadata.name) ? object.metadata.name : undefined;
}

function diagnosticKey(d: Diagnostic): string {
  return `${d.code}\u0000${d.message}`;
}

/**
 * The full output of `model` made from the previous output (of the previous model), the output of the previous
 * model's sub-model for `reached` (`previousPartial`) and that of the edited model's (`partial`), or undefined when
 * the splice cannot be shown exact (then the caller compiles everything):
 * - objects and patches of a reached namespace come from the sub-model's output, the rest from the previous one;
 *   mesh-wide objects (outside every namespace of the model) must be the same in both;
 * - diagnostics: the edited sub-model's, and those of the previous output the previous sub-model did not report
 *   (caused by rules of unreached namespaces, which did not change); a diagnostic the previous sub-model reported
 *   and the edited one does not is refused (an unreached rule may cause it too);
 * - no two diagnostics may share code and message (a target reports such a pair once, by whichever came first);
 * - neither output has an error (a target may then leave out every object, and the build writes nothing anyway).
 */
export function splice(
  model: PolicyModel,
  reached: ReadonlySet<string>,
  previous: TargetOutput,
  previousPartial: TargetOutput,
  partial: TargetOutput,
): TargetOutput | SpliceRefusal {
  if ([...previous.diagnostics, ...previousPartial.diagnostics, ...partial.diagnostics].some((d) => d.severity === 'error')) return { refused: 'errors' };
  const namespaces = new Set(model.namespaces.map((ns) => ns.name));
  const mergeObjects = (before: readonly KubernetesObject[], now: readonly KubernetesObject[]): KubernetesObject[] | undefined => {
    const meshWideBefore: string[] = [];
    const meshWideNow: string[] = [];
    const merged: KubernetesObject[] = [];
    for (const object of before) {
      const ns = namespaceOfObject(object, namespaces);
      if (ns === undefined) meshWideBefore.push(JSON.stringify(object));
      else if (!reached.has(ns)) merged.push(object);
    }
    for (const object of now) {
      const ns = namespaceOfObject(object, namespaces);
      if (ns === undefined) {
        meshWideNow.push(JSON.stringify(object));
        merged.push(object);
      } else if (reached.has(ns)) merged.push(object);
    }
    return sameList(meshWideBefore, meshWideNow) ? merged : undefined;
  };
  const objects = mergeObjects(previous.objects, partial.objects);
  const patches = mergeObjects(previous.patches ?? [], partial.patches ?? []);
  if (objects === undefined || patches === undefined) return { refused: 'mesh-wide objects' };

  // Diagnostics: the edited sub-model's, and the previous output's that the sub-model before the edit did not
  // report (what the unreached rules caused). One the sub-model reported before the edit and no longer reports may
  // still be caused by an unreached rule too: then the splice is not shown exact.
  const before = new Set(previousPartial.diagnostics.map((d) => JSON.stringify(d)));
  const now = new Set(partial.diagnostics.map((d) => JSON.stringify(d)));
  const diagnostics: Diagnostic[] = [...partial.diagnostics];
  for (const d of previous.diagnostics) {
    const text = JSON.stringify(d);
    if (!before.has(text)) diagnostics.push(d);
    else if (!now.has(text)) return { refused: 'diagnostics' };
  }
  const texts = new Set<string>();
  const keys = new Set<string>();
  const unique: Diagnostic[] = [];
  for (const d of diagnostics) {
    const text = JSON.stringify(d);
    if (texts.has(text)) continue;
    texts.add(text);
    unique.push(d);
    keys.add(diagnosticKey(d));
  }
  if (keys.size !== unique.length) return { refused: 'diagnostics' };
  return { objects, patches, diagnostics: unique };
}

/**
 * Why a splice was not shown exact. Mesh-wide objects (outside every namespace of the model) that differ would be
 * written once for several namespaces; no target's per-namespace output has such objects (Linkerd's authentications
 * shared in its control-plane namespace are made after the splice, `Target.acrossNamespaces`), so that refusal only
 * guards the splice. The other reasons depend on the edit.
 */
export interface SpliceRefusal {
  readonly refused: 'errors' | 'mesh-wide objects' | 'diagnostics';
}

export function isRefusal(result: TargetOutput | SpliceRefusal): result is SpliceRefusal {
  return 'refused' in result;
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  a.sort();
  b.sort();
  return a.every((x, i) => x === b[i]);
}
