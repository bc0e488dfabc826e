/**
 * Validates emitted Kubernetes objects against real CustomResourceDefinitions, the way the API
 * server would on create:
 *
 *  - the structural OpenAPI v3 schema of the object's version (via ajv), with unknown fields as
 *    errors wherever the schema lists `properties` (and neither `additionalProperties` nor
 *    `x-kubernetes-preserve-unknown-fields`), `x-kubernetes-int-or-string`, `nullable`, and
 *    `required` fields that carry a `default` counted as present (the server defaults first);
 *  - `x-kubernetes-list-type: set|map` uniqueness;
 *  - `metadata` (name, namespace, labels, annotations), which the CRD schemas leave open;
 *  - every `x-kubernetes-validations` CEL rule (via @bufbuild/cel), with `self` bound to each
 *    instance of the rule's schema location, evaluated on the object as the server sees it after
 *    defaulting. Transition rules (those that use `oldSelf`) are update-only and skipped.
 *
 * Everything is compiled once per validator: CEL programs at load time (a rule that cannot be
 * compiled is recorded in `celRules` and reported on every object that reaches it), ajv
 * validators lazily, once per kind. The build precompiles each vendored CRD file
 * (compiler/crd-precompile.ts): its documents as JSON and its ajv validators as standalone code, under
 * `dist/compiler/crd-precompiled/<key>.js`, where the key hashes the CRD text and this compiler's own
 * code, so a precompiled file is used only for exactly the CRD and converter that made it; any other
 * file is parsed and compiled here, as before (about a second of every build otherwise).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
// ajv's compiler and the YAML parser are loaded only when a CRD file has no precompiled module (a build
// normally loads neither: the precompiled validators need only ajv's small runtime).
import type { Ajv, ErrorObject, SchemaObject, ValidateFunction } from 'ajv';
import { CelScalar, celEnv, celFunc, celMethod, isCelError, isCelMap, listType, mapType, parse as celParse, plan as celPlan } from '@bufbuild/cel';
import type { CelInput, CelMap, CelValue } from '@bufbuild/cel';
import { CRD_FORMATS } from './crd-formats';
import { compiledFile } from './package-files';

export interface CrdViolation {
  /** JSON pointer-ish location in the object, e.g. `/spec/rules/0/from`; `` for the object. */
  readonly path: string;
  readonly message: string;
  /** The CEL rule text when a CEL rule failed (or could not be evaluated). */
  readonly rule?: string;
}

/** One `x-kubernetes-validations` rule of a loaded CRD version. */
export interface CrdCelRule {
  /** `group/version/Kind`. */
  readonly kind: string;
  /** Schema location, e.g. `.spec.rules[].matches[].path`. */
  readonly location: string;
  readonly rule: string;
  /** True for transition rules (they use `oldSelf`): evaluated on update only, so skipped here. */
  readonly transition: boolean;
  /** Why the rule cannot be evaluated, when it cannot (parse error, unknown function). */
  readonly unevaluable?: string;
}

export interface CrdValidator {
  /** Kinds known, as `group/version/Kind` (e.g. `security.istio.io/v1/AuthorizationPolicy`). */
  readonly kinds: readonly string[];
  /** Every CEL rule of every loaded CRD version, compiled at load time. */
  readonly celRules: readonly CrdCelRule[];
  /**
   * Violations of the object's CRD (structural OpenAPI schema with unknown fields as errors, plus
   * every x-kubernetes-validations CEL rule). An object whose apiVersion/kind is not known gives
   * one violation saying so.
   */
  validate(object: { apiVersion: string; kind: string; [k: string]: unknown }): readonly CrdViolation[];
}

/** The `*.yaml` files under `dir` (recursively), sorted; [] when `dir` does not exist. */
export function listCrdFiles(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(p);
    }
  };
  visit(dir);
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// JSON helpers

type JsonObject = { readonly [k: string]: unknown };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

// ---------------------------------------------------------------------------------------------
// CEL environment: the standard library plus the parts of the Kubernetes URL library the CRDs use.

const URL_MARK = '@k8s.url';
const URL_TYPE = mapType(CelScalar.STRING, CelScalar.STRING);

function k8sUrl(s: string): Map<string, string> {
  // Kubernetes uses Go's url.ParseRequestURI: an absolute URI or an absolute path.
  if (s.startsWith('/')) {
    const u = new URL(s, 'http://placeholder.invalid');
    return new Map([
      [URL_MARK, s],
      ['scheme', ''],
      ['host', ''],
      ['hostname', ''],
      ['port', ''],
      ['path', u.pathname],
    ]);
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s);
  if (scheme === null) throw new Error(`URL parse error: ${s} is not an absolute URI or path`);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`URL parse error: ${s}`);
  }
  const hostname = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Map([
    [URL_MARK, s],
    ['scheme', (scheme[1] ?? '').toLowerCase()],
    ['host', u.host],
    ['hostname', hostname],
    ['port', u.port],
    ['path', u.pathname === '/' && !/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*\//.test(s) ? '' : u.pathname],
  ]);
}
function urlPart(m: CelMap, part: string): string {
  if (!m.has(URL_MARK)) throw new Error('not a URL');
  const v = m.get(part);
  return typeof v === 'string' ? v : '';
}

const K8S_FUNCS = [
  celFunc('url', [CelScalar.STRING], URL_TYPE, (s: string) => k8sUrl(s)),
  celFunc('isURL', [CelScalar.STRING], CelScalar.BOOL, (s: string) => {
    try {
      k8sUrl(s);
      return true;
    } catch {
      return false;
    }
  }),
  celMethod('getScheme', URL_TYPE, [], CelScalar.STRING, function (this: CelMap) {
    return urlPart(this, 'scheme');
  }),
  celMethod('getHost', URL_TYPE, [], CelScalar.STRING, function (this: CelMap) {
    return urlPart(this, 'host');
  }),
  celMethod('getHostname', URL_TYPE, [], CelScalar.STRING, function (this: CelMap) {
    return urlPart(this, 'hostname');
  }),
  celMethod('getPort', URL_TYPE, [], CelScalar.STRING, function (this: CelMap) {
    return urlPart(this, 'port');
  }),
  celMethod('getEscapedPath', URL_TYPE, [], CelScalar.STRING, function (this: CelMap) {
    return urlPart(this, 'path');
  }),
  celMethod('lowerAscii', CelScalar.STRING, [], CelScalar.STRING, function (this: string) {
    return this.replace(/[A-Z]/g, (c) => c.toLowerCase());
  }),
  celMethod('upperAscii', CelScalar.STRING, [], CelScalar.STRING, function (this: string) {
    return this.replace(/[a-z]/g, (c) => c.toUpperCase());
  }),
  celMethod('trim', CelScalar.STRING, [], CelScalar.STRING, function (this: string) {
    return this.trim();
  }),
  celMethod('split', CelScalar.STRING, [CelScalar.STRING], listType(CelScalar.STRING), function (this: string, sep: string) {
    return this.split(sep);
  }),
  // The standard `matches`, with each pattern compiled once: the library compiles it on every call, which was
  // most of the CEL time of a build (names and paths are matched against the same few CRD patterns).
  celMethod('matches', CelScalar.STRING, [CelScalar.STRING], CelScalar.BOOL, function (this: string, pattern: string) {
    return re2Of(pattern).test(this);
  }),
];

/** The RE2 engine @bufbuild/cel itself uses (its own dependency, resolved from it), so matching is unchanged. */
type Re2 = { compile(pattern: string): { test(input: string): boolean } };
let re2: Re2 | undefined;
const re2Patterns = new Map<string, { test(input: string): boolean }>();
function re2Of(pattern: string): { test(input: string): boolean } {
  let compiled = re2Patterns.get(pattern);
  if (compiled === undefined) {
    re2 ??= (require(require.resolve('@bufbuild/re2', { paths: [path.dirname(require.resolve('@bufbuild/cel'))] })) as { RE2JS: Re2 }).RE2JS;
    compiled = re2.compile(pattern);
    // Patterns come from the CRDs, a few dozen; the bound only guards against rules that build them from data.
    if (re2Patterns.size >= 1024) re2Patterns.clear();
    re2Patterns.set(pattern, compiled);
  }
  return compiled;
}

const CEL_ENV = celEnv({ variables: { self: CelScalar.DYN }, funcs: K8S_FUNCS });

/** Calls the planner handles itself (not looked up in the function registry). */
const CEL_SPECIAL_FORMS = new Set(['_&&_', '_||_', '_?_:_', '@not_strictly_false', '_[_]', '_[?_]', '_?._', '@in']);

type CelProgram = (ctx: { self: CelInput }) => unknown;

/** Function names called by a parsed expression (macros are already expanded by the parser). */
function calledFunctions(expr: unknown, out: Set<string>): void {
  if (Array.isArray(expr)) {
    for (const e of expr) calledFunctions(e, out);
    return;
  }
  if (!isObject(expr)) return;
  const kind = expr['exprKind'];
  if (isObject(kind) && kind['case'] === 'callExpr' && isObject(kind['value'])) {
    const fn = str(kind['value']['function']);
    if (fn !== undefined) out.add(fn);
  }
  for (const [k, v] of Object.entries(expr)) {
    if (k !== '$typeName' && typeof v === 'object' && v !== null) calledFunctions(v, out);
  }
}

const celCache = new Map<string, { program: CelProgram } | { error: string }>();

/** Compiles a CEL expression (once per distinct text), or says why it cannot be evaluated. */
function compileCel(source: string): { program: CelProgram } | { error: string } {
  let compiled = celCache.get(source);
  if (compiled === undefined) {
    compiled = compileCelUncached(source);
    celCache.set(source, compiled);
  }
  return compiled;
}

function compileCelUncached(source: string): { program: CelProgram } | { error: string } {
  try {
    const parsed = celParse(source);
    const fns = new Set<string>();
    calledFunctions(parsed.expr, fns);
    for (const fn of fns) {
      if (!CEL_SPECIAL_FORMS.has(fn) && CEL_ENV.funcs.find(fn) === undefined) return { error: `unknown function ${fn}()` };
    }
    const planned = celPlan(CEL_ENV, parsed);
    return { program: (ctx) => planned(ctx) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** Kubernetes' escaping of property names for CEL (apiserver/pkg/cel/escaping.go). */
const CEL_RESERVED = new Set([
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
]);
function celEscape(name: string): string | undefined {
  if (CEL_RESERVED.has(name)) return `__${name}__`;
  if (!/^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$/.test(name)) return undefined; // not accessible from CEL
  return name.replace(/__|[-./]/g, (m) => (m === '__' ? '__underscores__' : m === '.' ? '__dot__' : m === '-' ? '__dash__' : '__slash__'));
}

// ---------------------------------------------------------------------------------------------
// Compiled schema tree (for CEL, list types and defaulting)

interface CompiledRule {
  readonly info: CrdCelRule;
  readonly program: CelProgram | undefined;
  readonly message: string;
  readonly messageExpression: CelProgram | undefined;
  readonly fieldPath: string | undefined;
}

interface Prop {
  readonly name: string;
  readonly celName: string | undefined;
  readonly node: SchemaNode;
}

interface SchemaNode {
  readonly type: string | undefined;
  readonly intOrString: boolean;
  readonly properties: readonly Prop[] | undefined;
  readonly items: SchemaNode | undefined;
  readonly additional: SchemaNode | undefined;
  readonly hasDefault: boolean;
  readonly defaultValue: unknown;
  readonly rules: readonly CompiledRule[];
  readonly listType: string | undefined;
  readonly listMapKeys: readonly string[];
  /** This node or a descendant has rules or list-type checks. */
  readonly hasWork: boolean;
}

function compileNode(s: JsonObject, kind: string, location: string, sink: CrdCelRule[]): SchemaNode {
  let properties: Prop[] | undefined;
  const props = s['properties'];
  if (isObject(props)) {
    properties = [];
    for (const [name, ps] of Object.entries(props)) {
      if (!isObject(ps)) continue;
      properties.push({ name, celName: celEscape(name), node: compileNode(ps, kind, `${location}.${name}`, sink) });
    }
  }
  const itemsS = s['items'];
  const items = isObject(itemsS) ? compileNode(itemsS, kind, `${location}[]`, sink) : undefined;
  const addS = s['additionalProperties'];
  const additional = isObject(addS) ? compileNode(addS, kind, `${location}[*]`, sink) : undefined;

  const rules: CompiledRule[] = [];
  const xv = s['x-kubernetes-validations'];
  if (Array.isArray(xv)) {
    for (const r of xv) {
      if (!isObject(r)) continue;
      const rule = str(r['rule']) ?? '';
      const transition = /\boldSelf\b/.test(rule);
      const compiled = transition ? undefined : compileCel(rule);
      const unevaluable = compiled !== undefined && 'error' in compiled ? compiled.error : undefined;
      const me = str(r['messageExpression']);
      const meCompiled = me !== undefined && !transition ? compileCel(me) : undefined;
      const info: CrdCelRule = {
        kind,
        location: location === '' ? '.' : location,
        rule,
        transition,
        ...(unevaluable !== undefined
          ? { unevaluable }
          : meCompiled !== undefined && 'error' in meCompiled
            ? { unevaluable: `messageExpression: ${meCompiled.error}` }
            : {}),
      };
      sink.push(info);
      rules.push({
        info,
        program: compiled !== undefined && 'program' in compiled ? compiled.program : undefined,
        message: str(r['message']) ?? `failed rule: ${rule}`,
        messageExpression: meCompiled !== undefined && 'program' in meCompiled ? meCompiled.program : undefined,
        fieldPath: str(r['fieldPath']),
      });
    }
  }
  const listTypeV = str(s['x-kubernetes-list-type']);
  const keysV = s['x-kubernetes-list-map-keys'];
  const listMapKeys = Array.isArray(keysV) ? keysV.filter((k): k is string => typeof k === 'string') : [];
  const hasWork =
    rules.length > 0 ||
    listTypeV === 'set' ||
    listTypeV === 'map' ||
    (properties?.some((p) => p.node.hasWork) ?? false) ||
    (items?.hasWork ?? false) ||
    (additional?.hasWork ?? false);
  return {
    type: str(s['type']),
    intOrString: s['x-kubernetes-int-or-string'] === true,
    properties,
    items,
    additional,
    hasDefault: 'default' in s,
    defaultValue: s['default'],
    rules,
    listType: listTypeV,
    listMapKeys,
    hasWork,
  };
}

/**
 * A property as the API server sees it after defaulting: an absent one takes the schema's default, and so does
 * one set to undefined (absent from the JSON the server receives, and from the YAML policyc writes).
 */
function defaulted(v: JsonObject, p: Prop): unknown {
  const own = Object.prototype.hasOwnProperty.call(v, p.name) ? v[p.name] : undefined;
  return own !== undefined ? own : p.node.hasDefault ? p.node.defaultValue : undefined;
}

/** The object as CEL sees it after server-side defaulting: Maps, bigint ints, escaped names. */
function toCel(v: unknown, node: SchemaNode | undefined): CelInput {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (node !== undefined && node.type === 'number') return v;
    return Number.isInteger(v) ? BigInt(v) : v;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((e) => toCel(e, node?.items));
  if (isObject(v)) {
    const m = new Map<string, CelInput>();
    if (node?.properties !== undefined) {
      for (const p of node.properties) {
        if (p.celName === undefined) continue;
        const value = defaulted(v, p);
        if (value !== undefined) m.set(p.celName, toCel(value, p.node));
      }
      return m;
    }
    for (const [k, e] of Object.entries(v)) m.set(k, toCel(e, node?.additional));
    return m;
  }
  return null;
}

function celKeyOf(v: CelValue | CelInput | undefined): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Map || isCelMap(v)) {
    const entries = [...(v as ReadonlyMap<unknown, unknown>).entries()].map(([k, e]) => `${String(k)}:${celKeyOf(e as CelInput)}`);
    return `{${entries.sort().join(',')}}`;
  }
  if (Array.isArray(v)) return `[${v.map((e: CelInput) => celKeyOf(e)).join(',')}]`;
  return JSON.stringify(v) ?? 'undefined';
}

function fieldPathToPointer(fieldPath: string): string {
  let out = '';
  const re = /\.([^.[\]]+)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[(\d+)\]/g;
  for (let m = re.exec(fieldPath); m !== null; m = re.exec(fieldPath)) {
    out += `/${escapePointer(m[1] ?? m[2] ?? m[3] ?? m[4] ?? '')}`;
  }
  return out;
}

function runRules(node: SchemaNode, self: CelInput, pointer: string, out: CrdViolation[]): void {
  for (const r of node.rules) {
    if (r.info.transition) continue; // update-only, like the API server on create
    const rulePath = r.fieldPath !== undefined ? pointer + fieldPathToPointer(r.fieldPath) : pointer;
    if (r.program === undefined) {
      out.push({ path: rulePath, message: `CEL rule not evaluable: ${r.info.unevaluable ?? 'not compiled'}`, rule: r.info.rule });
      continue;
    }
    let result: unknown;
    try {
      result = r.program({ self });
    } catch (e) {
      result = e instanceof Error ? e : new Error(String(e));
    }
    if (result === true) continue;
    if (result === false) {
      let message = r.message;
      if (r.messageExpression !== undefined) {
        try {
          const m = r.messageExpression({ self });
          if (typeof m === 'string' && m.trim() !== '') message = m;
        } catch {
          // keep the static message, as the API server does
        }
      }
      out.push({ path: rulePath, message, rule: r.info.rule });
      continue;
    }
    if (isCelError(result) || result instanceof Error) {
      const msg = result.message;
      const unsupported = /unbound function|no matching overload|unsupported/i.test(msg);
      out.push({
        path: rulePath,
        message: unsupported ? `CEL rule not evaluable: ${msg}` : `CEL rule evaluation error: ${msg}`,
        rule: r.info.rule,
      });
      continue;
    }
    out.push({ path: rulePath, message: `CEL rule not evaluable: result is ${typeof result}, not bool`, rule: r.info.rule });
  }
}

/**
 * What a schema node's own checks found for one value, by the value's JSON text, with paths relative to the
 * node: the checks read only the value (CEL `self`, list items), so equal values give equal violations.
 * Emitted objects repeat most of their parts (paths, ports, parent references), so a build evaluates each
 * distinct part once. A node whose values rarely repeat stops remembering them (the JSON text would cost more
 * than it saves), and a full table is dropped, so the memory it holds stays bounded.
 */
class ValueMemo {
  private readonly seen = new Map<string, readonly CrdViolation[]>();
  private lookups = 0;
  private hits = 0;
  enabled = true;

  get(key: string): readonly CrdViolation[] | undefined {
    this.lookups++;
    const found = this.seen.get(key);
    if (found !== undefined) this.hits++;
    else if (this.lookups === MEMO_TRIAL && this.hits * 4 < this.lookups) {
      this.enabled = false;
      this.seen.clear();
    }
    return found;
  }

  set(key: string, violations: readonly CrdViolation[]): void {
    if (this.seen.size >= MEMO_SIZE) this.seen.clear();
    this.seen.set(key, violations);
  }
}
/** Lookups after which a node keeps its memo only if at least a quarter of them were hits. */
const MEMO_TRIAL = 256;
/** Values remembered per node at most. */
const MEMO_SIZE = 20_000;

let memos = new WeakMap<SchemaNode, ValueMemo>();

/** Drops every remembered value (a build calls it after each target's objects, so their memory is not held on). */
export function forgetCheckedValues(): void {
  memos = new WeakMap();
}

/**
 * Walks the object alongside the schema tree, as the API server would see it after defaulting (a property
 * absent or undefined takes the schema's default, as in `toCel`); a node with rules or a list type checks its
 * value's CEL view.
 */
function walk(node: SchemaNode, value: unknown, pointer: string, out: CrdViolation[]): void {
  if (!node.hasWork || value === null || value === undefined) return;
  if (node.rules.length === 0 && node.listType !== 'set' && node.listType !== 'map') {
    walkChildren(node, value, pointer, out);
    return;
  }
  let memo = memos.get(node);
  if (memo === undefined) memos.set(node, (memo = new ValueMemo()));
  if (!memo.enabled) {
    checkNode(node, value, pointer, out);
    walkChildren(node, value, pointer, out);
    return;
  }
  const key = JSON.stringify(value);
  let found = memo.get(key);
  if (found === undefined) {
    const relative: CrdViolation[] = [];
    checkNode(node, value, '', relative);
    walkChildren(node, value, '', relative);
    if (memo.enabled) memo.set(key, relative);
    found = relative;
  }
  for (const violation of found) out.push(pointer === '' ? violation : { ...violation, path: pointer + violation.path });
}

function walkChildren(node: SchemaNode, value: unknown, pointer: string, out: CrdViolation[]): void {
  if (Array.isArray(value)) {
    const items = node.items;
    if (items?.hasWork) value.forEach((e, i) => walk(items, e, `${pointer}/${i}`, out));
    return;
  }
  if (!isObject(value)) return;
  if (node.properties !== undefined) {
    for (const p of node.properties) {
      if (!p.node.hasWork || p.celName === undefined) continue;
      const e = defaulted(value, p);
      if (e !== undefined) walk(p.node, e, `${pointer}/${escapePointer(p.name)}`, out);
    }
  } else if (node.additional?.hasWork) {
    for (const [k, e] of Object.entries(value)) walk(node.additional, e, `${pointer}/${escapePointer(k)}`, out);
  }
}

/** A node's own checks on its value's CEL view: its CEL rules, and uniqueness for `set` and `map` lists. */
function checkNode(node: SchemaNode, value: unknown, pointer: string, out: CrdViolation[]): void {
  const v = toCel(value, node);
  if (v === null) return;
  runRules(node, v, pointer, out);
  if (!Array.isArray(v) || (node.listType !== 'set' && node.listType !== 'map')) return;
  const seen = new Map<string, number>();
  (v as readonly CelInput[]).forEach((e, i) => {
    let key: string;
    if (node.listType === 'map' && e instanceof Map) {
      key = celKeyOf(node.listMapKeys.map((k) => (e as Map<string, CelInput>).get(celEscape(k) ?? k) ?? null));
    } else key = celKeyOf(e);
    const first = seen.get(key);
    if (first !== undefined)
      out.push({
        path: `${pointer}/${i}`,
        message: `Duplicate value: same ${node.listType === 'map' ? `key (${node.listMapKeys.join(', ')})` : 'value'} as item ${first}`,
      });
    else seen.set(key, i);
  });
}

// ---------------------------------------------------------------------------------------------
// OpenAPI v3 (structural) -> ajv JSON schema

const PASS_THROUGH = [
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
] as const;
const KNOWN_FORMATS = new Set(['int32', 'int64', 'date-time', 'duration', 'byte', 'float', 'double']);

function toAjv(s: JsonObject, inJunctor: boolean): SchemaObject {
  const out: Record<string, unknown> = {};
  const nullable = s['nullable'] === true;
  let types: string[] | undefined;
  if (s['x-kubernetes-int-or-string'] === true) types = ['integer', 'string'];
  else if (typeof s['type'] === 'string') types = [s['type']];
  if (types !== undefined) {
    if (nullable) types.push('null');
    out['type'] = types.length === 1 ? types[0] : types;
  }
  const en = s['enum'];
  if (Array.isArray(en)) out['enum'] = nullable ? [...en, null] : en;
  for (const k of PASS_THROUGH) if (s[k] !== undefined) out[k] = s[k];
  // OpenAPI 3.0 boolean exclusiveMinimum/Maximum -> JSON Schema draft-07 numbers.
  if (s['exclusiveMinimum'] === true && typeof s['minimum'] === 'number') {
    out['exclusiveMinimum'] = s['minimum'];
    delete out['minimum'];
  }
  if (s['exclusiveMaximum'] === true && typeof s['maximum'] === 'number') {
    out['exclusiveMaximum'] = s['maximum'];
    delete out['maximum'];
  }
  const fmt = str(s['format']);
  if (fmt !== undefined && KNOWN_FORMATS.has(fmt)) out['format'] = fmt;
  const props = s['properties'];
  if (isObject(props)) {
    const converted: Record<string, SchemaObject> = {};
    for (const [k, ps] of Object.entries(props)) if (isObject(ps)) converted[k] = toAjv(ps, inJunctor);
    out['properties'] = converted;
  }
  const req = s['required'];
  if (Array.isArray(req)) {
    // The API server defaults before validating: a required field with a default is never missing.
    const required = req.filter((k): k is string => typeof k === 'string' && !(isObject(props) && isObject(props[k]) && 'default' in props[k]));
    if (required.length > 0) out['required'] = required;
  }
  const items = s['items'];
  if (isObject(items)) out['items'] = toAjv(items, inJunctor);
  const add = s['additionalProperties'];
  if (typeof add === 'boolean') out['additionalProperties'] = add;
  else if (isObject(add)) out['additionalProperties'] = toAjv(add, inJunctor);
  else if (isObject(props) && s['x-kubernetes-preserve-unknown-fields'] !== true && !inJunctor) out['additionalProperties'] = false;
  for (const j of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = s[j];
    if (Array.isArray(list)) out[j] = list.filter(isObject).map((b) => toAjv(b, true));
  }
  const not = s['not'];
  if (isObject(not)) out['not'] = toAjv(not, true);
  return out;
}

function rootAjvSchema(root: JsonObject): SchemaObject {
  const props = isObject(root['properties']) ? root['properties'] : {};
  // apiVersion, kind and metadata are implicit at the root of every CRD schema; metadata is
  // validated by validateMetadata.
  const withImplicit: JsonObject = {
    ...root,
    type: 'object',
    properties: { ...props, apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' } },
  };
  return toAjv(withImplicit, false);
}

/**
 * One ajv configuration for the runtime compile and the precompiled code; `standaloneFrom` (the folder the
 * generated module lives in) makes it keep the code's source and import the formats by relative path.
 */
function newAjv(standaloneFrom?: string): Ajv {
  const { Ajv, _ } = require('ajv') as typeof import('ajv');
  const formatsModule = standaloneFrom === undefined ? '' : path.relative(standaloneFrom, compiledFile('compiler/crd-formats.js')).split(path.sep).join('/');
  return new Ajv({
    allErrors: true,
    strict: false,
    unicodeRegExp: false,
    formats: CRD_FORMATS,
    ...(standaloneFrom === undefined
      ? {}
      : { code: { source: true, formats: _`require(${formatsModule.startsWith('.') ? formatsModule : `./${formatsModule}`}).CRD_FORMATS` } }),
  });
}

function ajvViolations(errors: readonly ErrorObject[]): CrdViolation[] {
  const out: CrdViolation[] = [];
  for (const e of errors) {
    // Errors inside oneOf/anyOf branches are summed up by the branch keyword's own error.
    if (/\/(?:oneOf|anyOf)\/\d+\//.test(e.schemaPath)) continue;
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      const field = String(params['additionalProperty']);
      out.push({ path: `${e.instancePath}/${escapePointer(field)}`, message: `unknown field "${field}"` });
    } else if (e.keyword === 'required') {
      const field = String(params['missingProperty']);
      out.push({ path: `${e.instancePath}/${escapePointer(field)}`, message: `Required value: must have required property "${field}"` });
    } else if (e.keyword === 'enum') {
      out.push({ path: e.instancePath, message: `${e.message ?? 'must be one of'}: ${JSON.stringify(params['allowedValues'])}` });
    } else {
      out.push({ path: e.instancePath, message: e.message ?? e.keyword });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// metadata

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) return `prefix "${prefix}" must be a DNS-1123 subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name))
    return `name part "${name}" must be 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  return undefined;
}

function validateMetadata(md: unknown, out: CrdViolation[]): void {
  if (!isObject(md)) {
    out.push({ path: '/metadata', message: md === undefined ? 'Required value: metadata is required' : 'metadata must be an object' });
    return;
  }
  const name = md['name'];
  if (name === undefined) out.push({ path: '/metadata/name', message: 'Required value: name is required' });
  else if (typeof name !== 'string') out.push({ path: '/metadata/name', message: 'name must be a string' });
  else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    out.push({
      path: '/metadata/name',
      message: `Invalid value "${name}": must be a DNS-1123 subdomain (lowercase alphanumerics, '-' or '.', at most 253 characters)`,
    });
  }
  const ns = md['namespace'];
  if (ns !== undefined && (typeof ns !== 'string' || ns.length > 63 || !DNS1123_LABEL.test(ns))) {
    out.push({
      path: '/metadata/namespace',
      message: `Invalid value ${JSON.stringify(ns)}: must be a DNS-1123 label (lowercase alphanumerics or '-', at most 63 characters)`,
    });
  }
  for (const field of ['labels', 'annotations'] as const) {
    const m = md[field];
    if (m === undefined) continue;
    if (!isObject(m)) {
      out.push({ path: `/metadata/${field}`, message: `${field} must be a map of string to string` });
      continue;
    }
    for (const [k, v] of Object.entries(m)) {
      const p = `/metadata/${field}/${escapePointer(k)}`;
      if (typeof v !== 'string') out.push({ path: p, message: `${field} values must be strings` });
      else if (field === 'labels' && (v.length > 63 || !LABEL_VALUE.test(v))) out.push({ path: p, message: `Invalid label value "${v}"` });
      const problem = qualifiedNameProblem(k);
      if (problem !== undefined) out.push({ path: p, message: `Invalid ${field === 'labels' ? 'label' : 'annotation'} key "${k}": ${problem}` });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// loading

interface KindEntry {
  readonly key: string;
  readonly root: JsonObject;
  /** The precompiled validator, loaded on first use. */
  readonly precompiled: (() => ValidateFunction) | undefined;
  validator: ValidateFunction | undefined;
  /** Compiled on first use: a build compiles the CEL rules of the kinds it emits only. */
  celRoot: SchemaNode | undefined;
}

/** Every served version of every CRD among `documents`, as `group/version/Kind` and its OpenAPI schema. */
function servedVersions(documents: readonly unknown[]): { key: string; root: JsonObject }[] {
  const out: { key: string; root: JsonObject }[] = [];
  for (const crd of documents) {
    if (!isObject(crd) || crd['kind'] !== 'CustomResourceDefinition') continue;
    const spec = crd['spec'];
    if (!isObject(spec)) continue;
    const group = str(spec['group']);
    const names = spec['names'];
    const kind = isObject(names) ? str(names['kind']) : undefined;
    const versions = spec['versions'];
    if (group === undefined || kind === undefined || !Array.isArray(versions)) continue;
    const sharedSchema = isObject(spec['validation']) ? spec['validation']['openAPIV3Schema'] : undefined;
    for (const v of versions) {
      if (!isObject(v) || v['served'] === false) continue;
      const version = str(v['name']);
      if (version === undefined) continue;
      const schemaHolder = v['schema'];
      const root = isObject(schemaHolder) ? schemaHolder['openAPIV3Schema'] : sharedSchema;
      if (isObject(root)) out.push({ key: `${group}/${version}/${kind}`, root });
    }
  }
  return out;
}

function parseCrdDocuments(file: string, text: string): unknown[] {
  const { parseAllDocuments } = require('yaml') as typeof import('yaml');
  return parseAllDocuments(text).map((doc) => {
    if (!('errors' in doc) || doc.errors.length > 0) {
      const err = 'errors' in doc ? doc.errors[0]?.message : 'not a YAML document';
      throw new Error(`${file}: cannot parse YAML: ${err ?? 'unknown error'}`);
    }
    return doc.toJS() as unknown;
  });
}

// ---------------------------------------------------------------------------------------------
// precompiled CRD files

/** Where the build puts precompiled CRD files (compiler/crd-precompile.ts). */
export const PRECOMPILED_CRDS = compiledFile('compiler/crd-precompiled');

interface PrecompiledCrd {
  readonly documents: readonly unknown[];
  /** Per `group/version/Kind`, the module of its validator, beside this one. */
  readonly validators: Readonly<Record<string, string>>;
}

let converterFingerprint: string | undefined;
/** This compiler's code and formats: a precompiled file made by other code is not used. */
function converter(): string {
  converterFingerprint ??= createHash('sha256')
    .update(fs.readFileSync(__filename))
    .update(fs.readFileSync(require.resolve('./crd-formats')))
    .update(fs.readFileSync(require.resolve('ajv/package.json')))
    .digest('hex');
  return converterFingerprint;
}

/** The name of a CRD file's precompiled module: its text and the converter, hashed. */
export function precompiledName(crdText: string): string {
  return `crd-${createHash('sha256').update(converter()).update(crdText).digest('hex').slice(0, 32)}.js`;
}

function loadPrecompiled(dir: string, crdText: string): PrecompiledCrd | undefined {
  const file = path.join(dir, precompiledName(crdText));
  if (!fs.existsSync(file)) return undefined;
  return require(file) as PrecompiledCrd;
}

/**
 * A CRD without its documentation: every `description` holding a string (a field named `description` is a
 * schema, an object, and stays). Validation never reads them, and they are most of a CRD's bytes.
 */
function withoutDescriptions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (!(key === 'description' && typeof item === 'string')) out[key] = withoutDescriptions(item);
  return out;
}

/**
 * A CRD file as CommonJS modules: the first holds its documents as JSON and names, per served version, the
 * module of its standalone ajv validator (one each, so a build compiles only the versions it validates).
 */
export function precompileCrd(file: string, crdText: string, outDir: string): Map<string, string> {
  const documents = parseCrdDocuments(file, crdText).map(withoutDescriptions);
  const name = precompiledName(crdText);
  const ajv = newAjv(outDir);
  const standalone = (require('ajv/dist/standalone') as typeof import('ajv/dist/standalone')).default;
  const modules = new Map<string, string>();
  const validators: Record<string, string> = {};
  servedVersions(documents).forEach(({ key, root }, index) => {
    const module = `${name.slice(0, -'.js'.length)}-${index}.js`;
    validators[key] = module;
    modules.set(module, `${standalone(ajv, ajv.compile(rootAjvSchema(root)))}\n`);
  });
  modules.set(
    name,
    [
      '"use strict";',
      `exports.documents = JSON.parse(${JSON.stringify(JSON.stringify(documents))});`,
      `exports.validators = ${JSON.stringify(validators)};`,
      '',
    ].join('\n'),
  );
  return modules;
}

/**
 * A validator for the CRDs of these files. `precompiledDir` is where precompiled CRD files are looked
 * up (the build's, by default); a file without one is parsed and compiled here.
 */
export function loadCrdValidator(crdFiles: readonly string[], precompiledDir = PRECOMPILED_CRDS): CrdValidator {
  const entries = new Map<string, KindEntry>();
  for (const file of crdFiles) {
    const text = fs.readFileSync(file, 'utf8');
    const precompiled = loadPrecompiled(precompiledDir, text);
    for (const { key, root } of servedVersions(precompiled?.documents ?? parseCrdDocuments(file, text))) {
      const module = precompiled?.validators[key];
      entries.set(key, {
        key,
        root,
        precompiled: module === undefined ? undefined : () => require(path.join(precompiledDir, module)) as ValidateFunction,
        validator: undefined,
        celRoot: undefined,
      });
    }
  }
  let celRules: CrdCelRule[] | undefined;
  const celRootOf = (entry: KindEntry): SchemaNode => (entry.celRoot ??= compileNode(entry.root, entry.key, '', []));
  let ajv: Ajv | undefined;
  const kinds = [...entries.keys()].sort();

  return {
    kinds,
    get celRules() {
      if (celRules === undefined) {
        celRules = [];
        for (const entry of entries.values()) entry.celRoot = compileNode(entry.root, entry.key, '', celRules);
      }
      return celRules;
    },
    validate(object) {
      const apiVersion: unknown = object.apiVersion;
      const kind: unknown = object.kind;
      const key = `${String(apiVersion)}/${String(kind)}`;
      const entry = typeof apiVersion === 'string' && typeof kind === 'string' ? entries.get(key) : undefined;
      if (entry === undefined) {
        const what =
          typeof apiVersion !== 'string' ? 'missing apiVersion' : typeof kind !== 'string' ? 'missing kind' : `unknown apiVersion/kind ${apiVersion} ${kind}`;
        return [{ path: '', message: `${what}: no CustomResourceDefinition loaded for it (known: ${kinds.join(', ')})` }];
      }
      if (entry.validator === undefined) {
        if (entry.precompiled !== undefined) entry.validator = entry.precompiled();
        else {
          ajv ??= newAjv();
          entry.validator = ajv.compile(rootAjvSchema(entry.root));
        }
      }
      const out: CrdViolation[] = [];
      if (!entry.validator(object)) out.push(...ajvViolations(entry.validator.errors ?? []));
      validateMetadata(object['metadata'], out);
      const celRoot = celRootOf(entry);
      walk(celRoot, object, '', out);
      return out;
    },
  };
}
