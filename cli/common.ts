/**
 * What every command shares: the output streams, the exit codes, target selection, diagnostics printing
 * and the common flags. Commands live one per file and register themselves on the program in main.ts.
 */
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { compile, DEFAULT_EVALUATION_TIMEOUT_MS, type CompileResult } from '../compiler/compile';
import { diagnostic, hasErrors, type Diagnostic } from '../diagnostics/diagnostic';
import { diagnosticsAsJson, formatDiagnostics } from '../diagnostics/format';
import { formatGithub } from '../diagnostics/github';
import { formatSarif } from '../diagnostics/sarif';
import type { Target } from '../model/target';
import { targets } from '../meshes';

export const DEFAULT_ENTRY = 'policy.ts';
export const DEFAULT_OUT = 'manifests';

export const EXIT = { ok: 0, policyErrors: 1, usage: 2 } as const;

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  readonly color: boolean;
}

/** Lets a command set the process exit code. */
export interface CommandContext {
  readonly io: Io;
  setExit(code: number): void;
}

/** How diagnostics are printed: text on stderr, or JSON, GitHub workflow commands or SARIF on stdout. */
export const DIAGNOSTIC_FORMATS = ['text', 'json', 'github', 'sarif'] as const;
export type DiagnosticFormat = (typeof DIAGNOSTIC_FORMATS)[number];

export interface CommonOptions {
  readonly target: string;
  readonly format: DiagnosticFormat;
  readonly evalTimeout: string;
}

export function resolveTargets(name: string): Target[] | Diagnostic {
  if (name === 'all') return [...targets.values()];
  // A comma-separated list chooses several targets (`istio,linkerd`), in the order given.
  const names = name.split(',').map((n) => n.trim());
  const unknown = names.find((n) => !targets.has(n));
  if (unknown !== undefined) return diagnostic('unknown-target', `Unknown target '${unknown}'. Use one of: ${[...targets.keys(), 'all'].join(', ')}.`);
  return names.flatMap((n) => targets.get(n) ?? []);
}

export function report(diagnostics: readonly Diagnostic[], format: CommonOptions['format'], io: Io, read: (file: string) => string | undefined): void {
  if (format === 'json') {
    io.stdout(`${JSON.stringify({ diagnostics: diagnosticsAsJson(diagnostics, io.cwd) }, null, 2)}\n`);
  } else if (format === 'github') {
    io.stdout(formatGithub(diagnostics, io.cwd, read));
  } else if (format === 'sarif') {
    io.stdout(formatSarif(diagnostics, io.cwd, read));
  } else if (diagnostics.length > 0) {
    io.stderr(formatDiagnostics(diagnostics, { cwd: io.cwd, color: io.color, readSource: read }));
  }
}

export function runCompile(entry: string | undefined, options: CommonOptions, io: Io): { result?: CompileResult; exit: number } {
  const chosen = resolveTargets(options.target);
  if (!Array.isArray(chosen)) {
    report([chosen], options.format, io, () => undefined);
    return { exit: EXIT.usage };
  }
  const timeout = Number(options.evalTimeout);
  const result = compile({
    entry: path.resolve(io.cwd, entry ?? DEFAULT_ENTRY),
    targets: chosen,
    evaluationTimeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_EVALUATION_TIMEOUT_MS,
  });
  return { result, exit: hasErrors(result.diagnostics) ? EXIT.policyErrors : EXIT.ok };
}

/** The flags every compiling command takes. */
export function withCommonOptions(command: Command, defaultTarget = 'istio'): Command {
  return command
    .option('-t, --target <name>', `mesh to compile for: ${[...targets.keys(), 'all'].join(', ')}`, defaultTarget)
    .addOption(new Option('--format <format>', 'how to print diagnostics').choices([...DIAGNOSTIC_FORMATS]).default('text'))
    .option('--eval-timeout <ms>', 'bound on policy evaluation, in milliseconds', String(DEFAULT_EVALUATION_TIMEOUT_MS));
}
