/**
 * The generated benchmark policy (bench/generate.ts, deterministic) built for every target, as `policyc verify`
 * gets it (rendered files), and one planted mistake in the emitted file of one destination: for the verify
 * tests at scale (test/verify-scale.test.ts, test/verify-parallel.test.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { strict as assert } from 'node:assert';
import { stringify } from 'yaml';
import { generate, type BenchModel } from '../bench/generate';
import { renderTarget } from '../compiler/render';
import { hasErrors } from '../diagnostics/diagnostic';
import type { PolicyModel, ServiceModel } from '../model/model';
import { targets } from '../meshes';
import { manifestsFromFiles } from '../verify/compare';
import type { Outputs } from '../verify/parallel';
import { plantMistake, seededRandom, type MutationClass } from './fuzz/planted-mistakes';

/** The generator's model for `services` services, with rule ids (the generator's model has none). */
export function benchModel(services: number): PolicyModel {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-scale-'));
  try {
    const repo = generate(services, dir);
    const bench = JSON.parse(fs.readFileSync(repo.modelFile, 'utf8')) as BenchModel;
    return { ...bench, version: 1, rules: bench.rules.map((r, index) => ({ ...r, id: `bench-rule-${index}` })) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every target's rendered files, in the registry's order, as a build writes them. */
export function renderedOutputs(model: PolicyModel, names: readonly string[] = [...targets.keys()]): Map<string, Map<string, string>> {
  const outputs = new Map<string, Map<string, string>>();
  for (const name of names) {
    const target = targets.get(name);
    if (target === undefined) throw new Error(`no target ${name}`);
    const output = target.compile(model, { spanOf: () => undefined });
    assert.ok(!hasErrors(output.diagnostics), `${name} refused the model`);
    outputs.set(name, new Map(renderTarget(output, model.entry)));
  }
  return outputs;
}

/** The file of a destination's own objects (`<ns>/<service>.yaml`, README "Layout: one file per destination service"). */
export const fileOf = (service: ServiceModel): string => `${service.namespace}/${service.name}.yaml`;

export interface Planted {
  readonly outputs: Outputs;
  readonly destination: ServiceModel;
  readonly describe: string;
}

/**
 * `outputs` with one mistake of `kind` planted in the file of the first destination, from `services[from]` on,
 * whose file has a place for it; only that file changes (its objects are written back as YAML).
 */
export function plantInOneDestination(model: PolicyModel, outputs: Outputs, target: string, kind: MutationClass, from: number, seed = 1): Planted {
  const files = outputs.get(target);
  assert.ok(files !== undefined, `no output for ${target}`);
  for (const destination of model.services.slice(from)) {
    const file = fileOf(destination);
    const text = files.get(file);
    if (text === undefined) continue;
    const planted = plantMistake(manifestsFromFiles(new Map([[file, text]])), kind, seededRandom(seed));
    if (planted === undefined) continue;
    const changed = new Map(files).set(file, planted.objects.map((o) => stringify(o)).join('---\n'));
    return { outputs: new Map(outputs).set(target, changed), destination, describe: `${target} ${file}: ${planted.describe}` };
  }
  throw new Error(`no ${kind} site in any ${target} file from ${model.services[from]?.id ?? from} on`);
}
