/**
 * `policyc build` and `policyc check`: compile, then write (atomically) or compare with the output folder.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { createTwoFilesPatch } from 'diff';
import { timePhase, type CompileResult } from '../compiler/compile';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import { readOutput, writeOutputs } from '../compiler/write';
import { DEFAULT_ENTRY, DEFAULT_OUT, EXIT, report, resolveTargets, runCompile, withCommonOptions, type CommandContext, type CommonOptions } from './common';
import { startWatch } from './watch';

export function registerBuild(program: Command, context: CommandContext): void {
  const { io } = context;
  let exit: number = EXIT.ok;
  const setExit = (code: number): void => {
    exit = code;
    context.setExit(code);
  };
  withCommonOptions(
    program
      .command('build')
      .description('type-check, validate and write manifests (one YAML file per object, a kustomization.yaml per target)')
      .argument('[entry]', 'the policy entry file', DEFAULT_ENTRY)
      .option('-o, --out <dir>', 'output folder; each target writes <out>/<target>/', DEFAULT_OUT)
      .option('--check', 'write nothing; exit 1 if the output folder is not up to date')
      .option('--watch', 'keep the type checker open and rebuild on every save, writing only changed files'),
  ).action((entry: string, options: CommonOptions & { out: string; check?: boolean; watch?: boolean }) => {
    if (options.watch === true) {
      const chosen = resolveTargets(options.target);
      if (!Array.isArray(chosen)) {
        report([chosen], options.format, io, () => undefined);
        return setExit(EXIT.usage);
      }
      startWatch(path.resolve(io.cwd, entry), path.resolve(io.cwd, options.out), chosen, options, io);
      io.stdout('watching for changes (Ctrl-C to stop)\n');
      return;
    }
    const { result, exit: code } = runCompile(entry, options, io);
    setExit(code);
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
        for (const { file, patch } of stale) io.stderr(`would change: ${path.relative(io.cwd, path.join(outDir, file))}\n${shortPatch(patch)}`);
        io.stderr(`${stale.length} file(s) out of date: run \`policyc build\` and commit the result.\n`);
        setExit(EXIT.policyErrors);
      } else if (options.format === 'text') {
        io.stdout(`${path.relative(io.cwd, outDir) || '.'} is up to date.\n`);
      }
      return;
    }
    let changed: ReadonlyMap<string, number>;
    try {
      changed = timePhase('write', () => writeOutputs(outDir, result.outputs));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      diagnostics.push(
        diagnostic('output-write-failed', `Could not write ${path.relative(io.cwd, outDir) || '.'}: ${reason}. The previous output is unchanged.`),
      );
      setExit(EXIT.usage);
      return;
    }
    if (options.format === 'text') {
      for (const [target, files] of result.outputs) {
        io.stdout(
          `${target}: ${files.size} files in ${path.relative(io.cwd, path.join(outDir, target)) || '.'} (${changed.get(target) ?? 0} written or removed)\n`,
        );
      }
    }
  };

  withCommonOptions(
    program
      .command('check')
      .description('everything build does except writing: type-check, evaluate, validate, compile for the target')
      .argument('[entry]', 'the policy entry file', DEFAULT_ENTRY),
  ).action((entry: string, options: CommonOptions) => {
    const { result, exit: code } = runCompile(entry, options, io);
    setExit(code);
    if (result === undefined) return;
    report(result.diagnostics, options.format, io, (f) => result.store.read(f));
    if (code === EXIT.ok && options.format === 'text') {
      io.stdout(`ok: ${result.model?.services.length ?? 0} services, ${result.model?.rules.length ?? 0} rules, ${result.diagnostics.length} warnings\n`);
    }
  });
}

/** Output files that differ from, are missing in, or are extra in the output folder, with their unified diffs. */
function staleFiles(outDir: string, result: CompileResult): { readonly file: string; readonly patch: string }[] {
  const stale: { file: string; patch: string }[] = [];
  for (const [target, files] of result.outputs) {
    const existing = readOutput(path.join(outDir, target));
    const names = [...new Set([...files.keys(), ...existing.keys()])];
    for (const name of names) {
      const want = files.get(name) ?? '';
      const have = existing.get(name) ?? '';
      if (files.has(name) && existing.get(name) === want) continue;
      const file = `${target}/${name}`;
      stale.push({ file, patch: createTwoFilesPatch(`a/${file}`, `b/${file}`, have, want, undefined, undefined, { context: 2 }) });
    }
  }
  return stale.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** At most this many diff lines per file: enough to see the change, short enough for a CI log. */
const DIFF_LINES = 30;

function shortPatch(patch: string): string {
  const lines = patch.split('\n').filter((l) => !l.startsWith('====') && !l.startsWith('Index:'));
  return lines.length > DIFF_LINES ? `${lines.slice(0, DIFF_LINES).join('\n')}\n… (${lines.length - DIFF_LINES} more lines)\n` : lines.join('\n');
}
