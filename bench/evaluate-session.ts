/**
 * Paired watch-evaluation timing: a generated repo, then one-line edits of the last, a middle and the first
 * namespace file, each evaluated by a kept EvaluatorSession and then cold, in the same process. With
 * `--mode session` or `--mode cold` only that one runs (for CPU seconds of the process and its children under
 * /usr/bin/time); `--files last|middle|first` picks the edited files.
 * Usage: node dist/bench/evaluate-session.js --services 1000 --out /tmp/x/gen-1000 [--mode both] [--files last,middle,first]
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
// The session's evaluator is a child process that is killed, not waited for: read its CPU time before.
const sessionChildCpu = (): number => {
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      if (!cmdline.includes('--session') || Number(fields[1]) !== process.pid) continue;
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // A process that ended meanwhile.
    }
  }
  return Number.NaN;
};
// The cold evaluator is waited for: its CPU time shows in this process's children's times.
const waitedChildrenCpu = (): number => {
  const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) / 100;
};
const mode = argument('--mode', 'both');
const picks = argument('--files', 'last,middle,first').split(',');
const session = new EvaluatorSession();
const options = { timeoutMs: 120_000 };
let lastCpu = 0;
const timed = (run: () => unknown): number => {
  const start = performance.now();
  const cpu = process.cpuUsage();
  run();
  const used = process.cpuUsage(cpu);
  lastCpu = (used.user + used.system) / 1e6;
  return performance.now() - start;
};
if (mode !== 'cold') timed(() => session.evaluate(entry, new SourceStore(repo.dir), options));
const freshCpu = mode === 'cold' ? 0 : sessionChildCpu();
let moves = 0;
const named: Record<string, string | undefined> = { last: files[files.length - 1], middle: files[Math.floor(files.length / 2)], first: files[0] };
for (const file of picks.map((p) => named[p])) {
  if (file === undefined) continue;
  const full = path.join(repo.dir, file);
  const lines = fs.readFileSync(full, 'utf8').split('\n');
  lines.splice(1, 0, `export const moved${++moves} = 1;`);
  fs.writeFileSync(full, lines.join('\n'));
  const before = mode === 'cold' ? 0 : sessionChildCpu();
  const warm = mode === 'cold' ? 0 : timed(() => session.evaluate(entry, new SourceStore(repo.dir), options));
  const childCpu = mode === 'cold' ? 0 : sessionChildCpu() - before;
  const warmCpu = lastCpu;
  const { lastRun, lastRan, lastDecoded } = session;
  const waited = waitedChildrenCpu();
  const cold = mode === 'session' ? 0 : timed(() => evaluate(entry, new SourceStore(repo.dir), options));
  const coldChildCpu = waitedChildrenCpu() - waited;
  const coldCpu = mode === 'session' ? 0 : lastCpu;
  process.stdout.write(
    `${file}: ${lastRun}, ran ${lastRan} modules, sent ${lastDecoded} objects: ${warm.toFixed(0)} ms (CPU: compiler ${warmCpu.toFixed(2)} s, evaluator ${childCpu.toFixed(2)} s); cold ${cold.toFixed(0)} ms (CPU: compiler ${coldCpu.toFixed(2)} s, evaluator ${coldChildCpu.toFixed(2)} s)\n`,
  );
}
if (mode !== 'cold') process.stdout.write(`session evaluator CPU of the first run: ${freshCpu.toFixed(2)} s\n`);
session.close();
