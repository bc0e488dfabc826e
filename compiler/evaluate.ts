/**
 * Evaluate: run the policy modules in an isolated evaluator process (compiler/evaluator/child.ts) and read
 * back what the entry exported, as untrusted data.
 *
 * This side strips types (esbuild) and resolves every module's literal imports ahead of time; the evaluator
 * receives only source text, starts with an empty environment under Node's permission model (it may read
 * its own script and nothing else; no writes, processes or workers), a heap cap, and is killed on a
 * wall-clock bound. Its stack frames and declaration sites name synthetic files (`policyc-module-<n>`), which
 * `locate` maps back through the source maps to the user's TypeScript line and column.
 */
import { spawnSync } from 'node:child_process';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync, transformSync } from 'esbuild';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import type { DeclarationSite } from '../dsl/types';
import { resolvePolicyImport } from './resolve-import';
import { diagnostic, type Diagnostic, type Span } from '../diagnostics/diagnostic';
import type { SourceLocation } from '../model/model';
import type { SourceStore } from './sources';
import { compiledFile } from './package-files';
import { OpaqueValue } from './evaluator/policy-schema';
import { PROGRESS_PREFIX, type EncodeLimits, type EvaluatorError, type EvaluatorRequest, type SessionRequest } from './evaluator/child';
import type { SessionWorkerReply, SessionWorkerRequest } from './evaluator/session-worker';

export interface EvaluateOptions {
  /** Bound on the whole evaluation, in milliseconds. */
  readonly timeoutMs: number;
}

export interface EvaluateResult {
  /** The entry's default export, decoded from the evaluator's answer (plain data, untrusted), when evaluation succeeded. */
  readonly exported?: unknown;
  readonly diagnostics: readonly Diagnostic[];
  /** Maps a DSL declaration site (in the stripped JavaScript) back to the TypeScript source. */
  readonly locate: (site: unknown) => SourceLocation | undefined;
  /** The policy files that were loaded (absolute). */
  readonly files: ReadonlySet<string>;
}

/** Heap cap of the evaluator: 5,000 services peak at about 280 MB of process memory; past the cap a runaway allocation is PC2008. */
export const EVALUATOR_HEAP_MB = 512;
/** The parent's kill comes this long after the evaluator's own bound, which reports the timeout itself. */
const KILL_GRACE_MS = 3000;
/** More answer than this is a policy too large to be meant (5,000 services answer about 10 MB). */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;
export const ENCODE_LIMITS: EncodeLimits = { maxDepth: 64, maxNodes: 5_000_000, maxChars: 64 * 1024 * 1024 };

const MODULE_NAME = /^policyc-module-(\d+)$/;

const moduleName = (index: number): string => `policyc-module-${index}`;

/** Stripped JavaScript per file, reused while the file's text is unchanged (watch mode, repeated builds). */
const transforms = new Map<string, { readonly text: string; readonly code: string; readonly trace: TraceMap; readonly requires: readonly string[] }>();

function stripTypes(file: string, text: string): { readonly code: string; readonly trace: TraceMap; readonly requires: readonly string[] } {
  const cached = transforms.get(file);
  if (cached !== undefined && cached.text === text) return cached;
  let output: { code: string; map: string };
  try {
    output = transformSync(text, {
      loader: file.endsWith('x') ? 'tsx' : 'ts',
      format: 'cjs',
      target: 'es2022',
      sourcemap: 'external',
      sourcefile: moduleName(0),
      logLevel: 'silent',
    });
  } catch (error) {
    // Syntax esbuild cannot turn into CommonJS (top-level await, ...): the module throws when it loads. The type
    // checker, run beside, usually reports the same line first.
    const first = (error as { errors?: { text?: unknown; location?: { line?: unknown } | null }[] }).errors?.[0];
    const line = typeof first?.location?.line === 'number' ? first.location.line : 1;
    const message = JSON.stringify(`${typeof first?.text === 'string' ? first.text : 'this module cannot be compiled'} (line ${line})`);
    output = { code: `throw new SyntaxError(${message});`, map: '{"version":3,"sources":[],"names":[],"mappings":""}' };
  }
  // esbuild turns every import, export-from and import() into require("<literal>"); a computed specifier is refused at run time.
  const requires = [...output.code.matchAll(/\brequire\("((?:[^"\\\n]|\\.)*)"\)/g)].map((m) => JSON.parse(`"${m[1] ?? ''}"`) as string);
  const entry = { text, code: output.code, trace: new TraceMap(output.map), requires };
  transforms.set(file, entry);
  return entry;
}

/** A file policy code may import: TypeScript source outside node_modules, on disk. */
function isPolicySource(file: string): boolean {
  return /\.(?:ts|tsx|mts|cts)$/.test(file) && !file.includes(`${path.sep}node_modules${path.sep}`) && fs.existsSync(file) && fs.statSync(file).isFile();
}

let dslBundle: string | undefined;
/** The DSL as one CommonJS source, evaluated inside the policy context (so its objects are of that realm). */
function bundledDsl(): string {
  if (dslBundle === undefined) {
    const built = buildSync({
      entryPoints: [compiledFile('dsl/index.js')],
      bundle: true,
      format: 'cjs',
      platform: 'neutral',
      write: false,
      logLevel: 'silent',
    });
    dslBundle = built.outputFiles[0]?.text ?? '';
  }
  return dslBundle;
}

/** Node's permission model: `--permission` from Node 22, `--experimental-permission` on Node 20. */
function permissionFlags(script: string): string[] {
  const flags = process.allowedNodeEnvironmentFlags;
  const flag = flags.has('--permission') ? '--permission' : flags.has('--experimental-permission') ? '--experimental-permission' : undefined;
  return flag === undefined ? [] : [flag, `--allow-fs-read=${script}`];
}

interface PolicyModule {
  readonly file: string;
  readonly code: string;
  readonly trace: TraceMap;
  readonly links: Record<string, number | 'policyc'>;
}

/** The entry and every policy file its literal imports reach, entry first. */
function resolveModules(entry: string, store: SourceStore): PolicyModule[] {
  const modules: PolicyModule[] = [];
  const indexOf = new Map<string, number>();
  const add = (file: string): number => {
    const known = indexOf.get(file);
    if (known !== undefined) return known;
    const index = modules.length;
    indexOf.set(file, index);
    const stripped = stripTypes(file, store.read(file) ?? '');
    const links: Record<string, number | 'policyc'> = {};
    modules.push({ file, code: stripped.code, trace: stripped.trace, links });
    for (const specifier of stripped.requires) {
      if (specifier === 'policyc') links[specifier] = 'policyc';
      else if (specifier.startsWith('./') || specifier.startsWith('../')) {
        // The checker's rules (`./x`, `./x.js` and `./x.ts` all name x.ts); what does not resolve fails in the
        // sandbox's loader as a forbidden import, after the checker has said why.
        const resolved = resolvePolicyImport(file, specifier, (candidate) => indexOf.has(candidate) || isPolicySource(candidate));
        if (resolved !== undefined && 'file' in resolved) links[specifier] = add(resolved.file);
      }
    }
    return index;
  };
  add(entry);
  return modules;
}

/**
 * Runs the entry and what it imports. Only relative imports of TypeScript policy files and 'policyc' load; the
 * type checker (run beside evaluation) checks the same files.
 */
export function evaluate(entry: string, store: SourceStore, options: EvaluateOptions): EvaluateResult {
  const modules = resolveModules(entry, store);
  const { files, locate, moduleStart, spanOfStack } = locating(entry, store, modules);
  const fail = (d: Diagnostic): EvaluateResult => ({ diagnostics: [d], locate, files });

  const script = compiledFile('compiler/evaluator/child.js');
  const request: EvaluatorRequest = {
    dsl: bundledDsl(),
    modules: modules.map((m, index) => ({ name: moduleName(index), code: m.code, links: m.links })),
    timeoutMs: options.timeoutMs,
    limits: ENCODE_LIMITS,
  };
  const child = spawnSync(process.execPath, evaluatorArguments(script), {
    env: {},
    input: JSON.stringify(request),
    timeout: options.timeoutMs + KILL_GRACE_MS,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_ANSWER_BYTES,
    windowsHide: true,
  });
  const stderr = child.stderr?.toString('utf8') ?? '';
  const progress = [...stderr.matchAll(new RegExp(`^${PROGRESS_PREFIX}(\\d+)$`, 'gm'))].map((m) => Number(m[1]));
  const current = progress[progress.length - 1] ?? 0;
  const errorCode = (child.error as NodeJS.ErrnoException | undefined)?.code;
  if (errorCode === 'ENOBUFS') return fail(tooLargeAnswer(store.spanOf(entry, 0, 0)));
  if (errorCode === 'ETIMEDOUT') return fail(timedOut(options, store, modules, current, moduleStart));
  if (/heap out of memory|Reached heap limit|Allocation failed/.test(stderr)) return fail(outOfMemory(store, modules, current, moduleStart));
  const answer = parseAnswer(child.stdout?.toString('utf8') ?? '');
  if (answer === undefined || child.status !== 0)
    return fail(crashed(child.signal ?? `exit ${child.status ?? 'unknown'}`, store, modules, current, moduleStart));
  if ('timeout' in answer) return fail(timedOut(options, store, modules, current, moduleStart));
  if ('error' in answer) return fail(diagnosticOfError(answer.error, spanOfStack, moduleStart));
  return { exported: answer.ok, diagnostics: [], locate, files };
}

function evaluatorArguments(script: string, ...extra: string[]): string[] {
  return [...permissionFlags(script), '--no-warnings', `--max-old-space-size=${EVALUATOR_HEAP_MB}`, script, ...extra];
}

function where(store: SourceStore, modules: readonly PolicyModule[], current: number): string {
  return store.relative(modules[current]?.file ?? modules[0]?.file ?? '');
}

function timedOut(
  options: EvaluateOptions,
  store: SourceStore,
  modules: readonly PolicyModule[],
  current: number,
  moduleStart: (index: number) => Span,
): Diagnostic {
  return diagnostic(
    'evaluation-timeout',
    `Policy evaluation did not finish within ${options.timeoutMs} ms (while evaluating ${where(store, modules, current)}): look for an endless loop, a looping getter or a promise chain in policy code.`,
    moduleStart(current),
  );
}

function tooLargeAnswer(span: Span): Diagnostic {
  return diagnostic(
    'policy-too-large',
    `The policy's export is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MB when written out: it cannot be a policy.`,
    span,
  );
}

function outOfMemory(store: SourceStore, modules: readonly PolicyModule[], current: number, moduleStart: (index: number) => Span): Diagnostic {
  return diagnostic(
    'evaluation-memory',
    `Policy evaluation used more than ${EVALUATOR_HEAP_MB} MB of memory (while evaluating ${where(store, modules, current)}): look for an endless or huge data structure in policy code.`,
    moduleStart(current),
  );
}

function crashed(how: string, store: SourceStore, modules: readonly PolicyModule[], current: number, moduleStart: (index: number) => Span): Diagnostic {
  return diagnostic(
    'evaluation-crashed',
    `The policy evaluator stopped without an answer (${how}) while evaluating ${where(store, modules, current)}: policy code exhausted its stack or memory, or cannot run in policyc's evaluator.`,
    moduleStart(current),
  );
}

/** Maps the evaluator's synthetic module names and stack frames back to the user's TypeScript. */
function locating(entry: string, store: SourceStore, modules: readonly PolicyModule[]) {
  const files = new Set(modules.map((m) => m.file));

  const moduleOf = (file: unknown): PolicyModule | undefined => {
    const match = typeof file === 'string' ? MODULE_NAME.exec(file) : null;
    return match === null ? undefined : modules[Number(match[1])];
  };
  const locateIn = (module: PolicyModule, line: number, column: number): SourceLocation => {
    const original = originalPositionFor(module.trace, { line, column: column - 1 });
    const originalLine = original.line ?? line;
    const originalColumn = original.column === null ? column : original.column + 1;
    return store.locationAt(module.file, originalLine, originalColumn);
  };
  const locate = (site: unknown): SourceLocation | undefined => {
    if (typeof site !== 'object' || site === null) return undefined;
    const { file, line, column } = site as Partial<Record<keyof DeclarationSite, unknown>>;
    const module = moduleOf(file);
    if (module === undefined || !isPosition(line) || !isPosition(column)) return undefined;
    return locateIn(module, line, column);
  };
  const moduleStart = (index: number): Span => store.spanOf(modules[index]?.file ?? entry, 0, 0);
  const spanOfStack = (stack: string): Span | undefined => {
    for (const match of stack.matchAll(/\(?(policyc-module-\d+):(\d+):(\d+)\)?/g)) {
      const location = locate({ file: match[1], line: Number(match[2]), column: Number(match[3]) });
      if (location !== undefined) return store.spanOfLocation(location);
    }
    return undefined;
  };
  return { files, locate, moduleStart, spanOfStack };
}

function isPosition(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

/** The evaluator's answer, decoded; undefined when it is not one (the evaluator is treated as untrusted too). */
function parseAnswer(text: string): { ok: unknown } | { error: EvaluatorError } | { timeout: true } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  if (record['timeout'] === true) return { timeout: true };
  const error = record['error'];
  if (typeof error === 'object' && error !== null) {
    const e = error as Record<string, unknown>;
    const str = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 20000) : '');
    const kinds = ['threw', 'forbidden-import', 'nondeterministic', 'too-large'] as const;
    const kind = kinds.find((k) => k === e['kind']) ?? 'threw';
    const module = typeof e['module'] === 'number' && Number.isInteger(e['module']) ? e['module'] : 0;
    return { error: { kind, name: str(e['name']).slice(0, 200), message: str(e['message']).slice(0, 2000), stack: str(e['stack']), module } };
  }
  const ok = record['ok'];
  if (typeof ok !== 'object' || ok === null) return undefined;
  const decoded = decodeGraph(ok as Record<string, unknown>);
  return decoded === undefined ? undefined : { ok: decoded.value };
}

/**
 * Rebuilds the encoded export (see EvaluatorResponse): plain arrays and objects, shared where the policy shared
 * them. The parsed nodes are the decoded objects: only their references and opaque items are replaced, in
 * place. JSON.parse defines keys, so `__proto__` is an own key and assigning to it again sets only that key.
 * Undefined when malformed.
 */
function decodeGraph(encoded: Record<string, unknown>): { value: unknown } | undefined {
  const nodes = encoded['nodes'];
  if (!Array.isArray(nodes)) return undefined;
  const count = nodes.length;
  for (let index = 0; index < count; index++) {
    const node: unknown = nodes[index];
    if (typeof node !== 'object' || node === null) return undefined;
  }
  const item = (value: object): unknown =>
    decodedItem(value, (reference) => (Number.isInteger(reference) && reference >= 0 ? (nodes[reference] as unknown) : undefined));
  try {
    for (let index = 0; index < count; index++) decodeChildren(nodes[index] as unknown[] | Record<string, unknown>, item);
    const root = encoded['value'];
    return { value: typeof root === 'object' && root !== null ? item(root) : root };
  } catch {
    return undefined;
  }
}

/**
 * An encoded item that is an object: a reference `{ "$": n }`, resolved by `target` (undefined: a dangling
 * reference, thrown), or an opaque `{ "?": "function" }`.
 */
function decodedItem(value: object, target: (reference: number) => unknown): unknown {
  const record = value as Record<string, unknown>;
  const reference = record['$'];
  if (typeof reference === 'number') {
    const resolved = target(reference);
    if (resolved === undefined) throw new RangeError('dangling reference');
    return resolved;
  }
  return new OpaqueValue(typeof record['?'] === 'string' ? record['?'].slice(0, 40) : 'a value');
}

/** Replaces, in place, each item of a decoded node that is an object (a reference or an opaque value) by what it stands for. */
function decodeChildren(node: unknown[] | Record<string, unknown>, item: (value: object) => unknown): void {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const element: unknown = node[i];
      if (typeof element === 'object' && element !== null) node[i] = item(element);
    }
    return;
  }
  for (const key of Object.keys(node)) {
    const property = node[key];
    if (typeof property === 'object' && property !== null) node[key] = item(property);
  }
}

function diagnosticOfError(error: EvaluatorError, spanOfStack: (stack: string) => Span | undefined, moduleStart: (index: number) => Span): Diagnostic {
  const span = spanOfStack(error.stack) ?? moduleStart(error.module);
  switch (error.kind) {
    case 'forbidden-import':
      return diagnostic('forbidden-import', error.message, span);
    case 'nondeterministic':
      return diagnostic('nondeterministic-api', error.message, span);
    case 'too-large':
      return diagnostic(
        'policy-too-large',
        `The policy's export cannot be read: ${error.message}. Export mesh({...}) built from plain declarations.`,
        moduleStart(0),
      );
    case 'threw':
      return diagnostic('policy-threw', `Policy code threw ${error.name}: ${error.message}`, span);
  }
}

/**
 * An evaluator kept alive across builds (watch mode): after an edit it re-runs only the changed modules and
 * those that import them (transitively), and answers only the exported objects it has not sent before; the
 * decoded objects of earlier answers are kept here and patched. Whatever the session cannot vouch for (an
 * error, a timeout, an object that changed after its module loaded, a new global, a proxy, a limit) is
 * evaluated cold by `evaluate` instead, so diagnostics and the export are always a cold evaluation's; a policy
 * whose modules change each other's exported data turns the session off. `close()` stops the process.
 */
export class EvaluatorSession {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  /** Code last sent per module index: unchanged code is not sent again. */
  private sentCode: string[] = [];
  private dslSent = false;
  private readonly decoded = new Map<number, unknown[] | Record<string, unknown>>();
  private off = false;
  /** How the last evaluation ran (tests and benchmarks): `cold`, `fresh` (the session's first run) or `incremental`. */
  lastRun: 'cold' | 'fresh' | 'incremental' = 'cold';
  /** Number of objects decoded by the last evaluation. */
  lastDecoded = 0;
  /** Number of modules the last evaluation ran. */
  lastRan = 0;

  private connection(): MessagePort {
    if (this.port === undefined) {
      const channel = new MessageChannel();
      const script = compiledFile('compiler/evaluator/child.js');
      this.worker = new Worker(compiledFile('compiler/evaluator/session-worker.js'), {
        workerData: {
          port: channel.port2,
          signal: this.flag.buffer,
          command: process.execPath,
          args: evaluatorArguments(script, '--session'),
          maxAnswerBytes: MAX_ANSWER_BYTES,
        },
        transferList: [channel.port2],
      });
      this.worker.unref();
      this.port = channel.port1;
      this.port.unref();
    }
    return this.port;
  }

  private ask(request: SessionWorkerRequest): SessionWorkerReply | null {
    const port = this.connection();
    Atomics.store(this.flag, 0, 0);
    port.postMessage(request);
    for (;;) {
      Atomics.wait(this.flag, 0, 0, 50);
      const message = receiveMessageOnPort(port);
      if (message !== undefined) return message.message as SessionWorkerReply | null;
    }
  }

  /** Forgets everything the evaluator process held (it is restarted on the next run). */
  private reset(): void {
    this.sentCode = [];
    this.dslSent = false;
    this.decoded.clear();
  }

  evaluate(entry: string, store: SourceStore, options: EvaluateOptions): EvaluateResult {
    const cold = (): EvaluateResult => {
      this.lastRun = 'cold';
      this.lastDecoded = 0;
      this.lastRan = 0;
      return evaluate(entry, store, options);
    };
    if (this.off) return cold();
    const modules = resolveModules(entry, store);
    const { files, locate, moduleStart } = locating(entry, store, modules);
    const request: SessionRequest = {
      ...(this.dslSent ? {} : { dsl: bundledDsl() }),
      modules: modules.map((m, index) => ({ name: moduleName(index), ...(this.sentCode[index] === m.code ? {} : { code: m.code }), links: m.links })),
      timeoutMs: options.timeoutMs,
      limits: ENCODE_LIMITS,
    };
    const reply = this.ask({ kind: 'run', line: JSON.stringify(request), killAfterMs: options.timeoutMs + KILL_GRACE_MS });
    if (reply === null || 'stopped' in reply) {
      // The process is gone: a timeout is reported as a cold evaluation would; anything else is evaluated cold.
      this.reset();
      if (reply !== null && reply.killed) return { diagnostics: [timedOut(options, store, modules, reply.progress, moduleStart)], locate, files };
      return cold();
    }
    this.dslSent = true;
    this.sentCode = modules.map((m) => m.code);
    let answer: unknown;
    try {
      answer = JSON.parse(reply.line);
    } catch {
      answer = undefined;
    }
    const ok = typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>)['ok'] : undefined;
    if (typeof ok !== 'object' || ok === null) {
      if (typeof answer === 'object' && answer !== null && 'timeout' in answer) {
        return { diagnostics: [timedOut(options, store, modules, reply.progress, moduleStart)], locate, files };
      }
      if (typeof answer === 'object' && answer !== null && 'fallback' in answer) this.off = true;
      return cold();
    }
    const { value, nodes, fresh, ran, dropped } = ok as { value?: unknown; nodes?: unknown; fresh?: unknown; ran?: unknown; dropped?: unknown };
    if (fresh === true) this.decoded.clear();
    if (Array.isArray(dropped) && Array.isArray(nodes)) {
      // An id sent again keeps its object here, so what still refers to it stays shared as in a cold decode.
      const sentAgain = new Set(nodes.map((pair: unknown) => (Array.isArray(pair) ? pair[0] : undefined)));
      for (const sid of dropped) if (!sentAgain.has(sid)) this.decoded.delete(sid as number);
    }
    const patched = Array.isArray(nodes) ? this.patch(nodes, value) : undefined;
    if (patched === undefined) {
      this.reset();
      this.close();
      return cold();
    }
    this.lastRun = fresh === true ? 'fresh' : 'incremental';
    this.lastDecoded = (nodes as unknown[]).length;
    this.lastRan = typeof ran === 'number' ? ran : 0;
    return { exported: patched.value, diagnostics: [], locate, files };
  }

  /**
   * Applies [id, node] pairs to the kept objects (decodeGraph's rules); undefined when malformed. A node of an id
   * not kept yet is itself the decoded object (as in decodeGraph); a kept one is patched in place, so what
   * still refers to it stays shared as in a cold decode.
   */
  private patch(nodes: readonly unknown[], root: unknown): { value: unknown } | undefined {
    const { decoded } = this;
    const item = (value: object): unknown => decodedItem(value, (reference) => decoded.get(reference));
    try {
      const patched: (unknown[] | Record<string, unknown>)[] = [];
      /** Kept objects and their new nodes, by position in `patched`. */
      const kept: { readonly at: number; readonly target: unknown[] | Record<string, unknown>; readonly node: unknown[] | Record<string, unknown> }[] = [];
      for (const pair of nodes) {
        if (!Array.isArray(pair) || typeof pair[0] !== 'number' || typeof pair[1] !== 'object' || pair[1] === null) throw new RangeError('malformed node');
        const sid = pair[0];
        const node = pair[1] as unknown[] | Record<string, unknown>;
        const known = decoded.get(sid);
        if (known === undefined || Array.isArray(known) !== Array.isArray(node)) decoded.set(sid, node);
        else kept.push({ at: patched.length, target: known, node });
        patched.push(node);
      }
      // Kept objects take their new content first (references are resolved below, on the node or on the kept object).
      for (const { at, target, node } of kept) {
        if (Array.isArray(target)) {
          target.length = 0;
          for (const element of node as unknown[]) target.push(element);
        } else {
          for (const key of Object.keys(target)) delete target[key];
          const entries = node as Record<string, unknown>;
          for (const key of Object.keys(entries)) {
            Object.defineProperty(target, key, { value: entries[key], enumerable: true, writable: true, configurable: true });
          }
        }
        patched[at] = target;
      }
      for (const target of patched) decodeChildren(target, item);
      return { value: typeof root === 'object' && root !== null ? item(root) : root };
    } catch {
      return undefined;
    }
  }

  close(): void {
    const port = this.port;
    if (port === undefined) return;
    try {
      this.ask({ kind: 'close' });
    } finally {
      void this.worker?.terminate();
      port.close();
      this.port = undefined;
      this.worker = undefined;
      this.reset();
    }
  }
}
