/**
 * The type-check worker thread: owns one TypecheckSession and answers requests from the main thread. Each
 * answer is posted, then signalled through shared memory, so the main thread can wait for it synchronously.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { TypecheckSession } from './typecheck-session';
import type { TypecheckRequest } from './typecheck';

const { port, signal } = workerData as { port: MessagePort; signal: SharedArrayBuffer };
const flag = new Int32Array(signal);
const session = new TypecheckSession();

function answer(request: TypecheckRequest): unknown {
  switch (request.kind) {
    case 'check':
      return session.check(request.entry, request.changedFiles);
    case 'fileDiagnostics':
      return session.fileDiagnostics(request.entry, request.file, request.changedFiles);
    case 'completions':
      return session.completionsAt(request.entry, request.file, request.offset, request.changedFiles);
    case 'close':
      session.close();
      return null;
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
