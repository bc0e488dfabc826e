/**
 * `policyc lsp`: policyc's own diagnostics in the editor. On every open, change and close the server runs the
 * same compile pipeline as `policyc check` (type-check, evaluate, validate, compile for the targets) with the
 * editor's unsaved buffers in place of the files on disk, and publishes every diagnostic at its span. The
 * TypeScript language service keeps doing completions and hovers; this server adds what only policyc knows
 * (duplicates, overlapping selectors, fail-open shapes, shadowed rules) and offers a quick fix where the fix
 * is obvious: a rule that names a port its destination lacks gets "add the port to `ports`".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compile, compileIncrementally, type CompileResult } from '../compiler/compile';
import { EmitMemo } from '../compiler/emit-memo';
import { fingerprint } from '../compiler/splice';
import { PolicyTypeChecker } from '../compiler/typecheck';
import { hasErrors, lineAndColumn, offsetOf, sortDiagnostics, type Diagnostic, type Span } from '../diagnostics/diagnostic';
import type { Target } from '../model/target';
import type { JsonValue, Message } from './jsonrpc';
import { frame } from './jsonrpc';

export interface ServerIo {
  /** Writes framed bytes to the client. */
  readonly send: (text: string) => void;
  /** A line for the server's log (stderr): never the protocol stream. */
  readonly log: (text: string) => void;
  readonly exit: (code: number) => void;
}

export interface ServerOptions {
  readonly targets: readonly Target[];
  /** The entry file's name looked for above an opened file when no entry is configured. */
  readonly defaultEntry: string;
  /** Quiet time after an edit before checking, so a burst of keystrokes is checked once. */
  readonly debounceMs: number;
}

// Type aliases, not interfaces: they must be assignable to JsonValue.
type Position = {
  readonly line: number;
  readonly character: number;
};
type Range = {
  readonly start: Position;
  readonly end: Position;
};
interface LspDiagnostic {
  readonly range: Range;
  /** 1 error, 2 warning, 4 hint (an acknowledged warning: still visible, never a squiggle). */
  readonly severity: 1 | 2 | 4;
  readonly code: string;
  readonly source: 'policyc';
  readonly message: string;
  readonly relatedInformation?: readonly { readonly location: { readonly uri: string; readonly range: Range }; readonly message: string }[];
}

// LSP error codes (JSON-RPC's and the protocol's).
const METHOD_NOT_FOUND = -32601;
const SERVER_NOT_INITIALIZED = -32002;

/** The text of a range of a text, by LSP positions (0-based line, UTF-16 character). */
function offsetAt(text: string, position: Position): number {
  return offsetOf(text, position.line + 1, position.character + 1);
}

function positionAt(text: string, offset: number): Position {
  const { line, column } = lineAndColumn(text, offset);
  return { line: line - 1, character: column - 1 };
}

function rangeOfSpan(span: Span, text: string): Range {
  return { start: positionAt(text, span.start), end: positionAt(text, span.start + span.length) };
}

const asRecord = (value: JsonValue | undefined): Readonly<Record<string, JsonValue | undefined>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, JsonValue | undefined>) : {};
const asString = (value: JsonValue | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

export class PolicyLanguageServer {
  /** Unsaved texts of the open documents, by absolute path. */
  private readonly open = new Map<string, string>();
  /** The URI the client used for each path, echoed back in notifications. */
  private readonly uris = new Map<string, string>();
  /**
   * Per entry: its type checker, the files of its last program, the diagnostics it last published, and the targets'
   * last outputs (an edit recompiles only the namespaces it reaches, as in watch mode: compiler/splice.ts).
   */
  private readonly entries = new Map<
    string,
    { checker: PolicyTypeChecker; files: readonly string[]; published: Map<string, readonly LspDiagnostic[]>; readonly memo: EmitMemo }
  >();
  private configuredEntries: readonly string[] = [];
  private root: string | undefined;
  private initialized = false;
  private shutdownRequested = false;
  /** Files changed since the last check, and entries not checked yet. */
  private readonly changed = new Set<string>();
  private readonly unchecked = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Called after each round of checks with its duration (benchmarks, tests). */
  onChecked: ((ms: number) => void) | undefined;

  constructor(
    private readonly io: ServerIo,
    private readonly options: ServerOptions,
  ) {}

  receive(message: Message): void {
    const { method, id } = message;
    if (method === undefined) return; // a response to a request we never send
    const isRequest = id !== undefined && id !== null;
    try {
      if (!this.initialized && method !== 'initialize' && method !== 'exit') {
        if (isRequest) this.reply(id, undefined, { code: SERVER_NOT_INITIALIZED, message: 'initialize first' });
        return;
      }
      const result = this.handle(method, message.params);
      if (isRequest) {
        if (result === METHOD_NOT_FOUND) this.reply(id, undefined, { code: METHOD_NOT_FOUND, message: `policyc lsp does not handle ${method}` });
        else this.reply(id, result ?? null);
      }
    } catch (error) {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.io.log(`policyc lsp: ${method} failed: ${text}`);
      if (isRequest) this.reply(id, undefined, { code: -32603, message: text });
    }
  }

  /** The reply's result, undefined for notifications, or METHOD_NOT_FOUND. */
  private handle(method: string, params: JsonValue | undefined): JsonValue | undefined | typeof METHOD_NOT_FOUND {
    const p = asRecord(params);
    switch (method) {
      case 'initialize':
        return this.initialize(p);
      case 'initialized':
        return undefined;
      case 'shutdown':
        this.shutdownRequested = true;
        this.close();
        return null;
      case 'exit':
        this.close();
        this.io.exit(this.shutdownRequested ? 0 : 1);
        return undefined;
      case 'textDocument/didOpen': {
        const document = asRecord(p['textDocument']);
        const file = this.fileOf(asString(document['uri']));
        const text = asString(document['text']);
        if (file !== undefined && text !== undefined) this.edited(file, text);
        return undefined;
      }
      case 'textDocument/didChange': {
        const file = this.fileOf(asString(asRecord(p['textDocument'])['uri']));
        const changes = p['contentChanges'];
        // Full-document sync (declared in initialize): the last change holds the whole text.
        const last = Array.isArray(changes) ? asRecord(changes[changes.length - 1]) : {};
        const text = asString(last['text']);
        if (file !== undefined && text !== undefined) this.edited(file, text);
        return undefined;
      }
      case 'textDocument/didClose': {
        const file = this.fileOf(asString(asRecord(p['textDocument'])['uri']));
        if (file !== undefined && this.open.delete(file)) this.markChanged(file);
        return undefined;
      }
      case 'textDocument/didSave':
        return undefined; // the buffer is already what was checked
      case 'workspace/didChangeWatchedFiles': {
        const changes = Array.isArray(p['changes']) ? p['changes'] : [];
        for (const change of changes) {
          const file = this.fileOf(asString(asRecord(change)['uri']));
          if (file !== undefined && !this.open.has(file)) this.markChanged(file);
        }
        return undefined;
      }
      case 'textDocument/codeAction':
        return this.codeActions(p);
      default:
        return method.startsWith('$/') ? undefined : METHOD_NOT_FOUND;
    }
  }

  private initialize(p: Readonly<Record<string, JsonValue | undefined>>): JsonValue {
    this.initialized = true;
    const folders = Array.isArray(p['workspaceFolders']) ? p['workspaceFolders'] : [];
    const rootUri = asString(p['rootUri']) ?? asString(asRecord(folders[0])['uri']);
    this.root = this.fileOf(rootUri);
    const configured = asRecord(p['initializationOptions'])['entry'];
    const entries = typeof configured === 'string' ? [configured] : Array.isArray(configured) ? configured.filter((e) => typeof e === 'string') : [];
    this.configuredEntries = entries.map((e) => path.resolve(this.root ?? process.cwd(), e));
    for (const entry of this.configuredEntries) this.unchecked.add(entry);
    if (this.configuredEntries.length > 0) this.schedule();
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: 1, save: { includeText: false } },
        codeActionProvider: { codeActionKinds: ['quickfix'] },
      },
      serverInfo: { name: 'policyc' },
    };
  }

  private fileOf(uri: string | undefined): string | undefined {
    if (uri === undefined || !uri.startsWith('file:')) return undefined;
    const file = fileURLToPath(uri);
    if (!this.uris.has(file)) this.uris.set(file, uri);
    return file;
  }

  private uriOf(file: string): string {
    return this.uris.get(file) ?? pathToFileURL(file).href;
  }

  private edited(file: string, text: string): void {
    if (this.open.get(file) === text) return;
    this.open.set(file, text);
    this.markChanged(file);
  }

  private markChanged(file: string): void {
    this.changed.add(file);
    if (!/\.(?:ts|tsx|mts|cts)$/.test(file)) return;
    const entry = this.entryFor(file);
    if (entry !== undefined && !this.entries.has(entry)) this.unchecked.add(entry);
    this.schedule();
  }

  /**
   * The entry whose program holds a file: one already checked that includes it; the file itself when it
   * declares the mesh; a configured entry; else the default entry file in its folder or a folder above it,
   * up to the workspace root.
   */
  private entryFor(file: string): string | undefined {
    for (const [entry, state] of this.entries) if (entry === file || state.files.includes(file)) return entry;
    const text = this.open.get(file);
    if (text !== undefined && /export\s+default\s+mesh\s*\(/.test(text)) return file;
    if (this.configuredEntries.length > 0) return this.configuredEntries[0];
    const stop = this.root ?? path.parse(file).root;
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, this.options.defaultEntry);
      if (this.open.has(candidate) || fs.existsSync(candidate)) return candidate;
      if (dir === stop || path.dirname(dir) === dir || !dir.startsWith(stop)) return undefined;
    }
  }

  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.checkNow();
    }, this.options.debounceMs);
  }

  /** Checks every entry a change affects, and publishes what changed. */
  checkNow(): void {
    const started = performance.now();
    const changed = [...this.changed];
    this.changed.clear();
    const due = new Set(this.unchecked);
    this.unchecked.clear();
    for (const [entry, state] of this.entries) if (changed.some((f) => f === entry || state.files.includes(f))) due.add(entry);
    for (const entry of due) this.checkEntry(entry, changed);
    if (due.size > 0) this.onChecked?.(performance.now() - started);
  }

  private checkEntry(entry: string, changed: readonly string[]): void {
    let state = this.entries.get(entry);
    const first = state === undefined;
    if (state === undefined) {
      state = { checker: new PolicyTypeChecker(), files: [], published: new Map(), memo: new EmitMemo() };
      this.entries.set(entry, state);
    }
    let result: CompileResult;
    try {
      // The targets' own checks run below, on the model: rendering YAML and validating it against the CRDs
      // (which finds only policyc bugs) is most of a build's time and tells the editor nothing.
      // After the first check of the whole program, type errors are those of the open and changed files (as in
      // TypeScript's own editor support): re-checking every file after each keystroke is most of the latency.
      const typecheckOnly = first ? undefined : [...new Set([...this.open.keys(), ...changed])];
      result = compile({
        entry,
        targets: [],
        checker: state.checker,
        changedFiles: changed,
        overlay: this.open,
        // The model is built, validated and fingerprinted again only for what the edit changed (compiler/model-memo.ts).
        memo: state.memo,
        ...(typecheckOnly === undefined ? {} : { typecheckOnly }),
      });
    } catch (error) {
      this.io.log(`policyc lsp: checking ${entry} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      state.checker.close();
      this.entries.delete(entry);
      return;
    }
    state.files = result.files.includes(entry) ? result.files : [entry, ...result.files];
    const byFile = new Map<string, LspDiagnostic[]>(state.files.map((f) => [f, []]));
    for (const d of sortDiagnostics([...result.diagnostics, ...this.targetDiagnostics(result, state.memo)])) {
      const file = d.span?.file ?? entry;
      const list = byFile.get(file) ?? [];
      list.push(this.toLsp(d, result));
      byFile.set(file, list);
    }
    const previous = state.published;
    state.published = byFile;
    const files = new Set([...previous.keys(), ...byFile.keys()]);
    for (const file of files) this.publish(file);
  }

  /** What the targets report for a valid model (what `policyc check --target` adds to the model's checks). */
  private targetDiagnostics(result: CompileResult, memo: EmitMemo): Diagnostic[] {
    const { model } = result;
    if (model === undefined || hasErrors(result.diagnostics) || this.options.targets.length === 0) return [];
    const spanOf = (location: Parameters<CompileResult['store']['spanOfLocation']>[0]) => result.store.spanOfLocation(location);
    const modelFingerprint = fingerprint(model, memo.model.fingerprint);
    return this.options.targets.flatMap((target) => [...compileIncrementally(target, model, modelFingerprint, memo, spanOf).diagnostics]);
  }

  /** Publishes a file's diagnostics from every entry whose program holds it. */
  private publish(file: string): void {
    const diagnostics = [...this.entries.values()].flatMap((state) => state.published.get(file) ?? []);
    this.notify('textDocument/publishDiagnostics', { uri: this.uriOf(file), diagnostics: diagnostics as unknown as JsonValue });
  }

  private toLsp(d: Diagnostic, result: CompileResult): LspDiagnostic {
    const read = (file: string): string => result.store.read(file) ?? '';
    const range = d.span === undefined ? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } : rangeOfSpan(d.span, read(d.span.file));
    const related = (d.related ?? []).flatMap((r) =>
      r.span === undefined ? [] : [{ location: { uri: this.uriOf(r.span.file), range: rangeOfSpan(r.span, read(r.span.file)) }, message: r.message }],
    );
    return {
      range,
      severity: d.severity === 'error' ? 1 : d.acknowledged === undefined ? 2 : 4,
      code: d.code,
      source: 'policyc',
      message: d.acknowledged === undefined ? d.message : `Acknowledged (${d.acknowledged}): ${d.message}`,
      ...(related.length === 0 ? {} : { relatedInformation: related }),
    };
  }

  private textOf(file: string): string | undefined {
    const open = this.open.get(file);
    if (open !== undefined) return open;
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Quick fixes for the diagnostics the client sends back. */
  private codeActions(p: Readonly<Record<string, JsonValue | undefined>>): JsonValue {
    const file = this.fileOf(asString(asRecord(p['textDocument'])['uri']));
    const diagnostics = asRecord(p['context'])['diagnostics'];
    if (file === undefined || !Array.isArray(diagnostics)) return [];
    const text = this.textOf(file);
    if (text === undefined) return [];
    const actions: JsonValue[] = [];
    for (const value of diagnostics) {
      const d = asRecord(value);
      const range = asRecord(d['range']);
      const start = asRecord(range['start']);
      if (typeof start['line'] !== 'number' || typeof start['character'] !== 'number') continue;
      const offset = offsetAt(text, { line: start['line'], character: start['character'] });
      const port = missingPortName(asString(d['message']) ?? '', text, offset);
      if (port === undefined) continue;
      const fix = this.addPortFix(file, text, offset, port);
      if (fix !== undefined) actions.push({ ...fix, kind: 'quickfix', diagnostics: [value ?? null], isPreferred: true });
    }
    return actions;
  }

  /** "Add port 'name' to the destination's ports": the destination is the `.to(x` before the port name. */
  private addPortFix(file: string, text: string, offset: number, port: string): { title: string; edit: JsonValue } | undefined {
    const destination = [...text.slice(0, offset).matchAll(/\.to\(\s*([A-Za-z_$][\w$]*)/g)].pop()?.[1];
    if (destination === undefined) return undefined;
    const entry = this.entryFor(file);
    const candidates = [file, ...(entry === undefined ? [] : (this.entries.get(entry)?.files ?? []))];
    for (const candidate of candidates) {
      const source = this.textOf(candidate);
      if (source === undefined) continue;
      const insertion = portInsertion(source, destination, port);
      if (insertion === undefined) continue;
      const at = positionAt(source, insertion.offset);
      return {
        title: `Add port '${port}' to the ports of '${destination}'`,
        edit: { changes: { [this.uriOf(candidate)]: [{ range: { start: at, end: at }, newText: insertion.text }] } },
      };
    }
    return undefined;
  }

  private notify(method: string, params: JsonValue): void {
    this.io.send(frame({ jsonrpc: '2.0', method, params }));
  }

  private reply(id: number | string, result: JsonValue | undefined, error?: { code: number; message: string }): void {
    this.io.send(frame({ jsonrpc: '2.0', id, ...(error === undefined ? { result: result ?? null } : { error }) }));
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const state of this.entries.values()) state.checker.close();
    this.entries.clear();
  }
}

/**
 * The port name a diagnostic says is missing: policyc's PC3009, or TypeScript's error for a port name that
 * is not one of the destination's (a string literal inside `ports: [...]`).
 */
export function missingPortName(message: string, text: string, offset: number): string | undefined {
  const fromPolicyc = /has no port named '([^']+)'/.exec(message)?.[1];
  if (fromPolicyc !== undefined) return fromPolicyc;
  const literal = /^Type '"([a-z0-9-]+)"' is not assignable to type/.exec(message)?.[1];
  if (literal === undefined) return undefined;
  // Only inside a `ports: [` list that is still open at the offset.
  const before = text.slice(Math.max(0, offset - 400), offset);
  const list = before.lastIndexOf('ports:');
  return list !== -1 && /^ports:\s*\[[^\]]*$/.test(before.slice(list)) ? literal : undefined;
}

/**
 * Where and what to insert into `const <variable> = service(..., { ports: { ... } })` to declare a port:
 * the next free number after the highest one there, protocol http (the user adjusts both).
 */
export function portInsertion(source: string, variable: string, port: string): { offset: number; text: string } | undefined {
  const declaration = new RegExp(`\\bconst\\s+${variable.replace(/\$/g, '\\$')}\\s*=\\s*service\\s*\\(`).exec(source);
  if (declaration === null) return undefined;
  const ports = /\bports\s*:\s*\{/g;
  ports.lastIndex = declaration.index;
  const opening = ports.exec(source);
  if (opening === null) return undefined;
  const open = opening.index + opening[0].length - 1;
  let depth = 0;
  let close = -1;
  for (let i = open; i < source.length; i++) {
    if (source[i] === '{') depth++;
    else if (source[i] === '}' && --depth === 0) {
      close = i;
      break;
    }
  }
  if (close === -1) return undefined;
  const body = source.slice(open + 1, close);
  const numbers = [...body.matchAll(/\bport\s*:\s*(\d+)/g)].map((m) => Number(m[1]));
  const number = numbers.length === 0 ? 8080 : Math.max(...numbers) + 1;
  const key = /^[A-Za-z_$][\w$]*$/.test(port) ? port : `'${port}'`;
  const trimmed = body.trimEnd();
  const needsComma = trimmed !== '' && !trimmed.endsWith(',');
  return { offset: open + 1 + trimmed.length, text: `${needsComma ? ',' : ''} ${key}: { port: ${number}, protocol: 'http' }${trimmed === '' ? ' ' : ''}` };
}
