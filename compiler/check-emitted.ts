/**
 * Every emitted object is checked against the real CRD it instantiates (structural schema with unknown
 * fields as errors, and CEL rules), from the copies vendored in `schemas/crds/<target>/`. A violation is
 * a policyc bug, reported as PC4001 instead of being written out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KubernetesObject, Target } from '../model/target';
import { VENDORED_CRDS } from './package-files';
import { forgetCheckedValues, loadCrdValidator, type CrdValidator } from './crd-schemas';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import type { EmitMemo } from './emit-memo';

const validators = new Map<string, CrdValidator | undefined>();

/** The CRD file of a kind in one CRD set, by Kubernetes' naming (`<plural>.<group>.yaml`): only the CRDs a build uses are read. */
function crdFileOf(set: string, object: KubernetesObject): string {
  const group = object.apiVersion.split('/')[0] ?? '';
  const lower = object.kind.toLowerCase();
  // A consonant before the `y` makes `-ies` (policies), a vowel only adds `s` (gateways).
  const plural = /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`;
  return path.join(VENDORED_CRDS, set, `${plural}.${group}.yaml`);
}

function validatorFor(file: string): CrdValidator | undefined {
  if (!validators.has(file)) validators.set(file, fs.existsSync(file) ? loadCrdValidator([file]) : undefined);
  return validators.get(file);
}

/** Objects policyc writes that no CRD describes (core kinds such as a Namespace patch). */
function isCustomResource(object: KubernetesObject): boolean {
  return object.apiVersion.includes('.');
}

/** Violations of every custom resource of `objects`; `memo` (a watch session's) skips objects validated before, unchanged. */
export function validateEmitted(target: Pick<Target, 'name' | 'crds'>, objects: readonly KubernetesObject[], memo?: EmitMemo): Diagnostic[] {
  const targetName = target.name;
  const out: Diagnostic[] = [];
  for (const set of target.crds) {
    if (!fs.existsSync(path.join(VENDORED_CRDS, set))) {
      out.push(
        diagnostic(
          'schema-violation',
          `${targetName}: the CRD set '${set}' is not vendored in schemas/crds/, so its objects cannot be checked. This is a policyc packaging bug.`,
        ),
      );
    }
  }
  if (out.length > 0) return out;
  for (const object of objects.filter(isCustomResource)) {
    const entry = memo?.entry(targetName, object);
    const found = (entry?.violations as Diagnostic[] | undefined) ?? validateObject(target, object);
    if (entry !== undefined) entry.violations = found;
    out.push(...found);
  }
  forgetCheckedValues();
  return out;
}

/** Per CRD sets and apiVersion/kind, the validator (undefined: no vendored CRD): looked up on disk once, not once per object. */
const validatorsByKind = new Map<string, CrdValidator | undefined>();

function validatorOfKind(target: Pick<Target, 'crds'>, object: KubernetesObject): CrdValidator | undefined {
  const key = `${target.crds.join(',')} ${object.apiVersion} ${object.kind}`;
  if (!validatorsByKind.has(key)) {
    const file = target.crds.map((set) => crdFileOf(set, object)).find((f) => fs.existsSync(f));
    validatorsByKind.set(key, file === undefined ? undefined : validatorFor(file));
  }
  return validatorsByKind.get(key);
}

function validateObject(target: Pick<Target, 'name' | 'crds'>, object: KubernetesObject): Diagnostic[] {
  const validator = validatorOfKind(target, object);
  // A kind with no vendored CRD is a policyc bug too: the validator says so.
  const violations = validator === undefined ? [{ path: '', message: `no vendored CRD for ${object.apiVersion} ${object.kind}` }] : validator.validate(object);
  return violations.map((violation) =>
    diagnostic(
      'schema-violation',
      `${target.name}: ${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name} fails its CRD at ${violation.path || '/'}: ${violation.message}. This is a policyc bug; please report it with your policy.`,
    ),
  );
}
