/**
 * Every emitted object is checked against the real CRD it instantiates (structural schema with unknown
 * fields as errors, and CEL rules), from the copies vendored in `schemas/crds/<target>/`. A violation is
 * a policyc bug, reported as PC4001 instead of being written out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KubernetesObject } from '../targets/contract';
import { listCrdFiles, loadCrdValidator, type CrdValidator } from './crd-validation';
import { diagnostic, type Diagnostic } from './diagnostics/diagnostic';

/** The vendored CRDs, next to dist/ once compiled. */
export const VENDORED_CRDS = path.resolve(__dirname, '../../schemas/crds');

const validators = new Map<string, CrdValidator>();

function validatorFor(targetName: string): CrdValidator | undefined {
  const dir = path.join(VENDORED_CRDS, targetName);
  if (!fs.existsSync(dir)) return undefined;
  let validator = validators.get(dir);
  if (validator === undefined) {
    validator = loadCrdValidator(listCrdFiles(dir));
    validators.set(dir, validator);
  }
  return validator;
}

/** Objects policyc writes that no CRD describes (core kinds such as a Namespace patch). */
function isCustomResource(object: KubernetesObject): boolean {
  return object.apiVersion.includes('.');
}

export function validateEmitted(targetName: string, objects: readonly KubernetesObject[]): Diagnostic[] {
  const validator = validatorFor(targetName);
  if (validator === undefined) return [];
  const out: Diagnostic[] = [];
  for (const object of objects.filter(isCustomResource)) {
    for (const violation of validator.validate(object)) {
      out.push(
        diagnostic(
          'schema-violation',
          `${targetName}: ${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name} fails its CRD at ${violation.path || '/'}: ${violation.message}. This is a policyc bug; please report it with your policy.`,
        ),
      );
    }
  }
  return out;
}
