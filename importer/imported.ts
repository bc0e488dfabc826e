/**
 * What an import produces before any TypeScript is written: the policy model, where each rule came from,
 * and what could not be expressed (kept as comments at the place it belongs, and reported).
 */
import type { Diagnostic } from '../diagnostics/diagnostic';
import type { PolicyModel } from '../model/model';
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
