/**
 * Randomized translation validation: random models → each target → rendered YAML → simulator, compared
 * with the model on the whole request space. fast-check shrinks a failing model to a small one; save it
 * under test/regressions/ so it is replayed by every `npm test`.
 *
 *   npm run fuzz -- [count] [seed]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { PACKAGE_ROOT } from '../../compiler/package-files';
import { hasErrors } from '../../diagnostics/diagnostic';
import type { PolicyModel } from '../../model/model';
import { renderTarget } from '../../compiler/render';
import { allowlistKind, MANAGED_BY_LABEL, type Target } from '../../model/target';
import { targets } from '../../meshes';
import { simulatorFor } from '../../meshes';
import { policyModelArbitrary } from './random-model';
import { describeRequest, manifestsFromFiles, verifyTargets, type SimulatedTarget } from '../../verify/compare';

export interface FuzzStats {
  models: number;
  /** Per target: models it compiled and verified, models it refused with a diagnostic. */
  verified: Record<string, number>;
  refused: Record<string, number>;
  requests: number;
  unsupported: number;
}

/**
 * Compiles one model for each target and returns, for each target that compiles it and has a simulator, the
 * objects a cluster receives: the rendered YAML files the user gets, parsed back.
 */
export function compiledTargets(model: PolicyModel, stats?: FuzzStats, chosen: readonly Target[] = [...targets.values()]): SimulatedTarget[] {
  const compiled: SimulatedTarget[] = [];
  for (const target of chosen) {
    const output = target.compile(model, { spanOf: () => undefined });
    // Every object is one prune can find (README "Applying the output"): labelled, of a kind the target declares.
    for (const o of output.objects) {
      if (o.metadata.labels?.[MANAGED_BY_LABEL] !== 'policyc') throw new Error(`${target.name}: ${o.kind} ${o.metadata.name} lacks the managed-by label`);
      if (!target.kinds.includes(allowlistKind(o))) throw new Error(`${target.name}: ${allowlistKind(o)} is not among the target's kinds`);
    }
    if (hasErrors(output.diagnostics)) {
      if (stats !== undefined) stats.refused[target.name] = (stats.refused[target.name] ?? 0) + 1;
      continue;
    }
    const simulator = simulatorFor(target.name, model.mesh);
    if (simulator === undefined) continue;
    compiled.push({ name: target.name, objects: manifestsFromFiles(renderTarget(output, model.entry)), simulator });
  }
  return compiled;
}

/** Checks one model against every target; throws with a readable report on the first mismatch. */
export function checkModel(model: PolicyModel, stats?: FuzzStats, chosen: readonly Target[] = [...targets.values()]): void {
  if (stats !== undefined) stats.models++;
  const compiled = compiledTargets(model, stats, chosen);
  for (const [name, result] of verifyTargets(model, compiled)) {
    if (stats !== undefined) {
      stats.verified[name] = (stats.verified[name] ?? 0) + 1;
      stats.requests += result.checked;
      stats.unsupported += result.unsimulated;
    }
    const first = result.mismatches[0];
    if (first !== undefined) {
      throw new Error(
        `${name}: ${result.differing} mismatches; first: ${describeRequest(first.request)}: model ${first.expected ? 'allows' : 'denies'} (${first.modelReason}), simulated ${first.simulated.verdict} (${first.simulated.reason}; ${first.simulated.objects.join(', ')})`,
      );
    }
  }
}

/** Called after every `every` models: how many were checked, and how many had a mismatch (shrinking re-runs failing ones). */
export interface FuzzProgress {
  readonly every: number;
  report(models: number, mismatched: number): void;
}

export function fuzz(count: number, seed: number, progress?: FuzzProgress): FuzzStats {
  const stats: FuzzStats = { models: 0, verified: {}, refused: {}, requests: 0, unsupported: 0 };
  let mismatched = 0;
  fc.assert(
    fc.property(policyModelArbitrary, (model) => {
      try {
        checkModel(model, stats);
      } catch (error) {
        mismatched++;
        throw error;
      } finally {
        if (progress !== undefined && stats.models % progress.every === 0) progress.report(stats.models, mismatched);
      }
    }),
    { numRuns: count, seed, endOnFailure: false },
  );
  return stats;
}

if (require.main === module) {
  const count = Number(process.argv[2] ?? 10_000);
  const seed = Number(process.argv[3] ?? 42);
  const started = Date.now();
  const cpu = process.cpuUsage();
  const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;
  // A long run can be watched: one line on stderr every 500 models.
  const progress: FuzzProgress = {
    every: 500,
    report: (models, mismatched) => process.stderr.write(`fuzz: ${models}/${count} models, ${seconds(started)} s, ${mismatched} mismatches\n`),
  };
  try {
    const stats = fuzz(count, seed, progress);
    const wall = seconds(started);
    const { user, system } = process.cpuUsage(cpu);
    const timing = { wallSeconds: wall, cpuSeconds: Math.round((user + system) / 1e5) / 10 };
    process.stdout.write(`fuzz: ${count} models, seed ${seed}, ${wall} s: no mismatch\n${JSON.stringify({ ...stats, ...timing }, null, 2)}\n`);
  } catch (error) {
    const report = error instanceof Error ? error.message : String(error);
    const file = path.join(PACKAGE_ROOT, 'test', 'regressions', `fuzz-seed-${seed}.txt`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, report);
    process.stderr.write(`${report}\n\nThe report (with the shrunk model) is in ${file}: add the model to test/regressions/ as JSON.\n`);
    process.exitCode = 1;
  }
}
