/**
 * One target's share of a watch edit (issue 16), in one process: the generated repository's model (built by
 * `compile`, rules located), a first build, then edits of bench/watch.ts's kind (one more path in one allow rule of
 * the namespace in the middle), each through `compileIncrementally`, `validateEmitted` and `renderTarget` with the
 * session's `EmitMemo`, as `build --watch` runs them. Prints the CPU ms of each step per build (from
 * `process.cpuUsage`, so a loaded machine's wall time does not enter), and whether the last edit's files are those of
 * a full compile.
 *
 * Usage: npm run build && node dist/bench/target-edit.js [--services 1000] [--edits 6] [--target linkerd]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compile, compileIncrementally } from '../compiler/compile';
import { validateEmitted } from '../compiler/check-emitted';
import { EmitMemo } from '../compiler/emit-memo';
import { renderTarget, toYaml } from '../compiler/render';
import { fingerprint } from '../compiler/splice';
import { meshes } from '../meshes';
import type { PolicyModel } from '../model/model';
import type { KubernetesObject } from '../model/target';
import { generate } from './generate';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : (process.argv[at + 1] ?? fallback);
}

function cpuMs<T>(run: () => T): [T, number] {
  const start = process.cpuUsage();
  const result = run();
  const used = process.cpuUsage(start);
  return [result, Math.round((used.user + used.system) / 1000)];
}

if (require.main === module) {
  const services = Number(option('--services', '1000'));
  const edits = Number(option('--edits', '6'));
  const target = meshes.get(option('--target', 'linkerd'))?.target;
  if (target === undefined) throw new Error(`unknown --target; one of ${[...meshes.keys()].join(', ')}`);
  const repo = generate(services, fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-target-edit-')));
  const built = compile({ entry: repo.entry, targets: [] });
  fs.rmSync(repo.dir, { recursive: true, force: true });
  if (built.model === undefined) throw new Error('the generated policy did not build');
  let model: PolicyModel = built.model;
  const spanOf = (): undefined => undefined;
  const memo = new EmitMemo();
  const build = (label: string): ReadonlyMap<string, string> => {
    const [output, compileMs] = cpuMs(() => compileIncrementally(target, model, fingerprint(model), memo, spanOf));
    const [, validateMs] = cpuMs(() => validateEmitted(target, [...output.objects, ...(output.patches ?? [])], memo));
    const yamlOf = (object: KubernetesObject): string => {
      const entry = memo.entry(target.name, object);
      entry.yaml ??= toYaml(object);
      return entry.yaml;
    };
    const [files, renderMs] = cpuMs(() => renderTarget(output, model.entry, yamlOf));
    memo.endBuild();
    process.stdout.write(`${label}: target ${compileMs} ms, validate emitted ${validateMs} ms, render ${renderMs} ms (CPU)\n`);
    return files;
  };
  build('first build');
  const middle = model.namespaces[Math.floor((model.namespaces.length - 1) / 2)]?.name ?? '';
  const edited = model.rules.findIndex((r) => r.destination.startsWith(`${middle}/`) && r.action === 'allow' && r.paths !== undefined);
  if (edited === -1) throw new Error(`no allow rule with paths to ${middle}`);
  let files: ReadonlyMap<string, string> = new Map();
  for (let e = 1; e <= edits; e++) {
    model = {
      ...model,
      rules: model.rules.map((r, i) => (i === edited ? { ...r, paths: [...(r.paths ?? []), { kind: 'exact', value: `/edited-${e}` }] } : r)),
    };
    files = build(`edit ${e}`);
  }
  const full = renderTarget(target.compile(model, { spanOf }), model.entry);
  process.stdout.write(`last edit's files identical to a full compile: ${JSON.stringify([...full]) === JSON.stringify([...files])}\n`);
}
