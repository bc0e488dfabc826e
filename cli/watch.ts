/**
 * `policyc build --watch`: one type-checker session kept open; on every save, re-check the changed files,
 * re-evaluate, compile each target only for the namespaces the edit reaches (compiler/splice.ts), validate and
 * serialise only the objects whose content changed (EmitMemo), and write only the output files whose bytes
 * changed. Prints the result of each change; with `POLICYC_PHASES=1`, each rebuild's phases on stderr.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { compile, timePhase } from '../compiler/compile';
import { hasErrors, type Diagnostic } from '../diagnostics/diagnostic';
import { OutputFolderError, writeOutputs, type WrittenTarget } from '../compiler/write';
import { PolicyTypeChecker } from '../compiler/typecheck';
import { EmitMemo } from '../compiler/emit-memo';
import { EvaluatorSession } from '../compiler/evaluate';
import type { Target } from '../model/target';
import { report, type CommonOptions, type Io } from './common';

export interface WatchOptions extends CommonOptions {
  readonly adopt?: boolean;
}

export interface WatchSession {
  /** Rebuilds now, as if these files had been saved; returns the output files written. */
  rebuild(changed: readonly string[]): { readonly ms: number; readonly touched: readonly string[]; readonly ok: boolean };
  close(): void;
}

/** Starts watching; the returned session is also what tests and the benchmark drive directly. */
export function startWatch(entry: string, outDir: string, chosen: readonly Target[], options: WatchOptions, io: Io, listen = true): WatchSession {
  const checker = new PolicyTypeChecker();
  const memo = new EmitMemo();
  const evaluator = new EvaluatorSession();
  const watchers = new Map<string, fs.FSWatcher>();
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let written: ReadonlyMap<string, WrittenTarget> | undefined;

  const rebuild = (changed: readonly string[]) => {
    const started = performance.now();
    const result = compile({ entry, targets: chosen, checker, changedFiles: changed, memo, evaluator });
    const diagnostics: Diagnostic[] = [...result.diagnostics];
    let ok = !hasErrors(diagnostics);
    let touched: string[] = [];
    if (ok) {
      try {
        // The first rebuild checks the whole folder; later ones trust what this session wrote.
        const write = timePhase('write', () =>
          writeOutputs(outDir, result.outputs, {
            adopt: options.adopt === true,
            cwd: io.cwd,
            ...(written === undefined ? {} : { previous: written }),
          }),
        );
        written = write.written;
        diagnostics.push(...write.diagnostics);
        touched = [...write.touched].flatMap(([target, files]) => files.map((f) => `${target}/${f}`)).sort();
      } catch (error) {
        if (!(error instanceof OutputFolderError)) throw error;
        diagnostics.push(...error.diagnostics);
        ok = false;
      }
    }
    const ms = performance.now() - started;
    report(diagnostics, options.format, io, (f) => result.store.read(f), options);
    if (options.format === 'text') {
      io.stdout(
        ok
          ? `rebuilt in ${ms.toFixed(0)} ms: ${touched.length} output file(s) changed${touched.length > 0 ? ` (${touched.slice(0, 5).join(', ')}${touched.length > 5 ? ', …' : ''})` : ''}\n`
          : `errors: output unchanged (${ms.toFixed(0)} ms)\n`,
      );
    }
    if (listen) follow(result.files.length > 0 ? result.files : [entry]);
    return { ms, touched, ok };
  };

  const follow = (files: readonly string[]) => {
    for (const file of files) {
      if (watchers.has(file)) continue;
      watchers.set(
        file,
        fs.watch(file, () => {
          pending.add(file);
          clearTimeout(timer);
          // Editors write a file in several steps: wait for the burst to end.
          timer = setTimeout(() => {
            const changed = [...pending];
            pending.clear();
            rebuild(changed);
          }, 15);
        }),
      );
    }
  };

  rebuild([]);
  return {
    rebuild,
    close: () => {
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      checker.close();
      evaluator.close();
    },
  };
}
