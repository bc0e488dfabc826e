/**
 * The keyed request space (one client and one operation — method, path, headers, token — per combination of the
 * model's and every simulator's keys, `spaceOf`) finds every mistake the exhaustive space (every client × every
 * operation, `everyClient`) finds. Mistakes are planted in the rendered output of random models, one per class of
 * mutation (test/fuzz/planted-mistakes.ts), and both spaces judge the same mutated objects.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compiledTargets } from './fuzz/fuzz';
import { MUTATION_CLASSES, plantMistake, seededRandom, type MutationClass } from './fuzz/planted-mistakes';
import { policyModelArbitrary } from './fuzz/random-model';
import { spaceOf, verifyTargets, type SimulatedTarget } from '../verify/compare';
import type { PolicyModel } from '../model/model';

const SEED = 777;
const MODELS = 40;
/** Mutated outputs whose exhaustive space is larger are skipped: the exhaustive check is what the keyed one replaces. */
const EXHAUSTIVE_CAP = 20_000;

function exhaustiveSize(model: PolicyModel, targets: readonly SimulatedTarget[]): number {
  let size = 0;
  for (const _ of spaceOf(model, targets, { everyClient: true })) if (++size > EXHAUSTIVE_CAP) break;
  return size;
}

describe('keyed request space', () => {
  it(`finds every planted mistake the exhaustive space finds (${MODELS} random models, seed ${SEED}, each class of mutation)`, () => {
    const random = seededRandom(SEED);
    const missed: string[] = [];
    const found = new Map<MutationClass, number>(MUTATION_CLASSES.map((k) => [k, 0]));
    let judged = 0;
    fc.sample(policyModelArbitrary, { seed: SEED, numRuns: MODELS }).forEach((model, index) => {
      for (const target of compiledTargets(model)) {
        // The unmutated output agrees with the model (the fuzz's own property): a mismatch below is the planted one.
        expect(verifyTargets(model, [target]).get(target.name)?.differing).toBe(0);
        for (const kind of MUTATION_CLASSES) {
          const planted = plantMistake(target.objects, kind, random);
          if (planted === undefined) continue;
          const mutated = [{ ...target, objects: planted.objects }];
          if (exhaustiveSize(model, mutated) > EXHAUSTIVE_CAP) continue;
          judged++;
          const keyed = verifyTargets(model, mutated).get(target.name)?.differing ?? 0;
          if (keyed > 0) {
            found.set(kind, (found.get(kind) ?? 0) + 1);
            continue;
          }
          const exhaustive = verifyTargets(model, mutated, { everyClient: true }).get(target.name)?.differing ?? 0;
          if (exhaustive > 0) missed.push(`model ${index}, ${target.name}, ${planted.describe}: exhaustive ${exhaustive} mismatches, keyed none`);
        }
      }
    });
    expect(missed).toEqual([]);
    // Not vacuous: many mutated outputs were judged, and each class of mutation was caught at least once.
    expect(judged).toBeGreaterThan(60);
    for (const kind of MUTATION_CLASSES) expect([kind, found.get(kind)]).not.toEqual([kind, 0]);
  });
});
