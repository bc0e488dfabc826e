/**
 * `policyc build --watch`: one type-checker session kept open; on every save, re-check the changed files,
 * re-evaluate, and write only the output files whose bytes changed. Prints the result of each change.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { compile } from '../compiler/compile';
import { hasErrors } from '../diagnostics/diagnostic';
import { syncOutputs } from '../compiler/write';
import { PolicyTypeChecker } from '../compiler/typecheck';
import type { Target } from '../model/target';
import { report, type CommonOptions, type Io } from './common';

export interface WatchSession {
  /** Rebuilds now, as if these files had been saved; returns the output files written. */
  rebuild(changed: readonly string[]): { readonly ms: number; readonly touched: readonly string[]; readonly ok: boolean };
  close(): void;
}

/** Starts watching; the returned session is also what tests and the benchmark drive directly. */
export function startWatch(entry: string, outDir: string, chosen: readonly Target[], options: CommonOptions, io: Io, listen = true): WatchSession {
  const checker = new PolicyTypeChecker();
  const watchers = new Map<string, fs.FSWatcher>();
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let written: ReadonlyMap<string, ReadonlyMap<string, string>> | undefined;

  const rebuild = (changed: readonly string[]) => {
    const started = performance.now();
    const result = compile({ entry, targets: chosen, checker, changedFiles: changed });
    const ok = !hasErrors(result.diagnostics);
    const touched = ok ? syncOutputs(outDir, result.outputs, written) : [];
    if (ok) written = result.outputs;
    const ms = performance.now() - started;
    report(result.diagnostics, options.format, io, (f) => result.store.read(f));
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
    },
  };
}
