/**
 * Evaluate: run the type-checked policy modules, hermetically, to obtain the declared objects.
 * Types are stripped by esbuild (TypeScript 7's API cannot emit); each module runs in one fresh V8
 * context with no `process`, `require` of Node modules, clock or randomness, under a time bound.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { transformSync } from 'esbuild';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import * as dsl from '../dsl';
import type { DeclarationSite } from '../dsl/types';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import type { SourceLocation } from '../model/model';
import type { SourceStore } from './sources';

export interface EvaluateOptions {
  /** Bound on the whole evaluation, in milliseconds. */
  readonly timeoutMs: number;
}

export interface EvaluateResult {
  /** The entry's default export, when evaluation succeeded. */
  readonly exported?: unknown;
  readonly diagnostics: readonly Diagnostic[];
  /** Maps a DSL declaration site (in the stripped JavaScript) back to the TypeScript source. */
  readonly locate: (site: DeclarationSite | undefined) => SourceLocation | undefined;
  /** The policy files that were loaded (absolute). */
  readonly files: ReadonlySet<string>;
}

/** Thrown by the module loader; carries the diagnostic to report. */
class PolicyEvaluationError extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message);
  }
}

// Policy code gets a frozen copy, so it cannot change the builders for later modules or builds.
const POLICY_DSL = Object.freeze({ ...dsl });

const RESOLVE_SUFFIXES = ['', '.ts', '.tsx', '.mts', '.cts', '/index.ts'];

// Runs inside the policy context before any policy code: reading the clock or randomness throws.
const DETERMINISM_PRELUDE = `(() => {
  const refuse = (what) => () => { const e = new Error(what + ' is not available in policy code: builds must be deterministic'); e.name = 'PolicycNondeterminism'; throw e; };
  const RealDate = Date;
  const PolicyDate = new Proxy(RealDate, {
    construct(target, args, newTarget) { if (args.length === 0) refuse('new Date()')(); return Reflect.construct(target, args, newTarget); },
    apply() { return refuse('Date()')(); },
  });
  Object.defineProperty(PolicyDate, 'now', { value: refuse('Date.now()') });
  globalThis.Date = PolicyDate;
  Math.random = refuse('Math.random()');
})();`;

/** Stack frames of policy files in an error's stack text, first first. */
function policyFrames(stack: string, files: ReadonlySet<string>): { file: string; line: number; column: number }[] {
  const frames: { file: string; line: number; column: number }[] = [];
  for (const match of stack.matchAll(/\(?((?:\/|[A-Za-z]:\\)[^():\n]+):(\d+):(\d+)\)?/g)) {
    const [, file, line, column] = match;
    if (file !== undefined && files.has(file)) frames.push({ file, line: Number(line), column: Number(column) });
  }
  return frames;
}

/** Stripped JavaScript per file, reused while the file's text is unchanged (watch mode, repeated builds). */
const transforms = new Map<string, { readonly text: string; readonly code: string; readonly trace: TraceMap }>();

function stripTypes(file: string, text: string): { readonly code: string; readonly trace: TraceMap } {
  const cached = transforms.get(file);
  if (cached !== undefined && cached.text === text) return cached;
  const output = transformSync(text, {
    loader: file.endsWith('x') ? 'tsx' : 'ts',
    format: 'cjs',
    target: 'es2022',
    sourcemap: 'external',
    sourcefile: file,
    logLevel: 'silent',
  });
  const entry = { text, code: output.code, trace: new TraceMap(output.map) };
  transforms.set(file, entry);
  return entry;
}

/** A file policy code may import: TypeScript source outside node_modules, on disk. */
function isPolicySource(file: string): boolean {
  return /\.(?:ts|tsx|mts|cts)$/.test(file) && !file.includes(`${path.sep}node_modules${path.sep}`) && fs.existsSync(file);
}

/**
 * Runs the entry and what it imports. Only relative imports of TypeScript policy files and 'policyc' load; the
 * type checker (run beside evaluation) checks the same files.
 */
export function evaluate(entry: string, store: SourceStore, options: EvaluateOptions): EvaluateResult {
  // The modules loaded so far: the only files whose frames and call sites are policy code.
  const allowed = new Set<string>([entry]);
  const traces = new Map<string, TraceMap>();
  const cache = new Map<string, { exports: unknown }>();
  const context = vm.createContext({}, { name: 'policyc policy', codeGeneration: { strings: false, wasm: false } });
  vm.runInContext(DETERMINISM_PRELUDE, context);
  const deadline = Date.now() + options.timeoutMs;

  const locate = (site: DeclarationSite | undefined): SourceLocation | undefined => {
    if (site === undefined || !allowed.has(site.file)) return undefined;
    const trace = traces.get(site.file);
    const original = trace === undefined ? undefined : originalPositionFor(trace, { line: site.line, column: site.column - 1 });
    const line = original?.line ?? site.line;
    const column = original?.column === undefined || original.column === null ? site.column : original.column + 1;
    return store.locationAt(site.file, line, column);
  };

  const spanOfFrame = (frame: { file: string; line: number; column: number } | undefined) =>
    frame === undefined ? undefined : store.spanOfLocation(locate(frame));

  const load = (file: string): unknown => {
    const cached = cache.get(file);
    if (cached !== undefined) return cached.exports;
    const output = stripTypes(file, store.read(file) ?? '');
    traces.set(file, output.trace);
    const module = { exports: {} as unknown };
    cache.set(file, module);
    const requireFromPolicy = (specifier: string): unknown => {
      if (specifier === 'policyc') return POLICY_DSL;
      if (specifier.startsWith('./') || specifier.startsWith('../')) {
        const base = path.resolve(path.dirname(file), specifier);
        const target = RESOLVE_SUFFIXES.map((s) => base + s).find((candidate) => allowed.has(candidate) || isPolicySource(candidate));
        if (target !== undefined) {
          allowed.add(target);
          return load(target);
        }
      }
      const frame = policyFrames(new Error().stack ?? '', allowed)[0];
      throw new PolicyEvaluationError(
        diagnostic(
          'forbidden-import',
          `Policy code may import only 'policyc' and other policy files, not '${specifier}': evaluation is hermetic (no file system, network, environment or clock). Move what you need into a policy file or declare it with the policyc builders.`,
          spanOfFrame(frame),
        ),
      );
    };
    // The wrapper is on its own line, so line numbers in stack traces are those of the stripped module.
    const script = new vm.Script(`(function (exports, require, module) {\n${output.code}\n})`, { filename: file, lineOffset: -1 });
    const remaining = Math.max(1, deadline - Date.now());
    const factory = script.runInContext(context, { timeout: remaining }) as (e: unknown, r: unknown, m: unknown) => void;
    const run = new vm.Script('__policycRun()', { filename: 'policyc-evaluate' });
    (context as Record<string, unknown>)['__policycRun'] = () => factory(module.exports, requireFromPolicy, module);
    run.runInContext(context, { timeout: remaining });
    return module.exports;
  };

  try {
    const exports = load(entry) as { default?: unknown } | undefined;
    return { exported: exports?.default, diagnostics: [], locate, files: allowed };
  } catch (error) {
    return { diagnostics: [diagnosticOfError(error, entry, allowed, store, spanOfFrame, options)], locate, files: allowed };
  }
}

function diagnosticOfError(
  error: unknown,
  entry: string,
  allowed: ReadonlySet<string>,
  store: SourceStore,
  spanOfFrame: (frame: { file: string; line: number; column: number } | undefined) => Diagnostic['span'],
  options: EvaluateOptions,
): Diagnostic {
  if (error instanceof PolicyEvaluationError) return error.diagnostic;
  // Errors thrown in the policy context come from another realm: read them by shape, not instanceof.
  const shape = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown };
  const stack = typeof shape.stack === 'string' ? shape.stack : '';
  const message = typeof shape.message === 'string' ? shape.message : String(error);
  const span = spanOfFrame(policyFrames(stack, allowed)[0]);
  if (shape.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
    return diagnostic(
      'evaluation-timeout',
      `Policy evaluation did not finish within ${options.timeoutMs} ms: look for an endless loop in policy code.`,
      span ?? store.spanOf(entry, 0, 0),
    );
  }
  if (shape.name === 'PolicycNondeterminism') return diagnostic('nondeterministic-api', message, span);
  const name = typeof shape.name === 'string' ? shape.name : 'Error';
  return diagnostic('policy-threw', `Policy code threw ${name}: ${message}`, span ?? store.spanOf(entry, 0, 0));
}
