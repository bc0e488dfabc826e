/**
 * What every command shares: the output streams, the exit codes, target selection, diagnostics printing
 * and the common flags. Commands live one per file and register themselves on the program in main.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { compile, DEFAULT_EVALUATION_TIMEOUT_MS, type CompileResult } from '../compiler/compile';
import { diagnostic, hasErrors, type Diagnostic } from '../diagnostics/diagnostic';
import { colourFor, diagnosticsAsJson, formatDiagnostics } from '../diagnostics/format';
import { formatGithub } from '../diagnostics/github';
import { formatSarif } from '../diagnostics/sarif';
import type { Target } from '../model/target';
import { targets } from '../meshes';
import type { Progress } from './progress';

export const DEFAULT_ENTRY = 'policy.ts';
export const DEFAULT_OUT = 'manifests';

/** The exit codes; the README's table says which situation gives which, and test/cli.test.ts checks every row. */
export const EXIT = { ok: 0, policyErrors: 1, usage: 2 } as const;

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  /** Whether each stream is a terminal: colour and progress are decided by the stream that carries them. Absent: not a terminal. */
  readonly isTTY?: { readonly stdout?: boolean; readonly stderr?: boolean };
  /** The environment colour is decided from (NO_COLOR, FORCE_COLOR, TERM). Absent: none of them set. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A clock in milliseconds, for progress timing (tests pass their own). */
  readonly now?: () => number;
}

/** Lets a command set the process exit code. */
export interface CommandContext {
  readonly io: Io;
  setExit(code: number): void;
  /** Says the command keeps running after its action returns (watch, the language server): the process must not exit then. */
  keepAlive?(): void;
}

/** How diagnostics are printed: text on stderr, or JSON, GitHub workflow commands or SARIF on stdout. */
export const DIAGNOSTIC_FORMATS = ['text', 'json', 'github', 'sarif'] as const;
export type DiagnosticFormat = (typeof DIAGNOSTIC_FORMATS)[number];

export interface CommonOptions {
  readonly target: string;
  readonly format: DiagnosticFormat;
  readonly evalTimeout: string;
  /** Print every warning in full instead of one summary line per code. */
  readonly verbose?: boolean;
}

export function resolveTargets(name: string): Target[] | Diagnostic {
  if (name === 'all') return [...targets.values()];
  // A comma-separated list chooses several targets (`istio,linkerd`), in the order given.
  const names = name.split(',').map((n) => n.trim());
  const unknown = names.find((n) => !targets.has(n));
  if (unknown !== undefined) return diagnostic('unknown-target', `Unknown target '${unknown}'. Use one of: ${[...targets.keys(), 'all'].join(', ')}.`);
  return names.flatMap((n) => targets.get(n) ?? []);
}

export interface ReportOptions {
  readonly verbose?: boolean;
}

export function report(
  diagnostics: readonly Diagnostic[],
  format: CommonOptions['format'],
  io: Io,
  read: (file: string) => string | undefined,
  options: ReportOptions = {},
): void {
  if (format === 'json') {
    io.stdout(`${JSON.stringify({ diagnostics: diagnosticsAsJson(diagnostics, io.cwd) }, null, 2)}\n`);
  } else if (format === 'github') {
    io.stdout(formatGithub(diagnostics, io.cwd, read));
  } else if (format === 'sarif') {
    io.stdout(formatSarif(diagnostics, io.cwd, read));
  } else if (diagnostics.length > 0) {
    io.stderr(
      formatDiagnostics(diagnostics, {
        cwd: io.cwd,
        color: colourFor(io.isTTY?.stderr === true, io.env ?? {}),
        readSource: read,
        summariseWarnings: options.verbose !== true,
      }),
    );
  }
}

/** File types people pass by mistake, and what to pass instead. */
const NOT_POLICY: readonly { readonly pattern: RegExp; readonly instead: string }[] = [
  { pattern: /\.d\.[cm]?ts$/, instead: 'a declaration file holds no policy: pass the `.ts` entry whose default export is `mesh({...})`' },
  {
    pattern: /\.[cm]?jsx?$/,
    instead: 'policyc compiles the TypeScript policy itself: pass the `.ts` entry file (for example policy.ts), not JavaScript',
  },
  {
    pattern: /\.(json|ya?ml)$/,
    instead:
      'that is data or manifests, not policy: pass the `.ts` entry whose default export is `mesh({...})` (`policyc build --check` compares the manifests with the policy)',
  },
];
const POLICY_EXTENSIONS = /\.(ts|mts|cts)$/;

/** Why `entry` cannot be compiled (exit 2), or undefined: it must exist, be a file, and be TypeScript. */
export function entryProblem(entry: string, io: Io): Diagnostic | undefined {
  const file = path.resolve(io.cwd, entry);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return diagnostic('entry-not-found', `Entry file '${entry}' does not exist. Pass the policy's entry file, e.g. \`policyc build policy/mesh.ts\`.`);
  }
  if (stat.isDirectory()) {
    const inside = ['policy.ts', 'mesh.ts', 'index.ts'].find((name) => fs.existsSync(path.join(file, name)));
    return diagnostic(
      'entry-not-a-file',
      `'${entry}' is a folder; pass the policy's entry file${inside === undefined ? ' inside it' : `, e.g. ${path.join(entry, inside)}`}.`,
    );
  }
  if (!stat.isFile()) return diagnostic('entry-not-a-file', `'${entry}' is not a regular file; pass the policy's entry file.`);
  const wrong = NOT_POLICY.find((t) => t.pattern.test(file));
  if (wrong !== undefined) return diagnostic('entry-wrong-type', `'${entry}': ${wrong.instead}.`);
  if (!POLICY_EXTENSIONS.test(file)) return diagnostic('entry-wrong-type', `'${entry}' is not a TypeScript file; pass the \`.ts\` policy entry file.`);
  return undefined;
}

/** `--eval-timeout` in milliseconds, or the diagnostic for a malformed value. */
export function parseEvalTimeout(text: string): number | Diagnostic {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (Number.isSafeInteger(value) && value > 0) return value;
  return diagnostic(
    'invalid-option',
    `--eval-timeout '${text}' is not a number of milliseconds above 0; pass e.g. --eval-timeout ${DEFAULT_EVALUATION_TIMEOUT_MS}.`,
  );
}

/** The targets, the evaluation bound and the entry checked for a compiling command; a usage diagnostic otherwise. */
export function checkUsage(entry: string, options: CommonOptions, io: Io): { targets: Target[]; timeoutMs: number } | Diagnostic {
  const chosen = resolveTargets(options.target);
  if (!Array.isArray(chosen)) return chosen;
  const timeoutMs = parseEvalTimeout(options.evalTimeout);
  if (typeof timeoutMs !== 'number') return timeoutMs;
  return entryProblem(entry, io) ?? { targets: chosen, timeoutMs };
}

export function runCompile(entry: string | undefined, options: CommonOptions, io: Io, progress?: Progress): { result?: CompileResult; exit: number } {
  const usage = checkUsage(entry ?? DEFAULT_ENTRY, options, io);
  if (!('targets' in usage)) {
    report([usage], options.format, io, () => undefined);
    return { exit: EXIT.usage };
  }
  const result = compile({
    entry: path.resolve(io.cwd, entry ?? DEFAULT_ENTRY),
    targets: usage.targets,
    evaluationTimeoutMs: usage.timeoutMs,
    ...(progress === undefined ? {} : { onPhase: (phase: string) => progress.phase(phase) }),
  });
  progress?.done();
  return { result, exit: hasErrors(result.diagnostics) ? EXIT.policyErrors : EXIT.ok };
}

/** The flags every compiling command takes. */
export function withCommonOptions(command: Command, defaultTarget = 'istio'): Command {
  return command
    .option('-t, --target <name>', `mesh to compile for: ${[...targets.keys(), 'all'].join(', ')}`, defaultTarget)
    .addOption(new Option('--format <format>', 'how to print diagnostics').choices([...DIAGNOSTIC_FORMATS]).default('text'))
    .option('--eval-timeout <ms>', 'bound on policy evaluation, in milliseconds', String(DEFAULT_EVALUATION_TIMEOUT_MS))
    .option('--verbose', 'print every warning in full (by default, one line per warning code)');
}
