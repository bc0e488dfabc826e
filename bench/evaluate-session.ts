/**
 * Paired watch-evaluation timing: a generated repo, then one-line edits of the last, a middle and the first
 * namespace file, each evaluated by a kept EvaluatorSession and then cold, in the same process.
 * Usage: node dist/bench/evaluate-session.js --services 1000 --out /tmp/x/gen-1000
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { generate } from './generate';
import { evaluate, EvaluatorSession } from '../compiler/evaluate';
import { SourceStore } from '../compiler/sources';

const argument = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
};
const repo = generate(Number(argument('--services', '1000')), path.resolve(argument('--out', 'bench/out/session')));
const entry = path.join(repo.dir, 'policy.ts');
const files = fs
  .readdirSync(repo.dir)
  .filter((f) => /^ns-\d+\.ts$/.test(f))
  .sort();
const session = new EvaluatorSession();
const options = { timeoutMs: 120_000 };
const timed = (run: () => unknown): number => {
  const start = performance.now();
  run();
  return performance.now() - start;
};
timed(() => session.evaluate(entry, new SourceStore(repo.dir), options));
let moves = 0;
for (const file of [files[files.length - 1], files[Math.floor(files.length / 2)], files[0]]) {
  if (file === undefined) continue;
  const full = path.join(repo.dir, file);
  const lines = fs.readFileSync(full, 'utf8').split('\n');
  lines.splice(1, 0, `export const moved${++moves} = 1;`);
  fs.writeFileSync(full, lines.join('\n'));
  const warm = timed(() => session.evaluate(entry, new SourceStore(repo.dir), options));
  const { lastRun, lastRan, lastDecoded } = session;
  const cold = timed(() => evaluate(entry, new SourceStore(repo.dir), options));
  process.stdout.write(`${file}: ${lastRun}, ran ${lastRan} modules, sent ${lastDecoded} objects: ${warm.toFixed(0)} ms; cold ${cold.toFixed(0)} ms\n`);
}
session.close();
