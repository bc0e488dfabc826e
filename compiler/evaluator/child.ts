/**
 * The evaluator process: runs untrusted policy code and prints what it exported, as JSON, on stdout.
 *
 * Started by compiler/evaluate.ts with an empty environment, Node's permission model (it may read only this
 * file: no other reads, no writes, no child processes, no workers) and a heap cap. It reads one JSON request
 * on stdin: the DSL bundled into one CommonJS source, and each policy module as type-stripped JavaScript with
 * the modules its literal `require`s resolve to. Nothing else of the compiler is here, on purpose: this file
 * imports only Node built-ins, and nothing from the rest of the package is readable.
 *
 * Policy code runs in a fresh `node:vm` context made from a null-prototype object (so the global's
 * `constructor` chain stays in the context's realm), with code generation from strings and WebAssembly off.
 * The DSL and the module loader run inside that context too, so no object of this process's realm is ever
 * handed to policy code. Before any policy code runs, `prepareSandbox` freezes every intrinsic reachable from
 * the global object and the DSL's exports, and locks every global binding; what comes out is encoded inside the
 * context by `prepareSandbox`'s own code into a JSON string, the only value that crosses back.
 *
 * Progress (which module is being evaluated) goes to stderr as `policyc-progress <index>` lines, so the parent
 * can place a timeout or a heap exhaustion even when this process is killed.
 */
import * as fs from 'node:fs';
import * as vm from 'node:vm';
import { types } from 'node:util';

/** The request compiler/evaluate.ts writes on stdin. */
export interface EvaluatorRequest {
  /** The DSL (dist/dsl) bundled into one CommonJS module. */
  readonly dsl: string;
  /** Index 0 is the entry. `name` is the module's file name in stack traces (`policyc-module-<index>`). */
  readonly modules: readonly { readonly name: string; readonly code: string; readonly links: Readonly<Record<string, number | 'policyc'>> }[];
  /** Bound on running policy code, in milliseconds (the parent kills this process a little later). */
  readonly timeoutMs: number;
  readonly limits: EncodeLimits;
}

/** Bounds on the encoded export, so a huge or endless structure is an error instead of an exhausted heap. */
export interface EncodeLimits {
  readonly maxDepth: number;
  readonly maxNodes: number;
  readonly maxChars: number;
}

/**
 * What this process prints on stdout. `value` is the encoded default export: an item is a JSON primitive, a
 * reference `{ "$": n }` to `nodes[n]`, or an opaque `{ "?": "function" }` for what JSON cannot carry; a node is
 * a JSON array of items (an array) or a JSON object of items by key (an object), so the compiler's JSON.parse
 * makes the decoded objects themselves and decoding only replaces the references. Shared and cyclic structures
 * stay shared, so a policy cannot make the encoding blow up.
 */
export type EvaluatorResponse =
  { readonly ok: { readonly value: unknown; readonly nodes: readonly unknown[] } } | { readonly error: EvaluatorError } | { readonly timeout: true };

export interface EvaluatorError {
  /** `threw`: policy code threw; the others were raised by the sandbox. */
  readonly kind: 'threw' | 'forbidden-import' | 'nondeterministic' | 'too-large';
  readonly name: string;
  readonly message: string;
  /** Stack text, when the thrown value had one; frames of policy modules read `policyc-module-<index>:line:column`. */
  readonly stack: string;
  /** The innermost module being evaluated when the error passed through the loader. */
  readonly module: number;
}

export const PROGRESS_PREFIX = 'policyc-progress ';

/**
 * One line on stdin of an evaluator started with `--session` (watch mode). `code` is left out when this
 * module index had the same code in the previous request; `dsl` is sent once.
 */
export interface SessionRequest {
  readonly dsl?: string;
  readonly modules: readonly { readonly name: string; readonly code?: string; readonly links: Readonly<Record<string, number | 'policyc'>> }[];
  readonly timeoutMs: number;
  readonly limits: EncodeLimits;
}

/**
 * One line on stdout per request: an EvaluatorResponse whose `ok` holds `value` (an item, objects by stable
 * id) and `nodes`, the [id, node] pairs the host has not been sent yet (all of them when `fresh`), the ids it may forget (`dropped`, applied before `nodes`) and how many modules
 * `ran`; or
 * `{ "fallback": true }`: the host must evaluate cold (and may drop the session).
 */
export type SessionResponse =
  | {
      readonly ok: {
        readonly value: unknown;
        readonly nodes: readonly [number, unknown][];
        readonly dropped: readonly number[];
        readonly fresh: boolean;
        readonly ran: number;
      };
    }
  | { readonly error: EvaluatorError }
  | { readonly timeout: true }
  | { readonly fallback: true };

/** Host functions a session sandbox calls (captured by prepareSandbox, never reachable by policy code). */
interface SessionHooks {
  /** The module exports a function of its own: it is re-run on every later run. */
  markVolatile(module: number): void;
  isProxy(value: unknown): boolean;
}

/**
 * Runs inside the policy context (its source text is evaluated there; it must not refer to anything outside
 * its own body). Freezes the realm, installs the loader, and defines the one-shot `__policycStart`, which
 * evaluates the entry and returns the JSON response. Everything it uses is captured before policy code runs.
 */
function prepareSandbox(
  dslExports: object,
  factories: readonly Function[],
  linksJson: string,
  report: (module: number) => void,
  limitsJson: string,
  session?: SessionHooks,
): void {
  'use strict';
  const G = globalThis as unknown as Record<string, unknown>;
  const { freeze, getOwnPropertyNames, getOwnPropertyDescriptor, getPrototypeOf, defineProperty, keys: objectKeys, hasOwn, create } = Object;
  const { ownKeys, apply } = Reflect;
  const isArray = Array.isArray;
  const { stringify, parse } = JSON;
  const numberIsFinite = Number.isFinite;
  const RealError = Error;
  const RealMap = Map;
  const push = Array.prototype.push;
  const pop = Array.prototype.pop;
  const stringSlice = String.prototype.slice;
  let links = parse(linksJson) as readonly Record<string, number | 'policyc'>[];
  const limits = parse(limitsJson) as EncodeLimits;

  const sandboxError = (name: string, message: string): Error => {
    const error = new RealError(message);
    // Defined, not assigned: Error.prototype is frozen, and assigning over a frozen property fails.
    defineProperty(error, 'name', { value: name, writable: true, enumerable: false, configurable: true });
    return error;
  };

  // Determinism: no clock, no randomness (PC2005).
  const refuse = (what: string) =>
    function refused(): never {
      throw sandboxError('PolicycNondeterminism', `${what} is not available in policy code: builds must be deterministic`);
    };
  const RealDate = Date;
  const PolicyDate = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      if (args.length === 0) refuse('new Date()')();
      return Reflect.construct(target, args, newTarget) as object;
    },
    apply() {
      return refuse('Date()')();
    },
  });
  defineProperty(RealDate, 'now', { value: refuse('Date.now()') });
  defineProperty(RealDate.prototype, 'constructor', { value: PolicyDate });
  defineProperty(Math, 'random', { value: refuse('Math.random()') });
  G['Date'] = PolicyDate;
  // Not ECMAScript's business in a policy: observable GC, shared memory, the V8 inspector's console, locales
  // (which read the clock and the host's settings), WebAssembly.
  for (const name of ['WeakRef', 'FinalizationRegistry', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'console', 'Intl']) delete G[name];
  // Stack text is formatted here, once and for all: policy code never sees a call site (or a frame of this
  // process's own code), and only frames of policy modules are listed, as `at policyc-module-<n>:line:column`,
  // which the compiler reads for error locations (the DSL reads declaration sites through its own reader, siteReaderOf). Cheaper than V8's format.
  const stringOf = String;
  const prepareStackTrace = (error: unknown, frames: readonly NodeJS.CallSite[]): string => {
    let stack = '';
    // A plain object (Error.captureStackTrace on one): its first policy frame is enough.
    const holder = typeof error === 'object' && error !== null && getPrototypeOf(error) === Object.prototype;
    if (!holder && typeof error === 'object' && error !== null) {
      const record = error as Record<string, unknown>;
      const name = record['name'];
      const message = record['message'];
      stack = `${typeof name === 'string' ? name : 'Error'}${typeof message === 'string' && message !== '' ? `: ${message}` : ''}`;
    } else stack = 'Error';
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as NodeJS.CallSite;
      const file: unknown = frame.getFileName();
      if (typeof file === 'string' && apply(stringSlice, file, [0, 15]) === 'policyc-module-') {
        stack += `\n    at ${file}:${stringOf(frame.getLineNumber())}:${stringOf(frame.getColumnNumber())}`;
        if (holder) break;
      }
    }
    return stack;
  };
  defineProperty(RealError, 'prepareStackTrace', { value: prepareStackTrace, writable: false, enumerable: false, configurable: false });

  // Freeze every object reachable from the intrinsics and the DSL: nothing policy code does can change them.
  const hidden = [
    getPrototypeOf(function* () {}),
    getPrototypeOf(async function () {}),
    getPrototypeOf(async function* () {}),
    getPrototypeOf([][Symbol.iterator]()),
    getPrototypeOf(new Map()[Symbol.iterator]()),
    getPrototypeOf(new Set()[Symbol.iterator]()),
    getPrototypeOf(''[Symbol.iterator]()),
    getPrototypeOf('a'.matchAll(/a/g)),
    getPrototypeOf(G),
  ];
  const pending: unknown[] = [dslExports, ...hidden];
  for (const name of getOwnPropertyNames(G)) if (name !== 'globalThis') pending.push(G[name]);
  const frozen = new WeakSet<object>();
  while (pending.length > 0) {
    const value = pending.pop();
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || frozen.has(value)) continue;
    frozen.add(value);
    freeze(value);
    pending.push(getPrototypeOf(value));
    for (const key of ownKeys(value)) {
      const descriptor = getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined) continue;
      pending.push(descriptor.value, descriptor.get, descriptor.set);
    }
  }

  // The loader: module 0 is the entry; only links the compiler resolved ahead of time load.
  const cache: ({ exports: unknown } | undefined)[] = [];
  const active: number[] = [];
  let failedModule = -1;
  const load = (index: number): unknown => {
    const cached = cache[index];
    if (cached !== undefined) return cached.exports;
    const module = { exports: {} as unknown };
    cache[index] = module;
    apply(push, active, [index]);
    report(index);
    try {
      apply(factories[index] as Function, module.exports, [module.exports, requireFrom(index), module]);
      if (session !== undefined) record(index, module.exports);
    } catch (error) {
      if (failedModule === -1) failedModule = index;
      throw error;
    } finally {
      apply(pop, active, []);
      if (active.length > 0) report(active[active.length - 1] as number);
    }
    return module.exports;
  };
  const requireFrom = (index: number) =>
    function require(specifier: unknown): unknown {
      const moduleLinks = links[index] as Record<string, number | 'policyc'>;
      const target = typeof specifier === 'string' && hasOwn(moduleLinks, specifier) ? moduleLinks[specifier] : undefined;
      if (target === 'policyc') return dslExports;
      if (typeof target === 'number') return load(target);
      const shown = typeof specifier === 'string' ? apply(stringSlice, specifier, [0, 200]) : `a ${typeof specifier}`;
      throw sandboxError(
        'PolicycForbiddenImport',
        `Policy code may import only 'policyc' and other policy files, by a literal relative path, not '${shown}': evaluation is hermetic (no file system, network, environment or clock). Move what you need into a policy file or declare it with the policyc builders.`,
      );
    };

  // The encoder: reads the export once, depth-first, each object once.
  const TOO_LARGE = { too: 'large' };
  let tooLargeMessage = '';
  const tooLarge = (message: string): never => {
    tooLargeMessage = message;
    throw TOO_LARGE;
  };
  // Every intrinsic is frozen by now, so the encoder calls Map and Array methods directly.
  const encode = (root: unknown) => {
    const nodes: unknown[] = [];
    const ids = new RealMap<object, number>();
    let chars = 0;
    const item = (value: unknown, depth: number): unknown => {
      switch (typeof value) {
        case 'string':
          chars += value.length;
          if (chars > limits.maxChars) tooLarge(`its strings hold more than ${limits.maxChars} characters`);
          return value;
        case 'number':
          return numberIsFinite(value) ? value : { '?': `number ${value}` };
        case 'boolean':
          return value;
        case 'object':
          if (value === null) return null;
          break;
        default:
          return { '?': typeof value };
      }
      const known = ids.get(value);
      if (known !== undefined) return { $: known };
      if (depth >= limits.maxDepth) tooLarge(`it nests objects more than ${limits.maxDepth} levels deep`);
      const id = nodes.length;
      if (id >= limits.maxNodes) tooLarge(`it holds more than ${limits.maxNodes} objects and arrays`);
      ids.set(value, id);
      nodes.push(null);
      if (isArray(value)) {
        const length: unknown = (value as { length: unknown }).length;
        if (typeof length !== 'number' || !(length >= 0) || length > limits.maxNodes) tooLarge(`an array has more than ${limits.maxNodes} elements`);
        const items: unknown[] = [];
        for (let i = 0; i < (length as number); i++) items.push(item((value as unknown[])[i], depth + 1));
        nodes[id] = items;
      } else {
        // Without a prototype, assigning '__proto__' makes an own key like any other (no inherited setter runs);
        // assigning is several times cheaper than defining, and the encoder is a large part of evaluation.
        const entries = create(null) as Record<string, unknown>;
        const names = objectKeys(value as object);
        if (names.length > limits.maxNodes) tooLarge(`an object has more than ${limits.maxNodes} properties`);
        for (let i = 0; i < names.length; i++) {
          const key = names[i] as string;
          chars += key.length;
          const property = (value as Record<string, unknown>)[key];
          if (property !== undefined) entries[key] = item(property, depth + 1);
        }
        nodes[id] = entries;
      }
      return { $: id };
    };
    const value = item(root, 0);
    return { value, nodes };
  };

  const text = (read: () => unknown, limit: number): string => {
    try {
      const value = read();
      return typeof value === 'string' ? (apply(stringSlice, value, [0, limit]) as string) : '';
    } catch {
      return '';
    }
  };
  const describe = (error: unknown): EvaluatorError => {
    const module = failedModule === -1 ? 0 : failedModule;
    if (error === TOO_LARGE) return { kind: 'too-large', name: 'PolicycTooLarge', message: tooLargeMessage, stack: '', module };
    if ((typeof error !== 'object' && typeof error !== 'function') || error === null) {
      const shown = typeof error === 'string' ? (apply(stringSlice, error, [0, 2000]) as string) : typeof error;
      return { kind: 'threw', name: typeof error, message: shown, stack: '', module };
    }
    const record = error as Record<string, unknown>;
    const name = text(() => record['name'], 200) || 'a value';
    const kind = name === 'PolicycForbiddenImport' ? 'forbidden-import' : name === 'PolicycNondeterminism' ? 'nondeterministic' : 'threw';
    return { kind, name, message: text(() => record['message'], 2000), stack: text(() => record['stack'], 20000), module };
  };

  // Watch sessions (see SessionHooks): each object reachable from a module's exports is recorded when the
  // module finishes loading: a stable id, its own keys and values as read then, and its encoded node. A later
  // run re-runs only the modules the host marks dirty; the others keep their exports, which is exact only while
  // every recorded object still has those keys and values (the same values, by identity). So every run
  // compares them again, and any difference, a new global, a proxy or an object that appeared after its
  // module loaded makes the host drop the session and evaluate cold.
  const FALLBACK = { fall: 'back' };
  interface Recorded {
    /** Its id; a new object that stands for a dropped one, exactly, takes the dropped one's (encodeSession). */
    sid: number;
    /** Own enumerable keys in Object.keys order; undefined for an array. */
    readonly keys: readonly string[] | undefined;
    readonly values: readonly unknown[];
    /** The characters the cold encoder counts for this node. */
    readonly chars: number;
    /** Whether the host has been sent this node (it keeps what it was sent). */
    sent: boolean;
  }
  // Maps, not weak ones: these hold every exported object anyway (recordedBy), and V8's weak tables of
  // hundreds of thousands of entries made each garbage collection several times slower.
  const recorded = new RealMap<object, Recorded>();
  // A Map too: an id is forgotten after a run that dropped its object without recording it again (startSession),
  // which the host sees exactly as before: that id was dropped and a later object gets a new one.
  const sids = new RealMap<object, number>();
  const recordedBy: object[][] = [];
  let nextSid = 0;
  const globalCount = ownKeys(G).length + 1; // + __policycStart, defined below
  const is = Object.is;
  const sidOf = (value: object): number => {
    let sid = sids.get(value);
    if (sid === undefined) {
      sid = nextSid++;
      sids.set(value, sid);
    }
    return sid;
  };
  // What the cold encoder writes for one value, with objects by stable id.
  let chars = 0;
  let onOwnFunction: (() => void) | undefined;
  const itemOf = (property: unknown): unknown => {
    switch (typeof property) {
      case 'string':
        chars += property.length;
        return property;
      case 'boolean':
        return property;
      case 'number':
        return numberIsFinite(property) ? property : { '?': `number ${property}` };
      case 'object':
        return property === null ? null : { $: sidOf(property) };
      case 'function':
        // Opaque to the encoder, but what a policy function closes over may change when it is called.
        if (!frozen.has(property)) onOwnFunction?.();
        return { '?': 'function' };
      default:
        return { '?': typeof property };
    }
  };
  // Reads an object once, as the cold encoder does (each own enumerable key, then its value).
  const snapshot = (value: object): Recorded => {
    const before = chars;
    const values: unknown[] = [];
    if (isArray(value)) {
      const length: unknown = (value as { length: unknown }).length;
      if (typeof length !== 'number' || !(length >= 0) || length > limits.maxNodes) throw FALLBACK;
      for (let i = 0; i < (length as number); i++) {
        const element = (value as unknown[])[i];
        values.push(element);
        itemOf(element);
      }
      return { sid: sidOf(value), keys: undefined, values, chars: chars - before, sent: false };
    }
    const keys = objectKeys(value);
    if (keys.length > limits.maxNodes) throw FALLBACK;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      chars += key.length;
      const property = (value as Record<string, unknown>)[key];
      values.push(property);
      itemOf(property);
    }
    return { sid: sidOf(value), keys, values, chars: chars - before, sent: false };
  };
  // The node as the cold encoder writes it (children by stable id), built from the record when it is sent.
  const nodeOf = (known: Recorded): unknown => {
    const { keys, values } = known;
    const counted = chars;
    try {
      if (keys === undefined) return values.map((element) => itemOf(element));
      const entries = create(null) as Record<string, unknown>;
      for (let i = 0; i < keys.length; i++) if (values[i] !== undefined) entries[keys[i] as string] = itemOf(values[i]);
      return entries;
    } finally {
      chars = counted;
    }
  };
  // Whether an object still has what was recorded, calling `visit` on each object value (cold encoder order).
  const unchanged = (value: object, known: Recorded, visit: (child: object) => void): boolean => {
    const { keys, values } = known;
    if (keys === undefined) {
      if (!isArray(value) || (value as unknown[]).length !== values.length) return false;
      for (let i = 0; i < values.length; i++) {
        const element = (value as unknown[])[i];
        if (!is(element, values[i])) return false;
        if (typeof element === 'object' && element !== null) visit(element);
      }
      return true;
    }
    if (isArray(value)) return false;
    const now = objectKeys(value);
    if (now.length !== keys.length) return false;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (now[i] !== key) return false;
      const property = (value as Record<string, unknown>)[key];
      if (!is(property, values[i])) return false;
      if (typeof property === 'object' && property !== null) visit(property);
    }
    return true;
  };
  // What the dirty modules of the running session run had recorded (by module, in record order), and for each
  // object recorded again by a module, the object at its place in that module's previous record: most often
  // the one it replaces (a module that runs again builds its objects in the same order).
  let droppedBy: (object[] | undefined)[] = [];
  let counterparts = new RealMap<object, object>();
  const record = (index: number, root: unknown): void => {
    if (session === undefined) return;
    const mine: object[] = [];
    recordedBy[index] = mine;
    const pendingObjects: object[] = [];
    onOwnFunction = () => session.markVolatile(index);
    try {
      itemOf(root);
      if (typeof root === 'object' && root !== null) pendingObjects.push(root);
      while (pendingObjects.length > 0) {
        const value = pendingObjects.pop() as object;
        if (recorded.has(value)) continue;
        if (session.isProxy(value)) throw FALLBACK;
        const known = snapshot(value);
        recorded.set(value, known);
        const before = droppedBy[index]?.[mine.length];
        if (before !== undefined) counterparts.set(value, before);
        mine.push(value);
        for (const child of known.values) if (typeof child === 'object' && child !== null && !recorded.has(child)) pendingObjects.push(child);
      }
    } finally {
      onOwnFunction = undefined;
    }
  };
  // The cold encoder's walk (same order and limits; past a limit the cold evaluation says why), checking each
  // object against its record and sending the host only nodes it has not been sent.
  // A module that runs again makes new objects, most of them equal to the ones they replace (in an importer of
  // the edited module, or in the edited module but for one line). A new object whose node (its keys, its
  // primitives and its children's ids) is that of the dropped object at its place in its module's previous
  // record (counterparts), which the host holds and which is gone from the sandbox, takes that one's id and is
  // not sent: the host keeps the object it decoded. Ids stay one per live object, so what the host holds is
  // shared exactly as a cold decode shares it. Not for an object whose id a node already carries (a cycle back
  // to it), nor for one the host knows under its own id.
  const sameNode = (now: Recorded, before: Recorded): boolean => {
    const { keys, values } = now;
    if ((keys === undefined) !== (before.keys === undefined) || values.length !== before.values.length) return false;
    for (let i = 0; i < values.length; i++) {
      if (keys !== undefined && keys[i] !== (before.keys as readonly string[])[i]) return false;
      const value = values[i];
      const previous = before.values[i];
      if (typeof value === 'object' && value !== null) {
        if (typeof previous !== 'object' || previous === null || sids.get(value) !== sids.get(previous)) return false;
      } else if (!is(value, previous)) return false;
    }
    return true;
  };
  const encodeSession = (
    root: unknown,
    retired: Map<object, Recorded>,
    firstNewSid: number,
  ): { value: unknown; nodes: [number, unknown][]; kept: Set<number> } => {
    const nodes: [number, unknown][] = [];
    const kept = new Set<number>();
    const seen = new Set<object>();
    const finished = new Set<object>();
    const pinned = new Set<object>();
    let count = 0;
    chars = 0;
    const visit = (value: object, depth: number): void => {
      if (seen.has(value)) {
        if (!finished.has(value)) pinned.add(value);
        return;
      }
      if (depth >= limits.maxDepth || ++count >= limits.maxNodes) throw FALLBACK;
      seen.add(value);
      const known = recorded.get(value);
      if (known === undefined || session?.isProxy(value) === true) throw FALLBACK;
      if (!unchanged(value, known, (child) => visit(child, depth + 1))) throw FALLBACK;
      finished.add(value);
      chars += known.chars;
      if (chars > limits.maxChars) throw FALLBACK;
      if (!known.sent) {
        known.sent = true;
        const counterpart = known.sid >= firstNewSid && !pinned.has(value) ? counterparts.get(value) : undefined;
        const before = counterpart === undefined || recorded.has(counterpart) ? undefined : retired.get(counterpart);
        if (counterpart !== undefined && before !== undefined && sameNode(known, before)) {
          retired.delete(counterpart);
          known.sid = before.sid;
          sids.set(value, before.sid);
          kept.add(before.sid);
        } else nodes.push([known.sid, nodeOf(known)]);
      }
    };
    const item = itemOf(root);
    if (typeof root === 'object' && root !== null) visit(root, 0);
    if (chars > limits.maxChars) throw FALLBACK;
    // What the export does not reach is compared too: an importer may have changed it for the next run.
    for (const mine of recordedBy) {
      for (const object of mine ?? []) {
        const known = recorded.get(object);
        if (!seen.has(object) && (known === undefined || !unchanged(object, known, () => undefined))) throw FALLBACK;
      }
    }
    if (ownKeys(G).length !== globalCount) throw FALLBACK;
    return { value: typeof root === 'object' && root !== null ? itemOf(root) : item, nodes, kept };
  };
  let running = false;
  const startSession = (runJson: string): string => {
    if (running) throw sandboxError('Error', 'policyc: evaluation has already started');
    running = true;
    try {
      const run = parse(runJson) as { links: Record<string, number | 'policyc'>[]; dirty: number[] };
      links = run.links;
      // What the dirty modules recorded goes: the host forgets those ids unless this run sends them again.
      const dropped: number[] = [];
      const droppedObjects: object[] = [];
      // Dropped nodes the host holds: what a new object may stand for (encodeSession).
      const retired = new RealMap<object, Recorded>();
      droppedBy = [];
      counterparts = new RealMap<object, object>();
      for (const index of run.dirty) {
        cache[index] = undefined;
        droppedBy[index] = recordedBy[index];
        for (const object of recordedBy[index] ?? []) {
          const known = recorded.get(object);
          dropped.push(sidOf(object));
          droppedObjects.push(object);
          if (known?.sent === true) retired.set(object, known);
          recorded.delete(object);
        }
        recordedBy[index] = [];
      }
      const firstNewSid = nextSid;
      failedModule = -1;
      const exports = load(0) as Record<string, unknown> | undefined;
      report(0);
      const exported = typeof exports === 'object' && exports !== null ? exports['default'] : undefined;
      const { value, nodes, kept } = encodeSession(exported, retired, firstNewSid);
      droppedBy = [];
      counterparts = new RealMap<object, object>();
      for (const object of droppedObjects) if (!recorded.has(object)) sids.delete(object);
      return stringify({ ok: { value, nodes, dropped: dropped.filter((sid) => !kept.has(sid)) } });
    } catch (error) {
      if (error === FALLBACK) return stringify({ fallback: true });
      try {
        return stringify({ error: describe(error) });
      } catch {
        return stringify({ error: { kind: 'threw', name: 'a value', message: '', stack: '', module: 0 } });
      }
    } finally {
      running = false;
    }
  };

  let started = false;
  const start = (runJson?: unknown): string => {
    if (session !== undefined) {
      if (typeof runJson !== 'string') throw sandboxError('Error', 'policyc: evaluation has already started');
      return startSession(runJson);
    }
    if (started) throw sandboxError('Error', 'policyc: evaluation has already started');
    started = true;
    try {
      const exports = load(0) as Record<string, unknown> | undefined;
      report(0);
      const exported = typeof exports === 'object' && exports !== null ? exports['default'] : undefined;
      return stringify({ ok: encode(exported) });
    } catch (error) {
      try {
        return stringify({ error: describe(error) });
      } catch {
        return stringify({ error: { kind: 'threw', name: 'a value', message: '', stack: '', module: 0 } });
      }
    }
  };
  defineProperty(G, '__policycStart', { value: start, writable: false, enumerable: false, configurable: false });
  // Lock every global binding: policy code cannot replace what the DSL and the loader look up by name.
  for (const name of getOwnPropertyNames(G)) {
    defineProperty(G, name, { value: G[name], writable: false, enumerable: false, configurable: false });
  }
}

function respond(response: EvaluatorResponse | string): never {
  const text = typeof response === 'string' ? response : JSON.stringify(response);
  // writeSync may write part of a large buffer: loop until the pipe took everything.
  const bytes = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < bytes.length;) offset += fs.writeSync(1, bytes, offset);
  process.exit(0);
}

function reportProgress(module: number): void {
  try {
    fs.writeSync(2, `${PROGRESS_PREFIX}${module | 0}\n`);
  } catch {
    // Progress is a hint for locating a timeout; a closed stderr must not fail the evaluation.
  }
}

function isTimeout(error: unknown): boolean {
  // V8 raises the timeout in whichever realm was running, so it is recognised by an own data property only:
  // reading one from an object that is not a proxy runs no code.
  if (typeof error !== 'object' || error === null || types.isProxy(error)) return false;
  return Object.getOwnPropertyDescriptor(error, 'code')?.value === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}

/**
 * Runs inside a realm of its own (its source text is evaluated there), made only to read declaration sites: the
 * DSL's bundle receives the function it returns as a parameter, which policy code cannot reach. Its
 * `Error.prepareStackTrace` keeps the first frame of a policy module as primitives and formats nothing; the
 * capture first asks V8 for one frame and, when that is not a policy module's, for as many as the policy
 * context's own `Error.stackTraceLimit` (what the frozen text formatter it replaces would have searched).
 * Only strings and numbers come out, so neither call sites nor this realm's objects reach the DSL's values.
 */
function siteReaderOf(searchLimit: number): { (builder: Function): string | undefined; line(): number; column(): number } {
  'use strict';
  const RealError = Error;
  const capture = RealError.captureStackTrace;
  let file: string | undefined;
  let line = 0;
  let column = 0;
  RealError.prepareStackTrace = (_holder: unknown, frames: readonly NodeJS.CallSite[]): string => {
    file = undefined;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as NodeJS.CallSite;
      const name: unknown = frame.getFileName();
      if (typeof name === 'string' && name.startsWith('policyc-module-')) {
        const frameLine: unknown = frame.getLineNumber();
        const frameColumn: unknown = frame.getColumnNumber();
        if (typeof frameLine === 'number' && typeof frameColumn === 'number') {
          file = name;
          line = frameLine;
          column = frameColumn;
        }
        break;
      }
    }
    return '';
  };
  const siteOf = (builder: Function): string | undefined => {
    RealError.stackTraceLimit = 1;
    const holder: { stack?: unknown } = {};
    capture(holder, builder);
    void holder.stack;
    if (file === undefined && searchLimit > 1) {
      RealError.stackTraceLimit = searchLimit;
      const again: { stack?: unknown } = {};
      capture(again, builder);
      void again.stack;
    }
    return file;
  };
  siteOf.line = (): number => line;
  siteOf.column = (): number => column;
  return siteOf;
}

/** The DSL bundle run in the policy context, handed the site reader; its exports. */
function loadDsl(context: vm.Context, source: string): object {
  const limit = vm.runInContext('Error.stackTraceLimit', context) as unknown;
  const realm = vm.createContext(Object.create(null) as object, { name: 'policyc sites', codeGeneration: { strings: false, wasm: false } });
  const siteOf = new vm.Script(`(${siteReaderOf.toString()})`, { filename: 'policyc-sites' }).runInContext(realm) as typeof siteReaderOf;
  const wrapper = new vm.Script(
    `(function (policycSiteOf) { 'use strict'; const module = { exports: {} }; const exports = module.exports;\n${source}\nreturn module.exports; })`,
    { filename: 'policyc-dsl' },
  ).runInContext(context) as (reader: ReturnType<typeof siteReaderOf>) => object;
  return wrapper(siteOf(typeof limit === 'number' ? limit : 10));
}

function main(): void {
  // A promise policy code rejected is not this process's business; never format it (its getters are policy code).
  process.on('unhandledRejection', () => undefined);
  const request = JSON.parse(fs.readFileSync(0, 'utf8')) as EvaluatorRequest;
  const context = vm.createContext(Object.create(null) as object, {
    name: 'policyc policy',
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: 'afterEvaluate',
  });
  const dsl = loadDsl(context, request.dsl);
  const factories = vm.runInContext('[]', context) as Function[];
  for (const [index, module] of request.modules.entries()) {
    try {
      // The wrapper is on its own line, so line numbers in stack traces are those of the stripped module.
      factories[index] = new vm.Script(`(function (exports, require, module) {\n${module.code}\n})`, { filename: module.name, lineOffset: -1 }).runInContext(
        context,
      ) as Function;
    } catch (error) {
      const message = error instanceof Error ? error.message : 'the module does not compile';
      respond({ error: { kind: 'threw', name: 'SyntaxError', message, stack: '', module: index } });
    }
  }
  const prepare = new vm.Script(`(${prepareSandbox.toString()})`, { filename: 'policyc-sandbox' }).runInContext(context) as typeof prepareSandbox;
  prepare(dsl, factories, JSON.stringify(request.modules.map((m) => m.links)), reportProgress, JSON.stringify(request.limits));
  let output: unknown;
  try {
    output = new vm.Script('__policycStart()', { filename: 'policyc-start' }).runInContext(context, { timeout: request.timeoutMs });
  } catch (error) {
    if (isTimeout(error)) respond({ timeout: true });
    // Anything else escaping the sandbox's own try/catch (a stack overflow while reporting): say so without reading it.
    respond({ error: { kind: 'threw', name: 'an exception', message: 'policy code failed while its error was being reported', stack: '', module: 0 } });
  }
  if (typeof output !== 'string') respond({ error: { kind: 'threw', name: 'an exception', message: 'no result', stack: '', module: 0 } });
  respond(output as string);
}

interface SessionModule {
  readonly code: string;
  readonly linksJson: string;
  readonly links: Readonly<Record<string, number | 'policyc'>>;
  volatile: boolean;
}

/**
 * `--session`: one request per stdin line, one answer per stdout line, the policy context kept between
 * them. Each run re-runs the modules whose code or links changed, the volatile ones and everything that
 * imports them; the others keep their exports. After an error or a fallback the next run starts from a fresh
 * context, exactly as a cold evaluation would.
 */
function serve(): void {
  process.on('unhandledRejection', () => undefined);
  let dslSource = '';
  const modules: SessionModule[] = [];
  let sandbox: { readonly context: vm.Context; readonly factories: Function[] } | undefined;
  /** V8's code cache per module index, for the code it was made from. */
  const codeCache: ({ readonly code: string; readonly data: Buffer } | undefined)[] = [];

  const freshSandbox = (request: SessionRequest) => {
    const context = vm.createContext(Object.create(null) as object, {
      name: 'policyc policy',
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
    });
    const dsl = loadDsl(context, dslSource);
    const factories = vm.runInContext('[]', context) as Function[];
    const prepare = new vm.Script(`(${prepareSandbox.toString()})`, { filename: 'policyc-sandbox' }).runInContext(context) as typeof prepareSandbox;
    const hooks: SessionHooks = {
      markVolatile: (index) => {
        const module = modules[index];
        if (module !== undefined) module.volatile = true;
      },
      isProxy: (value) => types.isProxy(value),
    };
    prepare(dsl, factories, '[]', reportProgress, JSON.stringify(request.limits), hooks);
    return { context, factories };
  };

  const answer = (request: SessionRequest): string => {
    if (request.dsl !== undefined) dslSource = request.dsl;
    const dirty = new Set<number>();
    request.modules.forEach((incoming, index) => {
      const previous = modules[index];
      const code = incoming.code ?? previous?.code ?? '';
      const linksJson = JSON.stringify(incoming.links);
      if (previous === undefined || previous.code !== code || previous.linksJson !== linksJson || previous.volatile) dirty.add(index);
      modules[index] = { code, linksJson, links: incoming.links, volatile: false };
    });
    modules.length = request.modules.length;
    const fresh = sandbox === undefined;
    if (fresh) for (let index = 0; index < modules.length; index++) dirty.add(index);
    // Everything that imports a dirty module (transitively) runs again.
    const importers = modules.map(() => [] as number[]);
    modules.forEach((module, index) => {
      for (const target of Object.values(module.links)) if (typeof target === 'number') importers[target]?.push(index);
    });
    const queue = [...dirty];
    while (queue.length > 0) {
      for (const importer of importers[queue.pop() as number] ?? []) {
        if (!dirty.has(importer)) {
          dirty.add(importer);
          queue.push(importer);
        }
      }
    }
    sandbox ??= freshSandbox(request);
    const { context, factories } = sandbox;
    const compiled: { readonly index: number; readonly script: vm.Script }[] = [];
    for (const index of dirty) {
      const module = modules[index] as SessionModule;
      try {
        // A module that re-runs with the code it had (an importer of the edited one) is compiled from V8's code
        // cache of its last run instead of parsed again.
        const cached = codeCache[index];
        const script = new vm.Script(`(function (exports, require, module) {\n${module.code}\n})`, {
          filename: `policyc-module-${index}`,
          lineOffset: -1,
          ...(cached?.code === module.code ? { cachedData: cached.data } : {}),
        });
        if (cached?.code !== module.code || script.cachedDataRejected === true) compiled.push({ index, script });
        factories[index] = script.runInContext(context) as Function;
      } catch (error) {
        sandbox = undefined;
        const message = error instanceof Error ? error.message : 'the module does not compile';
        return JSON.stringify({ error: { kind: 'threw', name: 'SyntaxError', message, stack: '', module: index } });
      }
    }
    const run = JSON.stringify({ links: modules.map((m) => m.links), dirty: [...dirty] });
    let output: unknown;
    try {
      output = new vm.Script(`__policycStart(${JSON.stringify(run)})`, { filename: 'policyc-start' }).runInContext(context, { timeout: request.timeoutMs });
    } catch (error) {
      sandbox = undefined;
      if (isTimeout(error)) return JSON.stringify({ timeout: true });
      return JSON.stringify({ fallback: true });
    }
    if (typeof output !== 'string' || !output.startsWith('{"ok":')) {
      // An error or a fallback: the modules that ran may have left state behind; start over next time.
      sandbox = undefined;
      return typeof output === 'string' ? output : JSON.stringify({ fallback: true });
    }
    // After the run, so the functions compiled lazily while it ran are in the cache too.
    for (const { index, script } of compiled) codeCache[index] = { code: (modules[index] as SessionModule).code, data: script.createCachedData() };
    codeCache.length = modules.length;
    return `{"ok":{"fresh":${fresh},"ran":${dirty.size},${output.slice('{"ok":{'.length)}`;
  };

  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let text: string;
      try {
        text = answer(JSON.parse(line) as SessionRequest);
      } catch {
        sandbox = undefined;
        text = JSON.stringify({ fallback: true });
      }
      const bytes = Buffer.from(`${text}\n`, 'utf8');
      for (let offset = 0; offset < bytes.length;) offset += fs.writeSync(1, bytes, offset);
    }
  });
}

// The compiler imports this file for its types and constants; only the evaluator process runs it.
if (require.main === module) {
  if (process.argv.includes('--session')) serve();
  else main();
}
