#!/usr/bin/env node
/**
 * The `policyc` command: parse flags, call the compiler, print. Exit 0 on success, 1 on policy errors,
 * 2 on usage or internal errors.
 */
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { compile, DEFAULT_EVALUATION_TIMEOUT_MS, type CompileResult } from '../compiler/compile';
import { diagnostic, hasErrors, type Diagnostic } from '../compiler/diagnostics/diagnostic';
import { diagnosticsAsJson, formatDiagnostics } from '../compiler/diagnostics/format';
import { readOutput, writeOutputs } from '../compiler/output';
import type { Target } from '../targets/contract';
import { targets } from '../targets';

export const DEFAULT_ENTRY = 'policy.ts';
export const DEFAULT_OUT = 'manifests';

export const EXIT = { ok: 0, policyErrors: 1, usage: 2 } as const;

interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  readonly color: boolean;
}

interface CommonOptions {
  readonly target: string;
  readonly format: 'text' | 'json';
  readonly evalTimeout: string;
}

function resolveTargets(name: string): Target[] | Diagnostic {
  if (name === 'all') return [...targets.values()];
  const target = targets.get(name);
  return target === undefined
    ? diagnostic('unknown-target', `Unknown target '${name}'. Use one of: ${[...targets.keys(), 'all'].join(', ')}.`)
    : [target];
}

function report(diagnostics: readonly Diagnostic[], format: CommonOptions['format'], io: Io, read: (file: string) => string | undefined): void {
  if (format === 'json') {
    io.stdout(`${JSON.stringify({ diagnostics: diagnosticsAsJson(diagnostics, io.cwd) }, null, 2)}\n`);
  } else if (diagnostics.length > 0) {
    io.stderr(formatDiagnostics(diagnostics, { cwd: io.cwd, color: io.color, readSource: read }));
  }
}

function runCompile(entry: string | undefined, options: CommonOptions, io: Io): { result?: CompileResult; exit: number } {
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

/** Runs the CLI with these arguments (without `node policyc`) and returns the exit code. */
export function main(argv: readonly string[], io: Io): number {
  let exit: number = EXIT.ok;
  const program = new Command('policyc')
    .description('Compile typed TypeScript mesh policy into Istio (and Linkerd) manifests.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const common = (command: Command): Command =>
    command
      .option('-t, --target <name>', `mesh to compile for: ${[...targets.keys(), 'all'].join(', ')}`, 'istio')
      .addOption(new Option('--format <format>', 'how to print diagnostics').choices(['text', 'json']).default('text'))
      .option('--eval-timeout <ms>', 'bound on policy evaluation, in milliseconds', String(DEFAULT_EVALUATION_TIMEOUT_MS));

  common(
    program
      .command('build')
      .description('type-check, validate and write manifests (one YAML file per object, a kustomization.yaml per target)')
      .argument('[entry]', 'the policy entry file', DEFAULT_ENTRY)
      .option('-o, --out <dir>', 'output folder; each target writes <out>/<target>/', DEFAULT_OUT)
      .option('--check', 'write nothing; exit 1 if the output folder is not up to date'),
  ).action((entry: string, options: CommonOptions & { out: string; check?: boolean }) => {
    const { result, exit: code } = runCompile(entry, options, io);
    exit = code;
    if (result === undefined) return;
    const diagnostics = [...result.diagnostics];
    try {
      build(result, options, diagnostics);
    } finally {
      report(diagnostics, options.format, io, (f) => result.store.read(f));
    }
  });

  const build = (result: CompileResult, options: CommonOptions & { out: string; check?: boolean }, diagnostics: Diagnostic[]): void => {
    if (exit !== EXIT.ok) return;
    const outDir = path.resolve(io.cwd, options.out);
    if (options.check === true) {
      const stale = staleFiles(outDir, result);
      if (stale.length > 0) {
        io.stderr(`${stale.map((f) => `would change: ${path.relative(io.cwd, path.join(outDir, f))}`).join('\n')}\n${stale.length} file(s) out of date: run \`policyc build\` and commit the result.\n`);
        exit = EXIT.policyErrors;
      } else if (options.format === 'text') {
        io.stdout(`${path.relative(io.cwd, outDir) || '.'} is up to date.\n`);
      }
      return;
    }
    try {
      writeOutputs(outDir, result.outputs);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      diagnostics.push(diagnostic('output-write-failed', `Could not write ${path.relative(io.cwd, outDir) || '.'}: ${reason}. The previous output is unchanged.`));
      exit = EXIT.usage;
      return;
    }
    if (options.format === 'text') {
      for (const [target, files] of result.outputs) {
        io.stdout(`${target}: wrote ${files.size} files to ${path.relative(io.cwd, path.join(outDir, target)) || '.'}\n`);
      }
    }
  };

  common(
    program
      .command('check')
      .description('everything build does except writing: type-check, evaluate, validate, compile for the target')
      .argument('[entry]', 'the policy entry file', DEFAULT_ENTRY),
  ).action((entry: string, options: CommonOptions) => {
    const { result, exit: code } = runCompile(entry, options, io);
    exit = code;
    if (result === undefined) return;
    report(result.diagnostics, options.format, io, (f) => result.store.read(f));
    if (code === EXIT.ok && options.format === 'text') {
      io.stdout(`ok: ${result.model?.services.length ?? 0} services, ${result.model?.rules.length ?? 0} rules, ${result.diagnostics.length} warnings\n`);
    }
  });

  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    report([diagnostic('internal-error', `policyc failed: ${message}`)], 'text', io, () => undefined);
    return EXIT.usage;
  }
  return exit;
}

/** Output files that differ from, are missing in, or are extra in the output folder. */
function staleFiles(outDir: string, result: CompileResult): string[] {
  const stale: string[] = [];
  for (const [target, files] of result.outputs) {
    const existing = readOutput(path.join(outDir, target));
    for (const [file, content] of files) if (existing.get(file) !== content) stale.push(`${target}/${file}`);
    for (const file of existing.keys()) if (!files.has(file)) stale.push(`${target}/${file}`);
  }
  return stale.sort();
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    color: process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined,
  });
}
