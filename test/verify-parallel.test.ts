/**
 * Verify on several threads (verify/parallel.ts): the destinations are cut into parts that this thread and
 * worker threads take in turn, and the parts' results are merged in order. The report must be the same bytes
 * whatever the number of threads and the size of the parts, and the same as one pass over the whole space.
 * The workers run the compiled files: `npx tsc -p .` first.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from '@jest/globals';
import { compiledFile } from '../compiler/package-files';
import { SourceStore } from '../compiler/sources';
import { simulatorFor } from '../meshes';
import { mergeVerifications, verifyTargets, type VerificationResult } from '../verify/compare';
import { simulatedTargets, verifyInParallel, type Outputs } from '../verify/parallel';
import { verificationDiagnostics } from '../verify/verify-build';
import type { MutationClass } from './fuzz/planted-mistakes';
import { benchModel, plantInOneDestination, renderedOutputs } from './verify-bench';

const model = benchModel(50);

/** Mistakes in several destinations of every target, so that differences fall into several parts. */
const plants: readonly (readonly [string, MutationClass, number])[] = [
  ['istio', 'drop-principal', 3],
  ['istio', 'widen-path', 21],
  ['istio', 'flip-deny', 37],
  ['linkerd', 'widen-path', 5],
  ['linkerd', 'drop-principal', 30],
  ['istio-ambient', 'flip-deny', 10],
  ['istio-ambient', 'change-ip-block', 44],
];
let outputs: Outputs = renderedOutputs(model);
for (const [target, kind, from] of plants) outputs = plantInOneDestination(model, outputs, target, kind, from).outputs;

/** The report's bytes: every result, and the diagnostics `policyc verify` prints from it. */
function reportOf(results: ReadonlyMap<string, VerificationResult>): string {
  const store = new SourceStore('/');
  return JSON.stringify([...results].map(([target, result]) => [target, result, verificationDiagnostics(target, model, result, store)]));
}

describe('verify on several threads', () => {
  const workerFile = compiledFile('cli/verify-worker.js');
  const alone = verifyInParallel(model, outputs, simulatorFor);
  const reference = reportOf(alone.results);

  it('GIVEN mistakes planted in several destinations WHEN verified on this thread alone THEN every target differs', () => {
    assert.deepEqual([...alone.results.keys()], ['istio', 'linkerd', 'istio-ambient']);
    for (const [target, result] of alone.results) assert.ok(result.differing > 0, `${target}: no difference found`);
  });

  it('GIVEN one pass over the whole space WHEN compared with the merged parts THEN the results are the same', () => {
    assert.equal(reportOf(verifyTargets(model, simulatedTargets(model, outputs, simulatorFor))), reference);
  });

  for (const [threads, partSize] of [
    [2, undefined],
    [2, 1],
    [3, 7],
  ] as const) {
    it(`GIVEN ${threads} threads and parts of ${partSize ?? 'the default'} destinations WHEN verified THEN the report is byte-identical`, () => {
      const { results } = verifyInParallel(model, outputs, simulatorFor, { workerFile, threads, ...(partSize === undefined ? {} : { partSize }) });
      assert.equal(reportOf(results), reference);
    }, 120_000);
  }
});

describe('merging the results of consecutive parts', () => {
  const request = (destination: string) => ({ client: { kind: 'plaintext', ip: '192.0.2.10' }, destination, port: 80 }) as const;
  const mismatch = (destination: string, overPermissive: boolean) => ({
    request: request(destination),
    expected: !overPermissive,
    simulated: { verdict: overPermissive ? ('allow' as const) : ('deny' as const), reason: '', objects: [] },
    overPermissive,
    modelReason: '',
    rules: [],
  });
  const part = (mismatches: ReturnType<typeof mismatch>[]): VerificationResult => ({
    checked: 10,
    differing: mismatches.length,
    unsimulated: 0,
    mismatches,
    unsupported: [],
  });

  it('GIVEN parts with breaches and lost access WHEN merged THEN counts add up and breaches come first, each kind in request order', () => {
    const merged = mergeVerifications([part([mismatch('a', false), mismatch('a', true)]), part([mismatch('b', true), mismatch('b', false)])]);
    assert.equal(merged.checked, 20);
    assert.equal(merged.differing, 4);
    assert.deepEqual(
      merged.mismatches.map((m) => `${m.request.destination}${m.overPermissive ? '+' : '-'}`),
      ['a+', 'b+', 'a-', 'b-'],
    );
  });

  it('GIVEN more than 10,000 differences WHEN merged THEN the first breaches are kept, then lost access in the room left', () => {
    const many = (destination: string, overPermissive: boolean, n: number) => Array.from({ length: n }, () => mismatch(destination, overPermissive));
    const merged = mergeVerifications([
      part([...many('a', false, 6_000), ...many('a', true, 3_000)]),
      part([...many('b', true, 4_000), ...many('b', false, 100)]),
    ]);
    assert.equal(merged.differing, 13_100);
    assert.equal(merged.mismatches.length, 10_000);
    assert.equal(merged.mismatches.filter((m) => m.overPermissive).length, 7_000);
    assert.deepEqual([...new Set(merged.mismatches.filter((m) => !m.overPermissive).map((m) => m.request.destination))], ['a']);
  });
});
