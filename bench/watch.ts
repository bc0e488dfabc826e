/**
 * Watch latency (issue 16): `policyc build --watch --target all` on a generated repository, as a user runs it (its
 * own process, fs.watch on the policy files); for each one-line edit, the time from writing the edited policy file
 * to the changed output file on disk, found by polling that file every POLL_MS. The edit is bench/run.ts's: one
 * more path in one rule of the namespace file in the middle (a different path each time, so every edit changes
 * the output). The first edit is not timed: it finds the output file that the edits change (the watch process
 * prints the files it wrote). Reports every latency and their median.
 *
 * With `--phases`, the watch process runs with POLICYC_PHASES=1 and the median of each phase over the timed edits
 * is reported too (`phasesMs`), so a latency can be read phase by phase.
 *
 * Usage: npm run build && node dist/bench/watch.js [--services 1000] [--edits 10] [--target all] [--phases]
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { generate, REPO_ROOT, type GeneratedRepo } from './generate';

const POLL_MS = 2;
/** A rebuild slower than this is a failure of the measurement, not a latency. */
const EDIT_TIMEOUT_MS = 120_000;

export interface WatchLatency {
  readonly services: number;
  readonly target: string;
  /** The policy file edited and the output file polled, relative to the repository. */
  readonly edited: string;
  readonly polled: string;
  /** From starting the watch process to its first build's report. */
  readonly firstBuildMs: number;
  readonly editsMs: readonly number[];
  readonly medianMs: number;
  /** With `phases`: per phase, its median ms over the timed edits' rebuilds. */
  readonly phasesMs?: Readonly<Record<string, number>>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Resolves with the first stdout line of `child` matching `pattern` (the watch process reports each rebuild). */
function nextLine(child: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => done(new Error(`no line matching ${String(pattern)} within ${EDIT_TIMEOUT_MS} ms`)), EDIT_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const line = buffered.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) done(undefined, line);
    };
    const onExit = (): void => done(new Error(`the watch process exited: ${buffered.slice(-2000)}`));
    const done = (error: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      if (error !== undefined) reject(error);
      else resolve(line as string);
    };
    child.stdout.on('data', onData);
    child.on('exit', onExit);
  });
}

/** Polls `file` until its content differs from `before`; resolves with the time that took from `start`. */
function changed(file: string, before: string, start: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      let now: string | undefined;
      try {
        now = fs.readFileSync(file, 'utf8');
      } catch {
        now = undefined; // replaced at this instant: read again
      }
      if (now !== undefined && now !== before) return resolve(performance.now() - start);
      if (performance.now() - start > EDIT_TIMEOUT_MS) return reject(new Error(`${file} did not change within ${EDIT_TIMEOUT_MS} ms`));
      setTimeout(poll, POLL_MS);
    };
    poll();
  });
}

export async function watchLatency(
  repo: GeneratedRepo,
  edits: number,
  target = 'all',
  log: (text: string) => void = () => undefined,
  phases = false,
): Promise<WatchLatency> {
  const file = path.join(repo.dir, path.basename(repo.files[Math.floor((repo.files.length - 1) / 2)] as string));
  const original = fs.readFileSync(file, 'utf8');
  const lines = original.split('\n');
  const lineIndex = lines.findIndex((l) => l.includes("ports: ['http'], methods: ["));
  if (lineIndex === -1) throw new Error(`no rule with HTTP ports in ${file}`);
  const edit = (k: number): void => {
    const edited = [...lines];
    edited[lineIndex] = (lines[lineIndex] as string).replace("paths: ['", `paths: ['/edited-${k}/*', '`);
    fs.writeFileSync(file, edited.join('\n'));
  };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-watch-bench-'));
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/cli/main.js'), 'build', repo.entry, '--target', target, '--out', out, '--watch'], {
    cwd: repo.dir,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: phases ? { ...process.env, POLICYC_PHASES: '1' } : process.env,
  });
  // The phase lines of the rebuild under way (POLICYC_PHASES=1), one JSON object a line.
  let phaseText = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (phases) phaseText += chunk.toString('utf8');
  });
  const phaseRuns = new Map<string, number[]>();
  const takePhases = (): void => {
    const sums = new Map<string, number>();
    for (const line of phaseText.split('\n')) {
      if (!line.startsWith('{"phase"')) continue;
      const { phase, ms } = JSON.parse(line) as { phase: string; ms: number };
      sums.set(phase, (sums.get(phase) ?? 0) + ms);
    }
    phaseText = '';
    for (const [phase, ms] of sums) phaseRuns.set(phase, [...(phaseRuns.get(phase) ?? []), ms]);
  };
  try {
    await nextLine(child, /^rebuilt in /);
    const firstBuildMs = performance.now() - started;
    log(`  first build ${(firstBuildMs / 1000).toFixed(2)} s\n`);
    // Discovery: the edit's output files, as the watch process lists them (target/relative path).
    let rebuilt = nextLine(child, /^rebuilt in /);
    edit(0);
    const listed = /\(([^)]*)\)$/.exec(await rebuilt)?.[1] ?? '';
    const polledRelative = listed
      .split(', ')
      .map((f) => f.replace(/, …$/, ''))
      .find((f) => f.endsWith('.yaml') && !f.endsWith('kustomization.yaml'));
    if (polledRelative === undefined) throw new Error(`the first edit changed no object file: ${listed}`);
    const polled = path.join(out, polledRelative);
    const editsMs: number[] = [];
    for (let k = 1; k <= edits; k++) {
      const before = fs.readFileSync(polled, 'utf8');
      phaseText = '';
      rebuilt = nextLine(child, /^rebuilt in |^errors:/);
      const start = performance.now();
      edit(k);
      const ms = await changed(polled, before, start);
      // Wait for the rebuild to end (the rest of its files) before the next edit.
      await rebuilt;
      if (phases) {
        // stderr and stdout are two pipes: let the last phase lines arrive.
        await new Promise((resolve) => setTimeout(resolve, 50));
        takePhases();
      }
      editsMs.push(Math.round(ms));
      log(`  edit ${k}: ${Math.round(ms)} ms to ${polledRelative}\n`);
    }
    return {
      services: repo.services,
      target,
      edited: path.relative(repo.dir, file),
      polled: polledRelative,
      firstBuildMs: Math.round(firstBuildMs),
      editsMs,
      medianMs: median(editsMs),
      ...(phases ? { phasesMs: Object.fromEntries([...phaseRuns].map(([phase, runs]) => [phase, Math.round(median(runs) * 10) / 10])) } : {}),
    };
  } finally {
    child.kill('SIGTERM');
    fs.writeFileSync(file, original);
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : (process.argv[at + 1] ?? fallback);
}

if (require.main === module) {
  const services = Number(option('--services', '1000'));
  const repo = generate(services, fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-watch-gen-')));
  watchLatency(repo, Number(option('--edits', '10')), option('--target', 'all'), (t) => void process.stderr.write(t), process.argv.includes('--phases'))
    .then((result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      fs.rmSync(repo.dir, { recursive: true, force: true });
    })
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    });
}
