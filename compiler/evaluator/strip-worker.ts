/**
 * A worker thread of the compiler (not of the evaluator) that strips types and bundles the DSL with esbuild's
 * asynchronous API, so the files of one import level are stripped side by side (esbuild's synchronous API runs
 * one call at a time) while the main thread waits for the answer (compiler/evaluate.ts).
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { build, transform } from 'esbuild';

/** @internal What the main thread asks. */
export interface StripRequest {
  readonly files: readonly { readonly text: string; readonly tsx: boolean; readonly sourcefile: string }[];
  /** The DSL's entry to bundle beside (once per process). */
  readonly bundle?: string;
}

/** @internal A stripped file: its JavaScript and source map, or what esbuild said (first error and its line). */
export type StrippedFile = { readonly code: string; readonly map: string } | { readonly failure: string; readonly line: number };

/** @internal The answer: one stripped file per file asked, in order, and the bundle when asked ('' if it failed). */
export interface StripReply {
  readonly stripped: readonly StrippedFile[];
  readonly bundle?: string;
}

const { port, signal } = workerData as { port: MessagePort; signal: SharedArrayBuffer };
const flag = new Int32Array(signal);

function reply(message: StripReply): void {
  port.postMessage(message);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

async function strip(file: StripRequest['files'][number]): Promise<StrippedFile> {
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
}

/** The DSL as one CommonJS source, evaluated inside the policy context (so its objects are of that realm). */
async function bundle(entry: string): Promise<string> {
  try {
    const built = await build({ entryPoints: [entry], bundle: true, format: 'cjs', platform: 'neutral', write: false, logLevel: 'silent' });
    return built.outputFiles[0]?.text ?? '';
  } catch {
    return '';
  }
}

port.on('message', (request: StripRequest) => {
  void Promise.all([Promise.all(request.files.map(strip)), request.bundle === undefined ? undefined : bundle(request.bundle)]).then(([stripped, bundled]) =>
    reply(bundled === undefined ? { stripped } : { stripped, bundle: bundled }),
  );
});
