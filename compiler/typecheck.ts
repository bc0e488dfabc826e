/**
 * Load and type-check: the entry and everything it imports, with TypeScript 7's native checker. The session
 * runs in a worker thread (typecheck-worker.ts), so a build can start the check, evaluate and emit while
 * tsgo checks, and only then wait for the verdict: a build with type errors still emits nothing.
 * Requests are synchronous for callers: the main thread blocks on shared memory until the answer is posted.
 */
import * as path from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import { compiledFile } from './package-files';
import type { SourceStore } from './sources';
import type { RawCheck } from './typecheck-session';

export { DSL_DECLARATIONS, policyCompilerOptions } from './typecheck-options';

export interface TypecheckResult {
  /** The user's policy files in the program (absolute paths, sorted). */
  readonly files: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

/** @internal What the main thread asks the worker. */
export type TypecheckRequest =
  | {
      readonly kind: 'check';
      readonly entry: string;
      readonly changedFiles: readonly string[];
      /** Unsaved texts by absolute path; the files whose text changed are also in changedFiles. */
      readonly overlay?: Readonly<Record<string, string>>;
      /** Report the diagnostics of these files only (an editor's open files); all files when absent. */
      readonly onlyFiles?: readonly string[];
    }
  | { readonly kind: 'fileDiagnostics'; readonly entry: string; readonly file: string; readonly changedFiles: readonly string[] }
  | { readonly kind: 'completions'; readonly entry: string; readonly file: string; readonly offset: number; readonly changedFiles: readonly string[] }
  | { readonly kind: 'close' };

/** A check that was started; `wait` blocks until tsgo has answered. */
export interface PendingCheck {
  wait(store: SourceStore): TypecheckResult;
}

/**
 * One type-checker (a worker thread with a tsgo process). Keep it open across builds (watch mode, editor
 * tests) and `close()` it at the end.
 */
export class PolicyTypeChecker {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private busy = false;

  private connection(): MessagePort {
    if (this.port === undefined) {
      const channel = new MessageChannel();
      this.worker = new Worker(compiledFile('compiler/typecheck-worker.js'), {
        workerData: { port: channel.port2, signal: this.flag.buffer },
        transferList: [channel.port2],
      });
      this.worker.unref();
      this.port = channel.port1;
      this.port.unref();
    }
    return this.port;
  }

  private send(request: TypecheckRequest): void {
    if (this.busy) throw new Error('the type checker is already answering a request');
    this.busy = true;
    Atomics.store(this.flag, 0, 0);
    this.connection().postMessage(request);
  }

  private receive<T>(): T {
    const port = this.connection();
    for (;;) {
      Atomics.wait(this.flag, 0, 0, 50);
      const message = receiveMessageOnPort(port);
      if (message === undefined) continue;
      this.busy = false;
      const reply = message.message as { ok: T } | { error: string };
      if ('error' in reply) throw new Error(`type checker: ${reply.error}`);
      return reply.ok;
    }
  }

  /**
   * Starts checking `entry` (absolute) and every file it imports; the caller may work meanwhile. `overlay`
   * replaces files on disk (an editor's unsaved buffers); a file whose overlay text changed, appeared or went
   * away must be in `changedFiles`.
   */
  begin(entry: string, changedFiles: readonly string[] = [], overlay?: ReadonlyMap<string, string>, onlyFiles?: readonly string[]): PendingCheck {
    this.send({
      kind: 'check',
      entry,
      changedFiles,
      ...(overlay === undefined ? {} : { overlay: Object.fromEntries(overlay) }),
      ...(onlyFiles === undefined ? {} : { onlyFiles }),
    });
    let result: TypecheckResult | undefined;
    return {
      wait: (store) => {
        if (result !== undefined) return result;
        const raw = this.receive<RawCheck>();
        result = {
          files: raw.files,
          diagnostics: raw.diagnostics.map((d) => {
            const message = `${d.text} (TS${d.code})`;
            return d.fileName === undefined
              ? diagnostic('type-error', message)
              : diagnostic('type-error', message, store.spanOf(path.resolve(d.fileName), d.pos, d.end));
          }),
        };
        return result;
      },
    };
  }

  check(entry: string, store: SourceStore, changedFiles: readonly string[] = []): TypecheckResult {
    return this.begin(entry, changedFiles).wait(store);
  }

  /** How many diagnostics one file has after these files changed: what an editor re-checks after an edit. */
  fileDiagnostics(entry: string, file: string, changedFiles: readonly string[] = []): number {
    this.send({ kind: 'fileDiagnostics', entry, file, changedFiles });
    return this.receive<number>();
  }

  /** Completions at an offset of a file of the entry's program (editor tests and benchmarks). */
  completionsAt(entry: string, file: string, offset: number, changedFiles: readonly string[] = []): readonly string[] {
    this.send({ kind: 'completions', entry, file, offset, changedFiles });
    return this.receive<readonly string[]>();
  }

  close(): void {
    const port = this.port;
    if (port === undefined) return;
    try {
      if (this.busy) this.receive<unknown>();
      this.send({ kind: 'close' });
      this.receive<unknown>();
    } finally {
      void this.worker?.terminate();
      port.close();
      this.port = undefined;
      this.worker = undefined;
      this.busy = false;
    }
  }
}
