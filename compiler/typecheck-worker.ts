/**
 * The type-check worker thread: owns one TypecheckSession and answers requests from the main thread. Each
 * answer is posted, then signalled through shared memory, so the main thread can wait for it synchronously.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import type { TypecheckRequest } from './typecheck';
import type { TypecheckSession } from './typecheck-session';

const { port, signal } = workerData as { port: MessagePort; signal: SharedArrayBuffer };
const flag = new Int32Array(signal);
let session: TypecheckSession | undefined;

function answer(request: TypecheckRequest): unknown {
  if (request.kind === 'close') {
    session?.close();
    session = undefined;
    return null;
  }
  // Loaded on the first request, so a failure to load TypeScript 7 (for example require(esm) missing on an old
  // Node 20) becomes an error reply instead of a worker that dies before it can answer.
  if (session === undefined) {
    const loaded = require('./typecheck-session') as typeof import('./typecheck-session');
    session = new loaded.TypecheckSession();
  }
  switch (request.kind) {
    case 'check':
      return session.check(request.entry, request.changedFiles, request.overlay, request.onlyFiles);
    case 'fileDiagnostics':
      return session.fileDiagnostics(request.entry, request.file, request.changedFiles);
    case 'completions':
      return session.completionsAt(request.entry, request.file, request.offset, request.changedFiles);
    default:
      return request satisfies never;
  }
}

port.on('message', (request: TypecheckRequest) => {
  let reply: { ok: unknown } | { error: string };
  try {
    reply = { ok: answer(request) };
  } catch (error) {
    reply = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  if (request.kind === 'close') port.close();
});
