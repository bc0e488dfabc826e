/**
 * Every set of real manifests in shared/mesh-examples/ (with the workloads the docs deploy, from
 * test/fixtures/import/<case>/) imported, built and compared with the original. The expected results are the
 * README's table "Migrating existing policy": a change here is a change of that table.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, runCli, SHARED, tempProject } from './helpers';

interface Outcome {
  /** Exit code of `policyc import` without --allow-partial. */
  readonly exit: number;
  /** Codes of what was not imported (PC6005, PC6006), with their count. */
  readonly notImported: number;
  /** Requests decided differently; null when no comparison ran (the import stopped before). */
  readonly differences: number | null;
  /** Error codes. */
  readonly errors: readonly string[];
}

const EXPECTED: Readonly<Record<string, Outcome>> = {
  'istio-authn-policy': { exit: 1, notImported: 2, differences: 0, errors: [] },
  'istio-authz-deny': { exit: 1, notImported: 1, differences: 0, errors: [] },
  'istio-authz-http': { exit: 1, notImported: 1, differences: 0, errors: [] },
  'istio-authz-ingress': { exit: 1, notImported: 2, differences: null, errors: ['PC6008'] },
  'istio-authz-jwt': { exit: 1, notImported: 2, differences: 0, errors: [] },
  'istio-authz-tcp': { exit: 0, notImported: 0, differences: 0, errors: [] },
  'istio-authz-td-migration': { exit: 0, notImported: 0, differences: 0, errors: [] },
  'istio-mtls-migration': { exit: 0, notImported: 0, differences: 0, errors: [] },
  'linkerd-blog-grpc-routes': { exit: 0, notImported: 0, differences: 0, errors: [] },
  'linkerd-blog-osm-migration': { exit: 1, notImported: 0, differences: null, errors: ['PC6004'] },
  'linkerd-emojivoto-policy': { exit: 1, notImported: 3, differences: 10, errors: ['PC6007'] },
  'linkerd-multicluster': { exit: 0, notImported: 0, differences: 0, errors: [] },
  'linkerd-non-kubernetes-workloads': { exit: 1, notImported: 0, differences: null, errors: ['PC6001'] },
  'linkerd-per-route-policy': { exit: 0, notImported: 0, differences: 0, errors: [] },
  'linkerd-reference-authz-booksapp': { exit: 1, notImported: 4, differences: 0, errors: [] },
  'linkerd-reference-authz-emojivoto': { exit: 1, notImported: 3, differences: 0, errors: [] },
  'linkerd-restricting-access': { exit: 1, notImported: 1, differences: 5, errors: ['PC6007'] },
};

const EXAMPLES = path.join(SHARED, 'mesh-examples');

describe('policyc import of the mesh examples', () => {
  it('GIVEN the mesh examples WHEN listed THEN each has an expected result', () => {
    const cases = fs.readdirSync(EXAMPLES).filter((c) => fs.statSync(path.join(EXAMPLES, c)).isDirectory());
    assert.equal(cases.sort().join('\n'), Object.keys(EXPECTED).sort().join('\n'));
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`GIVEN ${name} and its workloads WHEN imported, built and compared THEN the result is the README's`, () => {
      const dir = tempProject({});
      const fixtures = path.join(REPO, 'test', 'fixtures', 'import', name);
      const inputs = [path.join(EXAMPLES, name), ...(fs.existsSync(fixtures) ? [fixtures] : [])];
      const run = runCli(['import', ...inputs, '-o', 'policy', '--format', 'json'], dir);
      const report = JSON.parse(run.stdout) as {
        notImported: unknown[];
        equivalence: { differences: unknown[] } | null;
        diagnostics: { code: string; severity: string }[];
      };
      const outcome: Outcome = {
        exit: run.exit,
        notImported: report.notImported.length,
        differences: report.equivalence?.differences.length ?? null,
        errors: [...new Set(report.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code))].sort(),
      };
      assert.deepEqual(outcome, expected);
    });
  }
});
