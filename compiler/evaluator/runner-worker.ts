/**
 * A worker thread of the compiler (not of the evaluator) for cold evaluations, so the main thread can wait
 * for each step synchronously (compiler/evaluate.ts) while what can overlap does: the evaluator process is
 * started first and boots while types are stripped, and the files of one import level are stripped by
 * esbuild's asynchronous API side by side (its synchronous API runs one call at a time). The evaluator is
 * started exactly as before (empty environment, permission model, heap cap) and killed when it overruns its
 * bound or writes more than the answer's cap.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { workerData, type MessagePort } from 'node:worker_threads';
import { build, transform } from 'esbuild';

/** @internal What the main thread asks; `spawn` has no reply. */
export type RunnerRequest =
  | { readonly kind: 'spawn'; readonly command: string; readonly args: readonly string[] }
  | {
      readonly kind: 'strip';
      readonly files: readonly { readonly text: string; readonly tsx: boolean; readonly sourcefile: string }[];
      /** The DSL's entry to bundle beside (once per process). */
      readonly bundle?: string;
    }
  | { readonly kind: 'run'; readonly input: string; readonly killAfterMs: number; readonly maxAnswerBytes: number };

/** @internal A stripped file: its JavaScript and source map, or what esbuild said (first error and its line). */
export type StrippedFile = { readonly code: string; readonly map: string } | { readonly failure: string; readonly line: number };

/** @internal How the evaluator process ended: what spawnSync would have said. */
export interface RunOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
  readonly signal: string | null;
  /** Killed on the bound (spawnSync's ETIMEDOUT). */
  readonly timedOut: boolean;
  /** Killed for writing more than the cap (spawnSync's ENOBUFS). */
  readonly tooLarge: boolean;
  /** The process could not be started. */
  readonly failed: string | undefined;
}

/** @internal */
export type RunnerReply = { readonly stripped: readonly StrippedFile[]; readonly bundle?: string } | { readonly outcome: RunOutcome };

const { port, signal } = workerData as { port: MessagePort; signal: SharedArrayBuffer };
const flag = new Int32Array(signal);

function reply(message: RunnerReply): void {
  port.postMessage(message);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

/** The evaluator started by the last `spawn`, with what it wrote so far. */
let evaluator:
  | {
      readonly child: ChildProcess;
      readonly stdout: Buffer[];
      stdoutBytes: number;
      stderr: string;
      tooLarge: boolean;
      timedOut: boolean;
      failed: string | undefined;
      maxAnswerBytes: number;
      closed: { status: number | null; signal: string | null } | undefined;
      onClose: (() => void) | undefined;
    }
  | undefined;

function spawnEvaluator(command: string, args: readonly string[]): void {
  // One that was started for an evaluation that never ran (the compiler threw in between) is not needed.
  evaluator?.child.kill('SIGKILL');
  const child = spawn(command, args, { env: {}, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
  const started = {
    child,
    stdout: [] as Buffer[],
    stdoutBytes: 0,
    stderr: '',
    tooLarge: false,
    timedOut: false,
    failed: undefined as string | undefined,
    maxAnswerBytes: Number.POSITIVE_INFINITY,
    closed: undefined as { status: number | null; signal: string | null } | undefined,
    onClose: undefined as (() => void) | undefined,
  };
  evaluator = started;
  child.stdout?.on('data', (chunk: Buffer) => {
    started.stdout.push(chunk);
    started.stdoutBytes += chunk.length;
    if (started.stdoutBytes > started.maxAnswerBytes && !started.tooLarge) {
      started.tooLarge = true;
      child.kill('SIGKILL');
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    // Progress lines and a heap exhaustion's message; bounded like the answer.
    if (started.stderr.length < started.maxAnswerBytes) started.stderr += chunk;
  });
  child.stdin?.on('error', () => undefined);
  child.on('error', (error) => {
    started.failed = error.message;
    started.closed ??= { status: null, signal: null };
    started.onClose?.();
  });
  child.on('close', (status, exitSignal) => {
    started.closed ??= { status, signal: exitSignal };
    started.onClose?.();
  });
}

function run(input: string, killAfterMs: number, maxAnswerBytes: number): void {
  const running = evaluator;
  if (running === undefined) {
    reply({ outcome: { stdout: '', stderr: '', status: null, signal: null, timedOut: false, tooLarge: false, failed: 'not started' } });
    return;
  }
  evaluator = undefined;
  running.maxAnswerBytes = maxAnswerBytes;
  const timer = setTimeout(() => {
    running.timedOut = true;
    running.child.kill('SIGKILL');
  }, killAfterMs);
  const finish = (): void => {
    clearTimeout(timer);
    const { status, signal: exitSignal } = running.closed ?? { status: null, signal: null };
    reply({
      outcome: {
        stdout: running.tooLarge ? '' : Buffer.concat(running.stdout).toString('utf8'),
        stderr: running.stderr,
        status,
        signal: exitSignal,
        timedOut: running.timedOut,
        tooLarge: running.tooLarge,
        failed: running.failed,
      },
    });
  };
  if (running.closed !== undefined) finish();
  else running.onClose = finish;
  running.child.stdin?.end(input);
}

async function strip(files: readonly { readonly text: string; readonly tsx: boolean; readonly sourcefile: string }[]): Promise<StrippedFile[]> {
  return Promise.all(
    files.map(async (file): Promise<StrippedFile> => {
      try {
        const output = await transform(file.text, {
          loader: file.tsx ? 'tsx' : 'ts',
          format: 'cjs',
          target: 'es2022',
          sourcemap: 'external',
          sourcefile: file.sourcefile,
          logLevel: 'silent',
        });
        return { code: output.code, map: output.map };
      } catch (error) {
        const first = (error as { errors?: { text?: unknown; location?: { line?: unknown } | null }[] }).errors?.[0];
        return {
          failure: typeof first?.text === 'string' ? first.text : 'this module cannot be compiled',
          line: typeof first?.location?.line === 'number' ? first.location.line : 1,
        };
      }
    }),
  );
}

/** The DSL as one CommonJS source, evaluated inside the policy context (so its objects are of that realm). */
async function bundle(entry: string): Promise<string> {
  const built = await build({ entryPoints: [entry], bundle: true, format: 'cjs', platform: 'neutral', write: false, logLevel: 'silent' });
  return built.outputFiles[0]?.text ?? '';
}

port.on('message', (request: RunnerRequest) => {
  switch (request.kind) {
    case 'spawn':
      spawnEvaluator(request.command, request.args);
      return;
    case 'run':
      run(request.input, request.killAfterMs, request.maxAnswerBytes);
      return;
    case 'strip':
      void Promise.all([strip(request.files), request.bundle === undefined ? undefined : bundle(request.bundle).catch(() => '')]).then(([stripped, bundled]) =>
        reply(bundled === undefined ? { stripped } : { stripped, bundle: bundled }),
      );
      return;
  }
});
