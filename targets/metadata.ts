/**
 * The metadata every target gives its objects: the managed-by label (one fact, model/target.ts) and the
 * annotation naming the policy lines the object implements.
 */
import type { SourceLocation } from '../model/model';
import { MANAGED_BY, SOURCE_ANNOTATION, type KubernetesObject } from '../model/target';

/** `file:line` of each location, deduplicated, sorted by file then line; undefined when none is known. */
export function sourceLines(locations: Iterable<SourceLocation | undefined>): string | undefined {
  const byKey = new Map<string, SourceLocation>();
  for (const l of locations) if (l !== undefined) byKey.set(`${l.file}:${l.line}`, l);
  if (byKey.size === 0) return undefined;
  const sorted = [...byKey.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
  return sorted.map((l) => `${l.file}:${l.line}`).join(', ');
}

/** Metadata of an emitted object: name, namespace, the managed-by label, the source annotation. */
export function objectMetadata(
  name: string,
  namespace: string | undefined,
  locations: Iterable<SourceLocation | undefined>,
  labels: Readonly<Record<string, string>> = {},
): KubernetesObject['metadata'] {
  const source = sourceLines(locations);
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    labels: { ...MANAGED_BY, ...labels },
    ...(source === undefined ? {} : { annotations: { [SOURCE_ANNOTATION]: source } }),
  };
}

/**
 * The rollout note's sentence about objects a revocation deletes: `kubectl apply` without pruning leaves
 * them in the cluster, where they keep granting, so the revocation takes effect only once they are pruned.
 */
export function prunedNote(removed: readonly string[]): string {
  if (removed.length === 0) return '';
  const it = removed.length === 1 ? 'it is' : 'they are';
  return ` The change deletes ${removed.join(', ')}: the call stays allowed until ${it} pruned from the cluster (a plain \`kubectl apply\` leaves ${removed.length === 1 ? 'it' : 'them'} in place; see README "Applying the output").`;
}
