/**
 * What an import produces before any TypeScript is written: the policy model, where each rule came from,
 * and what could not be expressed (kept as comments at the place it belongs, and reported).
 */
import { diagnostic, type Diagnostic, type Span } from '../diagnostics/diagnostic';
import { compareStrings } from '../model/compare';
import { shortHash } from '../model/hash';
import type { PolicyModel, RuleModel } from '../model/model';
import type { ImportedObject } from './manifests';
import type { ImportedService } from './workloads';

/** A comment kept in the generated source: a part of a cluster object the policy language cannot say. */
export interface KeptComment {
  /** The namespace file it goes to. */
  readonly namespace: string;
  /** The destination service id whose rules it stands among; absent: the top of the namespace file. */
  readonly destination?: string;
  /** `Kind namespace/name` of the object. */
  readonly origin: string;
  /** What was not imported and why, in words. */
  readonly text: string;
}

export interface ImportedPolicy {
  /** The mesh the manifests were written for. */
  readonly mesh: 'istio' | 'linkerd';
  readonly model: PolicyModel;
  /** Rule id → the cluster objects (`Kind namespace/name`) it came from, and why it exists when no object says so. */
  readonly origins: ReadonlyMap<string, { readonly objects: readonly string[]; readonly why?: string }>;
  readonly services: readonly ImportedService[];
  readonly comments: readonly KeptComment[];
  /** Located at the YAML; PC6005/PC6006 make an import partial. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Whether something of the cluster's policy is missing from the import (each such thing is a PC6005 or PC6006). */
export function isPartial(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.id === 'import-inexpressible' || d.id === 'import-no-workload');
}

/**
 * What an importer could not express, gathered as it reads: each `kept` part is both reported (PC6005, or
 * PC6006 for an object no workload carries) and kept as a comment at the place it belongs.
 */
export function keptParts(): {
  readonly diagnostics: Diagnostic[];
  readonly comments: KeptComment[];
  kept(
    object: ImportedObject,
    span: Span,
    text: string,
    place: { namespace: string; destination?: string },
    id?: 'import-inexpressible' | 'import-no-workload',
  ): void;
} {
  const diagnostics: Diagnostic[] = [];
  const comments: KeptComment[] = [];
  return {
    diagnostics,
    comments,
    kept(object, span, text, place, id = 'import-inexpressible') {
      diagnostics.push(diagnostic(id, `${object.ref}: ${text}`, span));
      comments.push({ ...place, origin: object.ref, text });
    },
  };
}

/** Rule id → the cluster objects it came from, and why it exists when no object says so. */
export type RuleOrigins = Map<string, { objects: readonly string[]; why?: string }>;

/**
 * Imported rules with the same content merged (their origins add up), given ids as the compiler derives them,
 * in destination order. `why` explains a rule that no object wrote (the mesh's own default admits it).
 */
export function mergeRules(
  drafts: readonly { readonly body: Omit<RuleModel, 'id'>; readonly origins: readonly string[] }[],
  why: string,
): {
  readonly rules: RuleModel[];
  readonly origins: RuleOrigins;
} {
  const merged = new Map<string, { body: Omit<RuleModel, 'id'>; objects: Set<string> }>();
  for (const { body, origins } of drafts) {
    const key = JSON.stringify(body);
    const entry = merged.get(key) ?? { body, objects: new Set<string>() };
    for (const o of origins) entry.objects.add(o);
    merged.set(key, entry);
  }
  const origins: RuleOrigins = new Map();
  // The key begins with the action, so it orders allow before deny within a destination.
  const rules = [...merged]
    .map(([key, { body, objects }]) => {
      const id = shortHash(key);
      origins.set(id, objects.size > 0 ? { objects: [...objects].sort(compareStrings) } : { objects: [], why });
      return { id, ...body, key };
    })
    .sort((a, b) => compareStrings(a.destination, b.destination) || compareStrings(a.key, b.key))
    .map(({ key, ...rule }) => (void key, rule));
  return { rules, origins };
}

/** Values without repeats (by content), in the order of their JSON text. */
export function uniqueSorted<T>(values: readonly T[]): T[] {
  const byKey = new Map(values.map((v) => [JSON.stringify(v), v]));
  return [...byKey.keys()].sort(compareStrings).map((k) => byKey.get(k) as T);
}
