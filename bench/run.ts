/**
 * The benchmark (issue 5): for each size N, generate a policy repository (bench/generate.ts) and time, side
 * by side and interleaved run by run,
 *   - `policyc build --target all` (Istio and Linkerd), `policyc check` (default target),
 *   - `tsc --noEmit` with TypeScript 6 and with TypeScript 7 on the same sources (bench/out/gen-N/tsconfig.json),
 *   - the cdk8s program (bench/cdk8s.ts) on the same policy model;
 * median wall time, ratio to TS7 `tsc --noEmit`, peak memory and time per service. Then the editor latency
 * through `PolicyTypeChecker` (compiler/typecheck.ts): after a one-line edit of one namespace file, the
 * time to re-check and the time to get completions inside `ports: ['`.
 *
 * Memory: "tree RSS" is the peak of the summed RSS of the command and all its descendants (tsgo runs as a
 * child process of policyc and of TS7's tsc), sampled from /proc every SAMPLE_MS; "max RSS" is GNU time's
 * %M, the peak RSS of the single largest process of the tree.
 *
 * Usage: npm run build && node dist/bench/run.js [--sizes 100,1000,5000] [--runs 5] [--editor-sizes 1000,5000] [--edits 5]
 * Prints a Markdown table and writes bench/out/results.json (written again after every size).
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

const OUT = path.join(REPO_ROOT, 'bench/out');
const NODE = process.execPath;
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const SAMPLE_MS = 20;
const PAGE = 4096;

interface Options {
  readonly sizes: readonly number[];
  readonly runs: number;
  readonly editorSizes: readonly number[];
  readonly edits: number;
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
    editorSizes: editor !== undefined ? list(editor) : sizes.filter((n) => n >= 1000),
    edits: Math.max(1, Number(value('--edits') ?? '5')),
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
}

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

function measure(command: readonly string[], cwd: string): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const timeFile = path.join(os.tmpdir(), `policyc-bench-time-${process.pid}.txt`);
    fs.rmSync(timeFile, { force: true });
    const argv = GNU_TIME === undefined ? [...command] : [GNU_TIME, '-f', '%M', '-o', timeFile, ...command];
    const start = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    let peak = 0;
    const sample = (): void => {
      if (child.pid !== undefined) peak = Math.max(peak, treeRss(child.pid));
    };
    const timer = setInterval(sample, SAMPLE_MS);
    child.on('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.on('close', (exitCode) => {
      const ms = performance.now() - start;
      clearInterval(timer);
      let maxRss: number | undefined;
      if (GNU_TIME !== undefined) {
        const text = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop() : undefined;
        maxRss = text !== undefined && /^\d+$/.test(text) ? Number(text) * 1024 : undefined;
      }
      // The wrapper /usr/bin/time itself is a few MB; the tree sum counts it too (it is part of the tree).
      resolve({ ms, treeRss: Math.max(peak, maxRss ?? 0), maxRss, exitCode, stderrTail: stderr.slice(-1500) });
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
}

const POLICYC = path.join(REPO_ROOT, 'dist/cli/main.js');
const TSC7 = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
const TSC6 = path.join(REPO_ROOT, 'node_modules/typescript6/bin/tsc');
const CDK8S = path.join(REPO_ROOT, 'dist/bench/cdk8s.js');

const TOOLS: readonly Tool[] = [
  {
    name: 'build',
    label: 'policyc build --target all',
    ok: [0],
    command: (r) => [NODE, POLICYC, 'build', r.entry, '--target', 'all', '--out', path.join(r.dir, 'manifests')],
  },
  { name: 'check', label: 'policyc check', ok: [0], command: (r) => [NODE, POLICYC, 'check', r.entry] },
  { name: 'tsc6', label: 'tsc --noEmit (TS 6)', ok: [0], command: (r) => [NODE, TSC6, '-p', r.tsconfig, '--noEmit'] },
  { name: 'tsc7', label: 'tsc --noEmit (TS 7)', ok: [0], command: (r) => [NODE, TSC7, '-p', r.tsconfig, '--noEmit'] },
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
  msPerService: number;
  failures: string[];
}

interface SizeResult {
  readonly services: number;
  readonly rules: number;
  readonly namespaceFiles: number;
  readonly tools: Record<string, ToolResult>;
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
      msPerService: NaN,
      failures: [],
    };
  }
  // Interleaved: run r of every tool before run r+1 of any, so drifting machine load hits them alike.
  for (let run = 1; run <= options.runs; run++) {
    for (const tool of TOOLS) {
      const m = await measure(tool.command(repo), repo.dir);
      const result = tools[tool.name] as ToolResult;
      const ok = m.exitCode !== null && tool.ok.includes(m.exitCode);
      if (!ok) result.failures.push(`run ${run}: exit ${m.exitCode}: ${m.stderrTail}`);
      result.runsMs.push(m.ms);
      result.peakTreeRssMiB = Math.max(result.peakTreeRssMiB, m.treeRss / MiB);
      if (m.maxRss !== undefined) result.peakMaxRssMiB = Math.max(result.peakMaxRssMiB ?? 0, m.maxRss / MiB);
      log(
        `  run ${run}/${options.runs} ${tool.name.padEnd(6)} ${(m.ms / 1000).toFixed(2).padStart(8)} s  tree ${(m.treeRss / MiB).toFixed(0).padStart(5)} MiB${ok ? '' : `  FAILED (exit ${m.exitCode})`}\n`,
      );
    }
  }
  const tsc7 = median((tools['tsc7'] as ToolResult).runsMs);
  for (const result of Object.values(tools)) {
    result.medianMs = round(median(result.runsMs), 0);
    result.ratioToTsc7 = round(median(result.runsMs) / tsc7, 2);
    result.peakTreeRssMiB = round(result.peakTreeRssMiB, 0);
    if (result.peakMaxRssMiB !== undefined) result.peakMaxRssMiB = round(result.peakMaxRssMiB, 0);
    result.msPerService = round(median(result.runsMs) / n, 3);
    result.runsMs.splice(0, result.runsMs.length, ...result.runsMs.map((ms) => round(ms, 0)));
  }
  const sizeResult: SizeResult = { services: n, rules: repo.rules, namespaceFiles: repo.namespaces, tools };
  sizeResult.cdk8sMatchesPolicycIstio = compareOutputs(path.join(repo.dir, 'manifests/istio'), path.join(repo.dir, 'cdk8s.out'));
  log(`  cdk8s objects vs policyc's Istio objects: ${sizeResult.cdk8sMatchesPolicycIstio}\n`);
  return { repo, result: sizeResult };
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
          const o = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
          if (o === null || o.kind === undefined) continue;
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

function table(sizes: readonly SizeResult[]): string {
  const rows = [
    '| N | rules | command | median s | runs s | × TS7 tsc | ms / service | peak tree RSS MiB | max process RSS MiB |',
    '| ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const size of sizes) {
    for (const tool of Object.values(size.tools)) {
      rows.push(
        `| ${size.services} | ${size.rules} | ${tool.label}${tool.failures.length > 0 ? ' (FAILED)' : ''} | ${(tool.medianMs / 1000).toFixed(2)} | ${tool.runsMs.map((ms) => (ms / 1000).toFixed(1)).join(' ')} | ${tool.ratioToTsc7?.toFixed(2)} | ${tool.msPerService.toFixed(2)} | ${tool.peakTreeRssMiB} | ${tool.peakMaxRssMiB ?? 'n/a'} |`,
      );
    }
  }
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
    sizes: [] as SizeResult[],
    editor: [] as EditorResult[],
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
  }
  results.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
  save();
  process.stdout.write(`\n${table(results.sizes)}\n\n${results.editor.length > 0 ? `${editorTable(results.editor)}\n\n` : ''}`);
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
