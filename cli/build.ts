/**
 * `policyc build` and `policyc check`: compile, then write (atomically) or compare with the output folder.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { timePhase, type CompileResult } from '../compiler/compile';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import { OutputFolderError, staleOutputs, unsafeOutputFolder, writeOutputs } from '../compiler/write';
import { checkUsage, DEFAULT_ENTRY, DEFAULT_OUT, EXIT, report, runCompile, withCommonOptions, type CommandContext, type CommonOptions } from './common';
import { Progress } from './progress';
import { startWatch } from './watch';

export interface BuildOptions extends CommonOptions {
  readonly out: string;
  readonly check?: boolean;
  readonly watch?: boolean;
  readonly adopt?: boolean;
}

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
      .description(
        'type-check, validate and write manifests (one YAML file per destination service, one per namespace for the rest, a kustomization.yaml per target)',
      )
      .argument('[entry]', 'the policy entry file', DEFAULT_ENTRY)
      .option('-o, --out <dir>', 'output folder; each target writes <out>/<target>/, a folder policyc owns', DEFAULT_OUT)
      .option('--check', 'write nothing; exit 1 if the output folder is not up to date')
      .option('--watch', 'keep the type checker open and rebuild on every save, writing only changed files')
      .option('--adopt', 'take over target folders holding files policyc did not write: they are replaced or removed like its own'),
  ).action((entry: string, options: BuildOptions) => {
    const outDir = path.resolve(io.cwd, options.out);
    const usage = checkUsage(entry, options, io);
    const unsafe = 'targets' in usage ? unsafeOutputFolder(outDir, path.resolve(io.cwd, entry), options.out) : usage;
    if (unsafe !== undefined) {
      report([unsafe], options.format, io, () => undefined);
      return setExit(EXIT.usage);
    }
    if (options.watch === true && 'targets' in usage) {
      context.keepAlive?.();
      startWatch(path.resolve(io.cwd, entry), outDir, usage.targets, options, io);
      io.stdout('watching for changes (Ctrl-C to stop)\n');
      return;
    }
    const progress = new Progress(io);
    const { result, exit: code } = runCompile(entry, options, io, progress);
    setExit(code);
    if (result === undefined) return;
    const diagnostics = [...result.diagnostics];
    try {
      build(result, options, diagnostics, progress);
    } finally {
      progress.done();
      report(diagnostics, options.format, io, (f) => result.store.read(f), options);
    }
  });

  const build = (result: CompileResult, options: BuildOptions, diagnostics: Diagnostic[], progress: Progress): void => {
    if (exit !== EXIT.ok) return;
    const outDir = path.resolve(io.cwd, options.out);
    const refused = (error: unknown): boolean => {
      if (!(error instanceof OutputFolderError)) return false;
      diagnostics.push(...error.diagnostics);
      // An interrupted folder is out of date (exit 1, as any stale output); a folder policyc may not touch is a usage error.
      setExit(error.diagnostics.every((d) => d.id === 'output-interrupted') ? EXIT.policyErrors : EXIT.usage);
      return true;
    };
    if (options.check === true) {
      let stale;
      try {
        stale = staleOutputs(outDir, result.outputs, { adopt: options.adopt === true, cwd: io.cwd });
      } catch (error) {
        if (refused(error)) return;
        throw error;
      }
      if (stale.length > 0) {
        for (const { file, have, want } of stale) {
          // Loaded here: only `--check` with stale files needs the diff library.
          const patch = (require('diff') as typeof import('diff')).createTwoFilesPatch(`a/${file}`, `b/${file}`, have, want, undefined, undefined, {
            context: 2,
          });
          io.stderr(`would change: ${path.relative(io.cwd, path.join(outDir, file))}\n${shortPatch(patch)}`);
        }
        io.stderr(`${stale.length} file(s) out of date: run \`policyc build\` and commit the result.\n`);
        setExit(EXIT.policyErrors);
      } else if (options.format === 'text') {
        io.stdout(`${path.relative(io.cwd, outDir) || '.'} is up to date.\n`);
      }
      return;
    }
    let touched: ReadonlyMap<string, readonly string[]>;
    try {
      progress.phase('writing');
      const written = timePhase('write', () =>
        writeOutputs(outDir, result.outputs, {
          adopt: options.adopt === true,
          cwd: io.cwd,
          onStep: (done, total) => progress.count(done, total),
        }),
      );
      diagnostics.push(...written.diagnostics);
      touched = written.touched;
    } catch (error) {
      if (refused(error)) return;
      const reason = error instanceof Error ? error.message : String(error);
      diagnostics.push(
        diagnostic(
          'output-write-failed',
          `Could not write ${path.relative(io.cwd, outDir) || '.'}: ${reason}. Files already replaced hold their new content; run the build again to finish.`,
        ),
      );
      setExit(EXIT.usage);
      return;
    }
    if (options.format === 'text') {
      for (const [target, files] of result.outputs) {
        io.stdout(
          `${target}: ${files.size} files in ${path.relative(io.cwd, path.join(outDir, target)) || '.'} (${touched.get(target)?.length ?? 0} written or removed)\n`,
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
    const progress = new Progress(io);
    const { result, exit: code } = runCompile(entry, options, io, progress);
    setExit(code);
    if (result === undefined) return;
    report(result.diagnostics, options.format, io, (f) => result.store.read(f), options);
    if (code === EXIT.ok && options.format === 'text') {
      const acknowledged = result.diagnostics.filter((d) => d.acknowledged !== undefined).length;
      io.stdout(
        `ok: ${result.model?.services.length ?? 0} services, ${result.model?.rules.length ?? 0} rules, ${result.diagnostics.length - acknowledged} warnings` +
          `${acknowledged === 0 ? '' : ` (${acknowledged} acknowledged)`}\n`,
      );
    }
  });
}

/** At most this many diff lines per file: enough to see the change, short enough for a CI log. */
const DIFF_LINES = 30;

function shortPatch(patch: string): string {
  const lines = patch.split('\n').filter((l) => !l.startsWith('====') && !l.startsWith('Index:'));
  return lines.length > DIFF_LINES ? `${lines.slice(0, DIFF_LINES).join('\n')}\n… (${lines.length - DIFF_LINES} more lines)\n` : lines.join('\n');
}
