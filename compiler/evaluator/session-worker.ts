/**
 * A worker thread of the compiler (not of the evaluator): it owns a long-lived evaluator process started with
 * `--session` (watch mode) and relays one request line to it and one answer line back, so the compiler's main
 * thread can wait for the answer synchronously (EvaluatorSession in compiler/evaluate.ts). The evaluator is
 * started exactly as a cold one (empty environment, permission model, heap cap) and killed when it overruns
 * its bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { workerData, type MessagePort } from 'node:worker_threads';
import { PROGRESS_PREFIX } from './child';

/** @internal What the main thread asks. */
export type SessionWorkerRequest = { readonly kind: 'run'; readonly line: string; readonly killAfterMs: number } | { readonly kind: 'close' };

/** @internal What it answers: the evaluator's line, or how the evaluator stopped without one. */
export type SessionWorkerReply =
  | { readonly line: string; readonly progress: number }
  | { readonly stopped: string; readonly progress: number; readonly outOfMemory: boolean; readonly killed: boolean };

const { port, signal, command, args, maxAnswerBytes } = workerData as {
  port: MessagePort;
  signal: SharedArrayBuffer;
  command: string;
  args: string[];
  maxAnswerBytes: number;
};
const flag = new Int32Array(signal);

let child: ChildProcess | undefined;
let stdout: Buffer[] = [];
let stdoutBytes = 0;
let stderrTail = '';
let progress = 0;
let waiting: { readonly timer: NodeJS.Timeout; killed: boolean } | undefined;
/** The evaluator stopped between requests: what it held is gone, which the next answer must say. */
let lost = false;

function reply(message: SessionWorkerReply | null): void {
  port.postMessage(message);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

function finish(message: SessionWorkerReply): void {
  if (waiting === undefined) return;
  clearTimeout(waiting.timer);
  waiting = undefined;
  reply(message);
}

function start(): ChildProcess {
  const started = spawn(command, args, { env: {}, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
  started.stdout?.on('data', (chunk: Buffer) => {
    const newline = chunk.indexOf(10);
    if (newline < 0) {
      stdout.push(chunk);
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxAnswerBytes) started.kill('SIGKILL');
      return;
    }
    stdout.push(chunk.subarray(0, newline));
    const line = Buffer.concat(stdout).toString('utf8');
    stdout = [chunk.subarray(newline + 1)];
    stdoutBytes = stdout[0]?.length ?? 0;
    finish({ line, progress });
  });
  started.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4096);
    for (const match of stderrTail.matchAll(new RegExp(`^${PROGRESS_PREFIX}(\\d+)$`, 'gm'))) progress = Number(match[1]);
  });
  started.on('exit', (code, exitSignal) => {
    if (child === started) child = undefined;
    if (waiting === undefined) lost = true;
    const outOfMemory = /heap out of memory|Reached heap limit|Allocation failed/.test(stderrTail);
    finish({ stopped: exitSignal ?? `exit ${code ?? 'unknown'}`, progress, outOfMemory, killed: waiting?.killed ?? false });
  });
  started.stdin?.on('error', () => undefined);
  return started;
}

port.on('message', (request: SessionWorkerRequest) => {
  if (request.kind === 'close') {
    child?.kill('SIGKILL');
    child = undefined;
    reply(null);
    port.close();
    return;
  }
  if (lost) {
    lost = false;
    reply({ stopped: 'stopped between builds', progress: 0, outOfMemory: false, killed: false });
    return;
  }
  child ??= start();
  const running = child;
  stdout = [];
  stdoutBytes = 0;
  stderrTail = '';
  progress = 0;
  const timer = setTimeout(() => {
    if (waiting !== undefined) waiting.killed = true;
    running.kill('SIGKILL');
  }, request.killAfterMs);
  waiting = { timer, killed: false };
  running.stdin?.write(`${request.line}\n`);
});
