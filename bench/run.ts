/**
 * The benchmark (issues 5 and 16): for each size N, generate a policy repository (bench/generate.ts) and time,
 * side by side and interleaved run by run,
 *   - `policyc build` with `--target istio`, `--target linkerd` and `--target all`, each into an emptied folder,
 *   - a rebuild with nothing to write: `build --target all` again into the folder the previous one wrote,
 *   - `policyc check` (default target) and `policyc verify --target all`, the latter bounded in time
 *     (`--verify-bound`) and memory (`--verify-memory-bound`): past a bound its process tree is killed and
 *     the result reads "> bound", and the remaining runs at that N are skipped,
 *   - `tsc --noEmit` with TypeScript 6 and with TypeScript 7 on the same sources (bench/out/gen-N/tsconfig.json),
 *   - the cdk8s program (bench/cdk8s.ts) on the same policy model;
 * median wall time, ratio to TS7 `tsc --noEmit`, peak memory and time per service; objects, files and bytes
 * per service of each target's output folder (of `build --target all`); and the phases of `build --target
 * all` (the compiler prints them on stderr under `POLICYC_PHASES=1`, see `timePhase` in compiler/compile.ts),
 * medians over the runs. Then the editor latency through `PolicyTypeChecker` (compiler/typecheck.ts): after a
 * one-line edit of one namespace file, the time to re-check and the time to get completions inside `ports: ['`.
 * Then the watch latency (bench/watch.ts): `policyc build --watch --target all`, one-line edit → changed output
 * file on disk, the median of `--watch-edits` edits (10 by default).
 *
 * Memory: "tree RSS" is the peak of the summed RSS of the command and all its descendants (tsgo runs as a
 * child process of policyc and of TS7's tsc), sampled from /proc every SAMPLE_MS; "max RSS" is GNU time's
 * %M, the peak RSS of the single largest process of the tree.
 *
 * Usage: npm run build && node dist/bench/run.js [--sizes 100,1000,5000] [--runs 5] [--verify-bound 180]
 *          [--large-runs 5] [--verify-memory-bound 4096] [--editor-sizes 1000,5000] [--edits 5] [--watch-edits 10]
 *          [--readme]
 * `--large-runs` is the number of runs at N >= 5,000 (default: `--runs`).
 * Prints Markdown tables (stdout) and writes bench/out/results.json (written again after every size);
 * `--readme` also replaces the block between the `bench:speed` markers of README.md with them.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseAllDocuments } from 'yaml';
import { SourceStore } from '../compiler/sources';
import { PolicyTypeChecker } from '../compiler/typecheck';
import { generate, REPO_ROOT, type GeneratedRepo } from './generate';
import { SOURCE_ANNOTATION } from '../model/target';
import { watchLatency, type WatchLatency } from './watch';

const OUT = path.join(REPO_ROOT, 'bench/out');
const NODE = process.execPath;
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const SAMPLE_MS = 20;
const PAGE = 4096;
/** From this N on, `--large-runs` applies instead of `--runs`. */
const LARGE_N = 5000;

interface Options {
  readonly sizes: readonly number[];
  readonly runs: number;
  /** Runs at N >= LARGE_N (a 5,000-service run of every command takes minutes; fewer runs keep the bench in a session). */
  readonly largeRuns: number;
  readonly editorSizes: readonly number[];
  readonly edits: number;
  readonly watchEdits: number;
  /** Seconds after which a `verify` run is killed and reported as "> bound". */
  readonly verifyBoundS: number;
  /** MiB of tree RSS past which a `verify` run is killed (a verifier that does not scale must not starve the machine). */
  readonly verifyMemoryBoundMiB: number;
  /** Replace the Speed block of README.md with this run's tables. */
  readonly readme: boolean;
}

function runsAt(n: number, options: Options): number {
  return n >= LARGE_N ? options.largeRuns : options.runs;
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} takes a positive number, got '${text}'`);
  return n;
}

function parseArgs(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    const inline = argv.find((a) => a.startsWith(`${name}=`));
    return inline !== undefined ? inline.slice(name.length + 1) : i === -1 ? undefined : argv[i + 1];
  };
  const list = (text: string): number[] =>
    text
      .split(',')
      .map((s) => Number(s.replace(/_/g, '').trim()))
      .filter((n) => Number.isInteger(n) && n > 1);
  const sizes = list(value('--sizes') ?? '100,1000,5000');
  const editor = value('--editor-sizes');
  return {
    sizes,
    runs: Math.max(1, Number(value('--runs') ?? '5')),
    largeRuns: Math.max(1, Number(value('--large-runs') ?? value('--runs') ?? '5')),
    editorSizes: editor !== undefined ? list(editor) : sizes.filter((n) => n >= 1000),
    edits: Math.max(1, Number(value('--edits') ?? '5')),
    watchEdits: Math.max(1, Number(value('--watch-edits') ?? '10')),
    verifyBoundS: positive(value('--verify-bound') ?? '180', '--verify-bound'),
    verifyMemoryBoundMiB: positive(value('--verify-memory-bound') ?? '4096', '--verify-memory-bound'),
    readme: argv.includes('--readme'),
  };
}

// ------------------------------------------------------------------------------------------------------------
// Measuring one process tree

interface Measurement {
  readonly ms: number;
  /** Peak of the summed RSS of the process tree, in bytes. */
  readonly treeRss: number;
  /** GNU time %M: the largest single process's peak RSS, in bytes (undefined without /usr/bin/time). */
  readonly maxRss: number | undefined;
  readonly exitCode: number | null;
  readonly stderrTail: string;
  /** Which bound killed the command, if one did. */
  readonly exceeded?: 'time' | 'memory';
  /** The `POLICYC_PHASES=1` lines the command printed on stderr, in order. */
  readonly phases: readonly Phase[];
}

interface Phase {
  readonly phase: string;
  readonly ms: number;
}

interface Bounds {
  readonly timeoutMs?: number;
  readonly memoryBytes?: number;
}

const PHASE_LINE = /^\{"phase":/;

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    try {
      for (const child of fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) if (child.trim() !== '') out.push(Number(child));
    } catch {
      // the task ended
    }
  }
  return out;
}

function treeRss(root: number): number {
  let total = 0;
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    try {
      const resident = Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
      if (Number.isFinite(resident)) total += resident * PAGE;
    } catch {
      continue;
    }
    stack.push(...childrenOf(pid));
  }
  return total;
}

function measure(command: readonly string[], cwd: string, env: NodeJS.ProcessEnv, bounds: Bounds = {}): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const timeFile = path.join(os.tmpdir(), `policyc-bench-time-${process.pid}.txt`);
    fs.rmSync(timeFile, { force: true });
    const argv = GNU_TIME === undefined ? [...command] : [GNU_TIME, '-f', '%M', '-o', timeFile, ...command];
    const start = performance.now();
    // Its own process group, so a bound kills the whole tree (tsgo included), not only the wrapper.
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let partialLine = '';
    const phases: Phase[] = [];
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (partialLine + chunk.toString('utf8')).split('\n');
      partialLine = lines.pop() ?? '';
      for (const line of lines) {
        if (PHASE_LINE.test(line)) phases.push(JSON.parse(line) as Phase);
        else stderr = `${stderr}${line}\n`.slice(-4000);
      }
    });
    let peak = 0;
    let exceeded: 'time' | 'memory' | undefined;
    const kill = (bound: 'time' | 'memory'): void => {
      if (exceeded !== undefined || child.pid === undefined) return;
      exceeded = bound;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const sample = (): void => {
      if (child.pid !== undefined) peak = Math.max(peak, treeRss(child.pid));
      if (bounds.memoryBytes !== undefined && peak > bounds.memoryBytes) kill('memory');
    };
    const timer = setInterval(sample, SAMPLE_MS);
    const deadline = bounds.timeoutMs === undefined ? undefined : setTimeout(() => kill('time'), bounds.timeoutMs);
    child.on('error', (error) => {
      clearInterval(timer);
      if (deadline !== undefined) clearTimeout(deadline);
      reject(error);
    });
    child.on('close', (exitCode) => {
      const ms = performance.now() - start;
      clearInterval(timer);
      if (deadline !== undefined) clearTimeout(deadline);
      if (PHASE_LINE.test(partialLine)) phases.push(JSON.parse(partialLine) as Phase);
      let maxRss: number | undefined;
      if (GNU_TIME !== undefined) {
        const text = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop() : undefined;
        maxRss = text !== undefined && /^\d+$/.test(text) ? Number(text) * 1024 : undefined;
      }
      // The wrapper /usr/bin/time itself is a few MB; the tree sum counts it too (it is part of the tree).
      resolve({
        ms,
        treeRss: Math.max(peak, maxRss ?? 0),
        maxRss,
        exitCode,
        stderrTail: stderr.slice(-1500) + (PHASE_LINE.test(partialLine) ? '' : partialLine),
        phases,
        ...(exceeded === undefined ? {} : { exceeded }),
      });
    });
  });
}

// ------------------------------------------------------------------------------------------------------------
// The commands

interface Tool {
  readonly name: string;
  readonly label: string;
  /** Exit codes that count as success. */
  readonly ok: readonly number[];
  readonly command: (repo: GeneratedRepo) => string[];
  /** Untimed, before each run: e.g. empty the output folder so the build writes everything. */
  readonly prepare?: (repo: GeneratedRepo) => void;
  /** Print phase times (compiler/compile.ts `timePhase`). */
  readonly phases?: boolean;
  /** Killed past the `--verify-bound` and `--verify-memory-bound`. */
  readonly bounded?: boolean;
}

const POLICYC = path.join(REPO_ROOT, 'dist/cli/main.js');
const TSC7 = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
const TSC6 = path.join(REPO_ROOT, 'node_modules/typescript6/bin/tsc');
const CDK8S = path.join(REPO_ROOT, 'dist/bench/cdk8s.js');

/** Where `build --target <target>` writes at size N; the rebuild writes into the `all` folder again. */
const outFolder = (repo: GeneratedRepo, target: string): string => path.join(repo.dir, `manifests-${target}`);
const emptied = (target: string) => (repo: GeneratedRepo) => fs.rmSync(outFolder(repo, target), { recursive: true, force: true });
const build = (target: string) => (repo: GeneratedRepo) => [NODE, POLICYC, 'build', repo.entry, '--target', target, '--out', outFolder(repo, target)];

/** In run order: the rebuild must follow `build-all`, whose folder it finds up to date. */
const TOOLS: readonly Tool[] = [
  { name: 'build-istio', label: 'policyc build --target istio', ok: [0], prepare: emptied('istio'), command: build('istio') },
  { name: 'build-linkerd', label: 'policyc build --target linkerd', ok: [0], prepare: emptied('linkerd'), command: build('linkerd') },
  { name: 'build-all', label: 'policyc build --target all', ok: [0], prepare: emptied('all'), command: build('all'), phases: true },
  { name: 'rebuild', label: 'rebuild, nothing to write (--target all)', ok: [0], command: build('all'), phases: true },
  { name: 'check', label: 'policyc check', ok: [0], command: (r) => [NODE, POLICYC, 'check', r.entry] },
  { name: 'verify', label: 'policyc verify --target all', ok: [0], command: (r) => [NODE, POLICYC, 'verify', r.entry, '--target', 'all'], bounded: true },
  { name: 'tsc7', label: 'tsc --noEmit (TS 7)', ok: [0], command: (r) => [NODE, TSC7, '-p', r.tsconfig, '--noEmit'] },
  { name: 'tsc6', label: 'tsc --noEmit (TS 6)', ok: [0], command: (r) => [NODE, TSC6, '-p', r.tsconfig, '--noEmit'] },
  { name: 'cdk8s', label: 'cdk8s synth (precompiled JS)', ok: [0], command: (r) => [NODE, CDK8S, r.modelFile, path.join(r.dir, 'cdk8s.out')] },
];

interface ToolResult {
  readonly label: string;
  readonly runsMs: number[];
  medianMs: number;
  ratioToTsc7: number | undefined;
  /** Peak over the runs, MiB. */
  peakTreeRssMiB: number;
  peakMaxRssMiB: number | undefined;
  /** Peak tree RSS over TS7 tsc's. */
  memoryRatioToTsc7: number | undefined;
  msPerService: number;
  failures: string[];
  /** Set when a run hit a bound: the median is then a lower bound ("> bound"). */
  exceeded?: { readonly bound: 'time' | 'memory'; readonly limit: string; readonly run: number };
  /** Per phase, its time in each run (tools with `phases`), then the median. */
  readonly phaseRunsMs: Record<string, number[]>;
  phaseMedianMs: Record<string, number>;
}

/** What one target's output folder holds, of `build --target all` at N services. */
interface OutputVolume {
  readonly target: string;
  /** Kubernetes objects (YAML documents with a top-level kind, kustomize files not counted). */
  readonly objects: number;
  readonly files: number;
  readonly bytes: number;
  readonly objectsPerService: number;
  readonly bytesPerService: number;
}

interface SizeResult {
  readonly services: number;
  readonly rules: number;
  readonly namespaceFiles: number;
  readonly tools: Record<string, ToolResult>;
  volume: OutputVolume[];
  cdk8sMatchesPolicycIstio?: string;
}

interface EditorResult {
  readonly services: number;
  readonly file: string;
  openAndFirstCheckMs: number;
  /** Per edit: the whole-program incremental check `policyc` watch mode does (PolicyTypeChecker.check with changedFiles). */
  readonly recheckProgramMs: number[];
  /** Per edit: semantic diagnostics of the edited file only, right after the change is announced (what an editor asks for). */
  readonly recheckFileMs: number[];
  /** Per edit: completions inside `ports: ['` right after the change is announced (before any diagnostics). */
  readonly completionsColdMs: number[];
  /** Per edit: completions again after the re-check (warm). */
  readonly completionsWarmMs: number[];
  readonly completions: readonly string[];
  median: { recheckProgramMs: number; recheckFileMs: number | undefined; completionsColdMs: number | undefined; completionsWarmMs: number };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const MiB = 1024 * 1024;
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function benchSize(n: number, options: Options, log: (text: string) => void): Promise<{ repo: GeneratedRepo; result: SizeResult }> {
  const repo = generate(n, path.join(OUT, `gen-${n}`));
  log(`\n## N = ${n}: ${repo.rules} rules in ${repo.namespaces} namespace files (${repo.dir})\n`);
  const tools: Record<string, ToolResult> = {};
  for (const tool of TOOLS) {
    tools[tool.name] = {
      label: tool.label,
      runsMs: [],
      medianMs: NaN,
      ratioToTsc7: undefined,
      peakTreeRssMiB: 0,
      peakMaxRssMiB: undefined,
      memoryRatioToTsc7: undefined,
      msPerService: NaN,
      failures: [],
      phaseRunsMs: {},
      phaseMedianMs: {},
    };
  }
  const verifyBounds: Bounds = { timeoutMs: options.verifyBoundS * 1000, memoryBytes: options.verifyMemoryBoundMiB * MiB };
  const sizeResult: SizeResult = { services: n, rules: repo.rules, namespaceFiles: repo.namespaces, tools, volume: [] };
  // Interleaved: run r of every tool before run r+1 of any, so drifting machine load hits them alike.
  const runs = runsAt(n, options);
  for (let run = 1; run <= runs; run++) {
    for (const tool of TOOLS) {
      const result = tools[tool.name] as ToolResult;
      if (result.exceeded !== undefined) continue; // past a bound once: the other runs would be too
      tool.prepare?.(repo);
      const env = tool.phases === true ? { ...process.env, POLICYC_PHASES: '1' } : process.env;
      const m = await measure(tool.command(repo), repo.dir, env, tool.bounded === true ? verifyBounds : {});
      const ok = m.exceeded === undefined && m.exitCode !== null && tool.ok.includes(m.exitCode);
      if (m.exceeded !== undefined) {
        result.exceeded = { bound: m.exceeded, limit: m.exceeded === 'time' ? `${options.verifyBoundS} s` : `${options.verifyMemoryBoundMiB} MiB`, run };
      } else if (!ok) {
        result.failures.push(`run ${run}: exit ${m.exitCode}: ${m.stderrTail}`);
      }
      result.runsMs.push(m.ms);
      result.peakTreeRssMiB = Math.max(result.peakTreeRssMiB, m.treeRss / MiB);
      if (m.maxRss !== undefined) result.peakMaxRssMiB = Math.max(result.peakMaxRssMiB ?? 0, m.maxRss / MiB);
      for (const { phase, ms } of m.phases) (result.phaseRunsMs[phase] ??= []).push(ms);
      const status = m.exceeded !== undefined ? `  > ${result.exceeded?.limit} (killed)` : ok ? '' : `  FAILED (exit ${m.exitCode})`;
      log(
        `  run ${run}/${runs} ${tool.name.padEnd(13)} ${(m.ms / 1000).toFixed(2).padStart(8)} s  tree ${(m.treeRss / MiB).toFixed(0).padStart(5)} MiB${status}\n`,
      );
      if (tool.name === 'build-all' && run === 1 && ok) sizeResult.volume = outputVolume(outFolder(repo, 'all'), n);
    }
  }
  const tsc7 = tools['tsc7'] as ToolResult;
  const tsc7Ms = median(tsc7.runsMs);
  for (const result of Object.values(tools)) {
    result.medianMs = round(median(result.runsMs), 0);
    result.ratioToTsc7 = round(median(result.runsMs) / tsc7Ms, 2);
    result.memoryRatioToTsc7 = round(result.peakTreeRssMiB / tsc7.peakTreeRssMiB, 2);
    result.msPerService = round(median(result.runsMs) / n, 3);
    for (const [phase, runs] of Object.entries(result.phaseRunsMs)) result.phaseMedianMs[phase] = round(median(runs), 0);
  }
  for (const result of Object.values(tools)) {
    result.peakTreeRssMiB = round(result.peakTreeRssMiB, 0);
    if (result.peakMaxRssMiB !== undefined) result.peakMaxRssMiB = round(result.peakMaxRssMiB, 0);
    result.runsMs.splice(0, result.runsMs.length, ...result.runsMs.map((ms) => round(ms, 0)));
  }
  for (const v of sizeResult.volume) {
    log(`  ${v.target}: ${v.objects} objects in ${v.files} files, ${v.bytes} bytes (${v.objectsPerService} objects, ${v.bytesPerService} bytes per service)\n`);
  }
  sizeResult.cdk8sMatchesPolicycIstio = compareOutputs(path.join(outFolder(repo, 'all'), 'istio'), path.join(repo.dir, 'cdk8s.out'));
  log(`  cdk8s objects vs policyc's Istio objects: ${sizeResult.cdk8sMatchesPolicycIstio}\n`);
  return { repo, result: sizeResult };
}

/** Objects, files and bytes per target folder under `outDir`. */
function outputVolume(outDir: string, services: number): OutputVolume[] {
  const volume: OutputVolume[] = [];
  for (const target of fs.readdirSync(outDir, { withFileTypes: true })) {
    if (!target.isDirectory() || target.name.startsWith('.')) continue;
    let objects = 0;
    let files = 0;
    let bytes = 0;
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          walk(full);
          continue;
        }
        const text = fs.readFileSync(full, 'utf8');
        files += 1;
        bytes += Buffer.byteLength(text);
        // Keys are rendered in Kubernetes order, so each object's kind is one unindented `kind:` line.
        if (entry.name !== 'kustomization.yaml') objects += text.match(/^kind: /gm)?.length ?? 0;
      }
    };
    walk(path.join(outDir, target.name));
    volume.push({ target: target.name, objects, files, bytes, objectsPerService: round(objects / services, 2), bytesPerService: round(bytes / services, 0) });
  }
  return volume.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

// ------------------------------------------------------------------------------------------------------------
// Fairness check: the cdk8s program emits the same objects as policyc's Istio target.

function objectsIn(dir: string): Map<string, string> {
  const objects = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.yaml') && entry.name !== 'kustomization.yaml') {
        for (const doc of parseAllDocuments(fs.readFileSync(full, 'utf8'))) {
          const o = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> } } | null;
          if (o === null || o.kind === undefined) continue;
          // The cdk8s program does not write policyc's source annotation (bench/cdk8s.ts): compare the rest.
          if (o.metadata?.annotations !== undefined) {
            delete o.metadata.annotations[SOURCE_ANNOTATION];
            if (Object.keys(o.metadata.annotations).length === 0) delete o.metadata.annotations;
          }
          objects.set(`${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`, canonical(o));
        }
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return objects;
}

function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([k, x]) => [k, sort(x)]),
          )
        : v;
  return JSON.stringify(sort(value));
}

function compareOutputs(policycDir: string, cdk8sDir: string): string {
  const a = objectsIn(policycDir);
  const b = objectsIn(cdk8sDir);
  if (a.size === 0) return 'not compared (no policyc output)';
  const missing = [...a.keys()].filter((k) => !b.has(k));
  const extra = [...b.keys()].filter((k) => !a.has(k));
  const different = [...a.keys()].filter((k) => b.has(k) && a.get(k) !== b.get(k));
  return missing.length + extra.length + different.length === 0
    ? `identical (${a.size} objects)`
    : `DIFFERENT: ${missing.length} missing (${missing.slice(0, 3).join(', ')}), ${extra.length} extra (${extra.slice(0, 3).join(', ')}), ${different.length} differ (${different.slice(0, 3).join(', ')})`;
}

// ------------------------------------------------------------------------------------------------------------
// Editor latency through PolicyTypeChecker

function editorLatency(repo: GeneratedRepo, edits: number, log: (text: string) => void): EditorResult {
  // The namespace file in the middle: it imports earlier files and is imported by later ones and the entry.
  const file = path.join(repo.dir, `${path.basename(repo.files[Math.floor((repo.files.length - 1) / 2)] as string)}`);
  const original = fs.readFileSync(file, 'utf8');
  const lines = original.split('\n');
  const lineIndex = lines.findIndex((l) => l.includes("ports: ['http'], methods: ["));
  if (lineIndex === -1) throw new Error(`no rule with HTTP ports in ${file}`);
  const checker = new PolicyTypeChecker();
  const store = new SourceStore(repo.dir);
  const result: EditorResult = {
    services: repo.services,
    file: path.relative(REPO_ROOT, file),
    openAndFirstCheckMs: 0,
    recheckProgramMs: [],
    recheckFileMs: [],
    completionsColdMs: [],
    completionsWarmMs: [],
    completions: [],
    median: { recheckProgramMs: NaN, recheckFileMs: undefined, completionsColdMs: undefined, completionsWarmMs: NaN },
  };
  try {
    let t = performance.now();
    const first = checker.check(repo.entry, store);
    result.openAndFirstCheckMs = round(performance.now() - t, 0);
    if (first.diagnostics.length > 0) throw new Error(`the generated project has type errors: ${first.diagnostics[0]?.message}`);
    let completions: readonly string[] = [];
    for (let edit = 1; edit <= edits; edit++) {
      // A one-line change: one more path in one rule; then the caret inside that rule's `ports: ['`.
      const edited = [...lines];
      edited[lineIndex] = (lines[lineIndex] as string).replace("paths: ['", `paths: ['/edited-${edit}/*', '`);
      const text = edited.join('\n');
      const offset = text.split('\n').slice(0, lineIndex).join('\n').length + 1 + (edited[lineIndex] as string).indexOf("ports: ['") + "ports: ['".length;
      fs.writeFileSync(file, text);
      store.forget(file);
      if (edit % 2 === 0) {
        // Editor-style: announce the change with the completion request, then the edited file's diagnostics.
        t = performance.now();
        completions = checker.completionsAt(repo.entry, file, offset, [file]);
        result.completionsColdMs.push(round(performance.now() - t, 1));
        t = performance.now();
        checker.fileDiagnostics(repo.entry, file);
        result.recheckFileMs.push(round(performance.now() - t, 1));
        log(
          `  edit ${edit}: completions after the change ${result.completionsColdMs.at(-1)} ms, diagnostics of the edited file ${result.recheckFileMs.at(-1)} ms\n`,
        );
      } else {
        // Watch-style: the whole program's diagnostics after the change, then completions.
        t = performance.now();
        const checked = checker.check(repo.entry, store, [file]);
        result.recheckProgramMs.push(round(performance.now() - t, 1));
        if (checked.diagnostics.length > 0) throw new Error(`the edit introduced type errors: ${checked.diagnostics[0]?.message}`);
        t = performance.now();
        completions = checker.completionsAt(repo.entry, file, offset);
        result.completionsWarmMs.push(round(performance.now() - t, 1));
        log(`  edit ${edit}: re-check (whole program) ${result.recheckProgramMs.at(-1)} ms, completions ${result.completionsWarmMs.at(-1)} ms\n`);
      }
      (result as { completions: readonly string[] }).completions = completions;
    }
  } finally {
    fs.writeFileSync(file, original);
    checker.close();
  }
  result.median = {
    recheckProgramMs: median(result.recheckProgramMs),
    recheckFileMs: result.recheckFileMs.length === 0 ? undefined : median(result.recheckFileMs),
    completionsColdMs: result.completionsColdMs.length === 0 ? undefined : median(result.completionsColdMs),
    completionsWarmMs: median(result.completionsWarmMs),
  };
  return result;
}

// ------------------------------------------------------------------------------------------------------------
// Report

function machine(): Record<string, unknown> {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    nproc: os.availableParallelism(),
    node: process.version,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    gnuTime: GNU_TIME !== undefined,
  };
}

const seconds = (ms: number): string => (ms / 1000).toFixed(2);

/** A median cell: a time past the bound reads "> bound", a run killed for memory says so. */
function timeCell(tool: ToolResult): string {
  if (tool.exceeded?.bound === 'time') return `> ${tool.exceeded.limit.replace(' s', '')}`;
  if (tool.exceeded?.bound === 'memory') return `killed at ${seconds(tool.medianMs)}`;
  return seconds(tool.medianMs);
}

function table(sizes: readonly SizeResult[]): string {
  const rows = [
    '| N | rules | command | median s | runs s | × TS7 tsc | ms / service | peak tree RSS MiB | × TS7 RSS | max process RSS MiB |',
    '| ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const size of sizes) {
    for (const tool of Object.values(size.tools)) {
      const past = tool.exceeded !== undefined ? '> ' : '';
      const memory = tool.exceeded?.bound === 'memory' ? `> ${tool.exceeded.limit.replace(' MiB', '')}` : String(tool.peakTreeRssMiB);
      rows.push(
        `| ${size.services} | ${size.rules} | ${tool.label}${tool.failures.length > 0 ? ' (FAILED)' : ''} | ${timeCell(tool)} | ${tool.runsMs.map((ms) => (ms / 1000).toFixed(1)).join(' ')} | ${past}${tool.ratioToTsc7?.toFixed(2)} | ${past}${tool.msPerService.toFixed(2)} | ${memory} | ${tool.memoryRatioToTsc7?.toFixed(2)} | ${tool.peakMaxRssMiB ?? 'n/a'} |`,
      );
    }
  }
  return rows.join('\n');
}

function volumeTable(sizes: readonly SizeResult[]): string {
  const rows = ['| N | target | objects | files | MiB | objects / service | bytes / service |', '| ---: | --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const size of sizes) {
    for (const v of size.volume) {
      rows.push(
        `| ${size.services} | ${v.target} | ${v.objects} | ${v.files} | ${(v.bytes / MiB).toFixed(1)} | ${v.objectsPerService} | ${v.bytesPerService} |`,
      );
    }
  }
  return rows.join('\n');
}

/** Phases of `build --target all` (medians over the runs), in the order the compiler ran them, per N. */
function phaseTable(sizes: readonly SizeResult[]): string {
  const build = (size: SizeResult): ToolResult => size.tools['build-all'] as ToolResult;
  const phases = [...new Set(sizes.flatMap((size) => Object.keys(build(size).phaseMedianMs)))];
  const cell = (ms: number | undefined, size: SizeResult): string => (ms === undefined ? '' : `${ms} (${Math.round((100 * ms) / build(size).medianMs)}%)`);
  const rows = [`| phase | ${sizes.map((s) => `N = ${s.services}: ms (% of wall)`).join(' | ')} |`, `| --- |${sizes.map(() => ' ---: |').join('')}`];
  for (const phase of phases) rows.push(`| ${phase} | ${sizes.map((s) => cell(build(s).phaseMedianMs[phase], s)).join(' | ')} |`);
  const inPhases = (size: SizeResult): number => Object.values(build(size).phaseMedianMs).reduce((a, b) => a + b, 0);
  rows.push(`| outside the phases: start-up, module loading, exit | ${sizes.map((s) => cell(round(build(s).medianMs - inPhases(s), 0), s)).join(' | ')} |`);
  rows.push(`| wall time | ${sizes.map((s) => cell(build(s).medianMs, s)).join(' | ')} |`);
  rows.push(
    `| write, in the rebuild with nothing to write | ${sizes.map((s) => String((s.tools['rebuild'] as ToolResult).phaseMedianMs['write'] ?? '')).join(' | ')} |`,
  );
  return rows.join('\n');
}

function editorTable(results: readonly EditorResult[]): string {
  const rows = [
    '| N | open + first check ms | re-check whole program ms (watch) | diagnostics of edited file ms | completions right after edit ms | completions after re-check ms | offered |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of results) {
    rows.push(
      `| ${r.services} | ${r.openAndFirstCheckMs} | ${round(r.median.recheckProgramMs, 0)} | ${r.median.recheckFileMs === undefined ? 'n/a' : round(r.median.recheckFileMs, 0)} | ${r.median.completionsColdMs === undefined ? 'n/a' : round(r.median.completionsColdMs, 0)} | ${round(r.median.completionsWarmMs, 0)} | ${r.completions.join(', ')} |`,
    );
  }
  return rows.join('\n');
}

function watchTable(results: readonly WatchLatency[]): string {
  const rows = ['| N | first build s | edit → changed file ms, median | every edit ms | file polled |', '| ---: | ---: | ---: | --- | --- |'];
  for (const r of results) rows.push(`| ${r.services} | ${seconds(r.firstBuildMs)} | ${Math.round(r.medianMs)} | ${r.editsMs.join(' ')} | ${r.polled} |`);
  return rows.join('\n');
}

/**
 * Issue 16's goals, read off this run: each ratio with its goal and whether it is met. A bound hit by verify
 * makes its ratio a lower bound ("> x").
 */
function goalsTable(sizes: readonly SizeResult[]): string {
  const rows = ['| N | goal | measured | met |', '| ---: | --- | ---: | :---: |'];
  const tool = (size: SizeResult, name: string): ToolResult => size.tools[name] as ToolResult;
  const at1000 = sizes.find((s) => s.services === 1000);
  const add = (n: number, goal: string, value: number, limit: number, lowerBound = false): void => {
    if (!Number.isFinite(value)) return;
    const met = !lowerBound && value <= limit;
    rows.push(`| ${n} | ${goal} | ${lowerBound ? '> ' : ''}${value.toFixed(2)} | ${met ? 'yes' : 'no'} |`);
  };
  for (const size of sizes.filter((s) => s.services >= 1000)) {
    const build = tool(size, 'build-all');
    const verify = tool(size, 'verify');
    add(size.services, '`build --target all` ÷ TS7 `tsc --noEmit`, time ≤ 1.3', build.medianMs / tool(size, 'tsc7').medianMs, 1.3);
    add(size.services, '`build --target all` ÷ cdk8s synth, time < 1', build.medianMs / tool(size, 'cdk8s').medianMs, 0.999);
    if (size.services === 1000)
      add(size.services, '`verify --target all` ÷ `build --target all`, time ≤ 3', verify.medianMs / build.medianMs, 3, verify.exceeded !== undefined);
    if (size.services >= 5000) {
      add(size.services, '`build --target all` ÷ TS7 `tsc --noEmit`, peak tree RSS ≤ 1.3', build.peakTreeRssMiB / tool(size, 'tsc7').peakTreeRssMiB, 1.3);
      add(size.services, '`verify --target all` peak tree RSS, GiB < 2', verify.peakTreeRssMiB / 1024, 1.999, verify.exceeded !== undefined);
      if (at1000 !== undefined)
        add(size.services, '`build --target all` ms per service ÷ that at N = 1,000 ≤ 1.2', build.msPerService / tool(at1000, 'build-all').msPerService, 1.2);
    }
  }
  return rows.join('\n');
}

function runsText(sizes: readonly SizeResult[], options: Options): string {
  const plural = (k: number): string => `${k} run${k === 1 ? '' : 's'}`;
  const large = sizes.filter((s) => s.services >= LARGE_N).map((s) => s.services);
  if (large.length === 0 || options.largeRuns === options.runs) return plural(options.runs);
  return `${plural(options.runs)} (${plural(options.largeRuns)} at N = ${large.join(', ')})`;
}

/** The README's Speed block: what this run measured, then its tables. */
function speedReport(
  sizes: readonly SizeResult[],
  watch: readonly WatchLatency[],
  machine: Record<string, unknown>,
  startedAt: string,
  loadAtEnd: readonly number[],
  options: Options,
): string {
  const load = (machine['loadAverageAtStart'] as number[]).join(' ');
  return [
    `Run of ${startedAt.slice(0, 10)} (\`npm run bench\`, ${runsText(sizes, options)} per command, interleaved): ` +
      `${String(machine['nproc'])} cores, \`${String(machine['cpu'])}\`, ${String(machine['memoryGiB'])} GiB, Node ${String(machine['node'])}; ` +
      `load average ${load} at the start and ${loadAtEnd.join(' ')} at the end. ` +
      `\`verify\` is bounded at ${options.verifyBoundS} s and ${options.verifyMemoryBoundMiB} MiB: "> bound" means it was killed there (and not run again at that N).`,
    '',
    table(sizes),
    '',
    "Issue 16's goals, read off the table above:",
    '',
    goalsTable(sizes),
    '',
    'Output of `build --target all` per target (objects: Kubernetes objects, kustomization files not counted; bytes: every file):',
    '',
    volumeTable(sizes),
    '',
    'Phases of `build --target all` (`POLICYC_PHASES=1`, medians over the runs). Type-checking runs in a worker thread from ' +
      '"type-check start" on, beside evaluation, validation and rendering; "type-check wait" is what the main thread still waited for it.',
    '',
    phaseTable(sizes),
    ...(watch.length === 0
      ? []
      : [
          '',
          '`policyc build --watch --target all` (bench/watch.ts): one-line edit of a namespace file → the changed output file on disk, polled every 2 ms.',
          '',
          watchTable(watch),
        ]),
  ].join('\n');
}

const README_START = '<!-- bench:speed:start';
const README_END = '<!-- bench:speed:end -->';

function writeReadmeBlock(report: string): void {
  const file = path.join(REPO_ROOT, 'README.md');
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start === -1 || end < start) throw new Error(`README.md has no ${README_START} … ${README_END} block`);
  const opening = text.slice(start, text.indexOf('\n', start) + 1);
  fs.writeFileSync(file, `${text.slice(0, start)}${opening}${report}\n${text.slice(end)}`);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  for (const file of [POLICYC, CDK8S, TSC6, TSC7]) {
    if (!fs.existsSync(file)) throw new Error(`${path.relative(REPO_ROOT, file)} is missing: run \`npm ci && npm run build\` first`);
  }
  fs.mkdirSync(OUT, { recursive: true });
  const log = (text: string): void => void process.stderr.write(text);
  const results = {
    machine: machine(),
    startedAt: new Date().toISOString(),
    runs: options.runs,
    largeRuns: options.largeRuns,
    sizes: [] as SizeResult[],
    editor: [] as EditorResult[],
    watch: [] as WatchLatency[],
    loadAverageAtEnd: [] as number[],
  };
  const save = (): void => fs.writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`machine: ${JSON.stringify(results.machine)}\n`);
  const repos = new Map<number, GeneratedRepo>();
  for (const n of options.sizes) {
    const { repo, result } = await benchSize(n, options, log);
    repos.set(n, repo);
    results.sizes.push(result);
    save();
  }
  for (const n of options.editorSizes) {
    log(`\n## editor latency, N = ${n}\n`);
    const repo = repos.get(n) ?? generate(n, path.join(OUT, `gen-${n}`));
    results.editor.push(editorLatency(repo, options.edits, log));
    save();
    log(`\n## watch latency, N = ${n}\n`);
    results.watch.push(await watchLatency(repo, options.watchEdits, 'all', log));
    save();
  }
  results.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
  save();
  const report = speedReport(results.sizes, results.watch, results.machine, results.startedAt, results.loadAverageAtEnd, options);
  process.stdout.write(`\n${report}\n\n${results.editor.length > 0 ? `${editorTable(results.editor)}\n\n` : ''}`);
  if (options.readme) {
    writeReadmeBlock(report);
    log('README.md: Speed block replaced\n');
  }
  process.stdout.write(
    `machine: ${JSON.stringify(results.machine)}; load average at end ${results.loadAverageAtEnd.join(' ')}\nresults: ${path.relative(process.cwd(), path.join(OUT, 'results.json'))}\n`,
  );
  const failed = results.sizes.some((s) => Object.values(s.tools).some((t) => t.failures.length > 0));
  if (failed) {
    for (const s of results.sizes)
      for (const t of Object.values(s.tools)) for (const f of t.failures) process.stderr.write(`N=${s.services} ${t.label}: ${f}\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});
