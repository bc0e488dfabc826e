/**
 * Route regions. Linkerd lets only the single best-matching route decide a request (doc §6), ranking
 * path matches by matched length alone (Exact, RegularExpression and PathPrefix alike), so two routes
 * that match the same request of the same length tie and the older route wins: not something a
 * compiler can control. We therefore never emit overlapping routes: the request space of a port is
 * split into disjoint regions (every request falls in exactly one), and each region's route carries
 * every grant whose rule covers the whole region. The only overlaps left are deliberate and decided
 * by rank, never by age:
 *  - the catch-all `PathPrefix /` (length 1) under regions whose paths are longer than 1 character;
 *  - a method-specific route and the any-method route of the same path region (same path match, so
 *    "has a method match" decides).
 * @internal
 */
import { HTTP_METHODS, headerMatches, headerMatchText, type HeaderCondition, type HeaderMatch, type HttpMethod, type PathMatch } from '../../model/model';
import { compareStrings } from '../../model/compare';

/** A rule's request constraint on one port, after normalisation (gRPC: POST implied, paths parsed). */
export interface Scope {
  /** null: any method. */
  readonly methods: readonly HttpMethod[] | null;
  /** null: any path. */
  readonly paths: readonly PathMatch[] | null;
}

export type HttpRegion = { readonly kind: 'exact'; readonly value: string } | { readonly kind: 'prefix'; readonly value: string } | { readonly kind: 'rest' };

/** The path regions of a port: one per distinct exact path, one per distinct prefix, and the rest. */
export function httpRegions(scopes: readonly Scope[]): HttpRegion[] {
  const exacts = new Set<string>();
  const prefixes = new Set<string>();
  for (const scope of scopes) for (const m of scope.paths ?? []) (m.kind === 'exact' ? exacts : prefixes).add(m.value);
  return [
    ...[...exacts].sort().map((value) => ({ kind: 'exact' as const, value })),
    ...[...prefixes].sort().map((value) => ({ kind: 'prefix' as const, value })),
    { kind: 'rest' as const },
  ];
}

/**
 * Does a model path match cover every path of the region? Regions are built so that a match either
 * covers a region entirely or not at all: a prefix region excludes every longer prefix and every
 * exact path inside it, so the prefixes that match one of its paths are exactly the prefixes of its
 * own value.
 */
function pathCoversRegion(match: PathMatch, region: HttpRegion): boolean {
  switch (region.kind) {
    case 'exact':
      return match.kind === 'exact' ? match.value === region.value : region.value.startsWith(match.value);
    case 'prefix':
      return match.kind === 'prefix' && region.value.startsWith(match.value);
    case 'rest':
      return false;
    default:
      return region satisfies never;
  }
}

export function scopeCoversPath(scope: Scope, region: HttpRegion): boolean {
  return scope.paths === null || scope.paths.some((m) => pathCoversRegion(m, region));
}

export function regionKey(region: HttpRegion): string {
  return region.kind === 'rest' ? 'rest' : `${region.kind}:${region.value}`;
}

/** A method group of a path region: `null` methods is the any-method route. */
export interface MethodGroup<T> {
  readonly methods: readonly HttpMethod[] | null;
  readonly members: readonly T[];
}

/**
 * Splits the rules covering one path region by method. Each listed method whose covering rules differ
 * from the any-method set gets its own group; the any-method group (methods null) always exists and
 * serves every other method, including ones outside the nine HTTP methods.
 */
export function methodGroups<T>(members: readonly T[], scopeOf: (m: T) => Scope, idOf: (m: T) => string): MethodGroup<T>[] {
  const anyMembers = members.filter((m) => scopeOf(m).methods === null);
  const anyKey = anyMembers.map(idOf).join(',');
  const byKey = new Map<string, { methods: HttpMethod[]; members: T[] }>();
  for (const method of HTTP_METHODS) {
    if (!members.some((m) => scopeOf(m).methods?.includes(method) === true)) continue;
    const covering = members.filter((m) => {
      const methods = scopeOf(m).methods;
      return methods === null || methods.includes(method);
    });
    const key = covering.map(idOf).join(',');
    if (key === anyKey) continue;
    const group = byKey.get(key);
    if (group === undefined) byKey.set(key, { methods: [method], members: covering });
    else group.methods.push(method);
  }
  return [...byKey.values(), { methods: null, members: anyMembers }];
}

/**
 * Header conditions. A header match on a route changes which route is the best match for a request (a match with
 * more header matches outranks one with fewer, linkerd2-proxy `RequestMatch`), so the routes of a port are split by
 * header value classes, never by the rules' conditions as written:
 *  - per header name, the values are split into disjoint classes, each the values that satisfy exactly the same
 *    conditions of the cell (an exact value is its own class, `Exact`; a prefix's class excludes its longer prefixes
 *    and exact values, a RegularExpression; `present` adds the class of every other value, the empty one included);
 *    values that satisfy no condition have no class: a match simply does not name the header;
 *  - a cell gets one match per "tight" choice of classes: a choice every named header of which some rule it satisfies
 *    reads. For any request, the tight choice that is the request's own classes restricted to the headers its
 *    satisfied rules read is the unique match with the most header matches among those it satisfies, so it decides,
 *    and its grants are exactly those of the rules the request satisfies (see `headerCells`).
 * Linkerd reads a regex only on a header value that is visible ASCII (http `HeaderValue::to_str`), so a value with
 * other bytes satisfies no prefix or presence class: it falls to a cell with fewer rules, which only narrows what
 * allows grant; a deny with such a condition would be escaped that way, and is refused (PC4112).
 */

/** One value class of one header: the values that satisfy exactly the conditions `holds`. */
export interface HeaderClass {
  readonly name: string;
  /** Texts (`headerMatchText`) of the conditions on `name` these values satisfy; never empty. */
  readonly holds: ReadonlySet<string>;
  /** The route header match selecting these values. */
  readonly match: { readonly type: 'Exact' | 'RegularExpression'; readonly value: string };
}

/** The value classes of one header, for the distinct conditions on it. */
export function headerClasses(name: string, matches: readonly HeaderMatch[]): HeaderClass[] {
  const exacts = [...new Set(matches.flatMap((m) => (m.kind === 'exact' ? [m.value] : [])))].sort();
  const prefixes = [...new Set(matches.flatMap((m) => (m.kind === 'prefix' ? [m.value] : [])))].sort();
  const anyValue = matches.some((m) => m.kind === 'present');
  const distinct = [...new Map(matches.map((m) => [headerMatchText(m), m])).values()];
  const holds = (value: string): Set<string> => new Set(distinct.filter((m) => headerMatches(m, value)).map(headerMatchText));
  const classes: HeaderClass[] = exacts.map((value) => ({ name, holds: holds(value), match: { type: 'Exact', value } }));
  for (const prefix of prefixes) {
    const longer = prefixes.filter((p) => p !== prefix && p.startsWith(prefix));
    const inside = exacts.filter((e) => e.startsWith(prefix));
    classes.push({
      name,
      holds: new Set(distinct.filter((m) => m.kind === 'present' || (m.kind === 'prefix' && prefix.startsWith(m.value))).map(headerMatchText)),
      match: { type: 'RegularExpression', value: `^${escapeRegex(prefix)}${valueRegex(prefix, longer, inside)}$` },
    });
  }
  if (anyValue)
    classes.push({
      name,
      holds: new Set([headerMatchText({ kind: 'present' })]),
      match: { type: 'RegularExpression', value: `^${valueRegex('', prefixes, exacts)}$` },
    });
  return classes;
}

/** The requests of a cell whose header values fall in `classes` (by name): the members whose conditions they satisfy. */
export interface HeaderCell<T> {
  /** One class per named header, sorted by name; empty: the match names no header. */
  readonly classes: readonly HeaderClass[];
  readonly members: readonly T[];
}

/** Beyond this many class choices per cell, the routes would be too many to review: refused (PC4145). */
export const MAX_HEADER_CHOICES = 64;

/**
 * The header cells of a set of rules covering one path region and method group: one per tight choice of classes
 * (see above), the empty choice first. Rules without conditions are members of every cell. Why the tight choice
 * decides: let a request's classes be K* and S the rules it satisfies; K0 is K* restricted to the headers S reads.
 * Every rule K0 satisfies is in S (K0 ⊆ K*) and every rule of S reads only headers of K0, so K0 satisfies exactly
 * S and is tight. A tight choice K ⊆ K* satisfies rules of S only, which read headers of K0 only, and being tight
 * names only headers they read: K names at most K0's headers, so any other one has fewer header matches.
 */
export function headerCells<T>(members: readonly T[], headersOf: (m: T) => readonly HeaderCondition[] | undefined): HeaderCell<T>[] | 'too-many' {
  const conditioned = members.filter((m) => (headersOf(m) ?? []).length > 0);
  const plain = members.filter((m) => (headersOf(m) ?? []).length === 0);
  const byName = new Map<string, HeaderMatch[]>();
  for (const m of conditioned) for (const c of headersOf(m) ?? []) byName.set(c.name, [...(byName.get(c.name) ?? []), c.match]);
  const names = [...byName.keys()].sort();
  const options = names.map((name) => headerClasses(name, byName.get(name) ?? []));
  if (options.reduce((n, o) => n * (o.length + 1), 1) > MAX_HEADER_CHOICES) return 'too-many';
  let choices: HeaderClass[][] = [[]];
  for (const classes of options) choices = choices.flatMap((choice) => [choice, ...classes.map((c) => [...choice, c])]);
  const cells: HeaderCell<T>[] = [];
  for (const choice of choices) {
    const satisfied = conditioned.filter((m) =>
      (headersOf(m) ?? []).every((c) => choice.find((k) => k.name === c.name)?.holds.has(headerMatchText(c.match)) === true),
    );
    const read = new Set(satisfied.flatMap((m) => (headersOf(m) ?? []).map((c) => c.name)));
    if (choice.every((k) => read.has(k.name))) cells.push({ classes: choice, members: members.filter((m) => plain.includes(m) || satisfied.includes(m)) });
  }
  return cells.sort((a, b) => a.classes.length - b.classes.length);
}

/** The class key of a choice, per header name. */
export function headerChoiceKey(classes: readonly HeaderClass[]): Map<string, string> {
  return new Map(classes.map((c) => [c.name, `${c.match.type}:${c.match.value}`]));
}

/**
 * Regex (no anchors) for the rest of a header value after `base`: anything, except values that continue with one
 * of `excludedPrefixes` and except the `excludedExacts` (all of which start with `base`).
 */
function valueRegex(base: string, excludedPrefixes: readonly string[], excludedExacts: readonly string[]): string {
  const root = node();
  for (const p of [...excludedPrefixes].sort((a, b) => a.length - b.length)) insert(root, p.slice(base.length), 'prefix');
  for (const e of excludedExacts) insert(root, e.slice(base.length), 'exact');
  return valueNodeRegex(root);
}

function valueNodeRegex(n: TrieNode): string {
  const chars = [...n.children.keys()].sort();
  if (chars.length === 0) return n.endExcluded ? '.+' : '.*';
  const alternatives = [`[^${chars.map(escapeChar).join('')}].*`];
  for (const c of chars) {
    const child = n.children.get(c) as TrieNode;
    if (!child.subtreeExcluded) alternatives.push(escapeChar(c) + valueNodeRegex(child));
  }
  const body = `(?:${alternatives.join('|')})`;
  return n.endExcluded ? body : `${body}?`;
}

// regex::escape's set: the characters that are meta in Rust regex syntax (inside classes too).
const RUST_META = new Set(['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$', '#', '&', '-', '~']);

function escapeChar(c: string): string {
  return RUST_META.has(c) ? `\\${c}` : c;
}

function escapeRegex(text: string): string {
  return Array.from(text).map(escapeChar).join('');
}

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  /** An excluded exact path ends here. */
  endExcluded: boolean;
  /** Everything from here on is excluded (a longer prefix region owns it). */
  subtreeExcluded: boolean;
}

function node(): TrieNode {
  return { children: new Map(), endExcluded: false, subtreeExcluded: false };
}

function insert(root: TrieNode, suffix: string, kind: 'exact' | 'prefix'): void {
  let current = root;
  for (const c of Array.from(suffix)) {
    if (current.subtreeExcluded) return;
    let next = current.children.get(c);
    if (next === undefined) {
      next = node();
      current.children.set(c, next);
    }
    current = next;
  }
  if (current.subtreeExcluded) return;
  if (kind === 'prefix') {
    current.subtreeExcluded = true;
    current.children.clear();
  } else current.endExcluded = true;
}

/**
 * Linkerd matches the raw request path (no percent-decoding, no dot-segment removal), while the model
 * matches the normalized one (model.ts, 5.). So a prefix region's regex never matches a path that is not
 * in normal form: after the region's own (normal) characters, no `%` at all, no backslash and no `.` or `..`
 * segment (nor a segment of three or more dots only, which no one writes: refused to keep the regex short). Such a variant falls to the catch-all `PathPrefix /`, which carries only port-wide grants (valid
 * for every path); the target refuses a path-scoped deny where that would let a variant past it (PC4125).
 * A normal path with a `%` escape of a reserved character under a prefix rule is refused too (404): fail
 * closed. The regexes track where the path is in its current segment: at its start, inside it, or after
 * one or two dots only.
 */
type SegmentState = 'start' | 'inside' | 'dot' | 'dotdot';

/** A character of a segment: not '%', '\' or '/'. */
const SEGMENT_CHAR = '[^%\\\\/]';
/** A character of a segment that is not a dot. */
const NON_DOT = '[^%\\\\/.]';
/** A segment that is not '.' or '..' (nor only dots: refused, fail closed). */
const SEGMENT = `\\.{0,2}${NON_DOT}${SEGMENT_CHAR}*`;
/** Further segments after slashes, then maybe trailing slashes. Written without ambiguity, so a backtracking engine stays linear. */
const MORE = `(?:/+${SEGMENT})*/*`;

/** Normal-form continuations from a state; `nonEmpty`: at least one character. */
function tail(state: SegmentState, nonEmpty: boolean): string {
  switch (state) {
    case 'start':
      return nonEmpty ? `(?:${SEGMENT}${MORE}|/+(?:${SEGMENT}${MORE})?)` : `(?:${SEGMENT})?${MORE}`;
    case 'inside':
      return nonEmpty ? `(?:${SEGMENT_CHAR}+${MORE}|/+(?:${SEGMENT}${MORE})?)` : `${SEGMENT_CHAR}*${MORE}`;
    case 'dot':
      return `\\.?${NON_DOT}${SEGMENT_CHAR}*${MORE}`;
    case 'dotdot':
      return `${NON_DOT}${SEGMENT_CHAR}*${MORE}`;
    default:
      return state satisfies never;
  }
}

/** The state after one more character of a normal path; undefined where that character would break normal form. */
function step(state: SegmentState, c: string): SegmentState | undefined {
  if (c === '\\') return undefined;
  if (c === '/') return state === 'dot' || state === 'dotdot' ? undefined : 'start';
  if (c !== '.') return 'inside';
  return state === 'start' ? 'dot' : state === 'dot' ? 'dotdot' : 'inside';
}

/** The language of normal-form suffixes accepted below a trie node, as a Rust regex (no lookaround needed). */
function nodeRegex(n: TrieNode, state: SegmentState): string {
  // A path ending after a lone '.' or '..' segment is not in normal form.
  const mayEnd = !n.endExcluded && state !== 'dot' && state !== 'dotdot';
  const chars = [...n.children.keys()].sort();
  if (chars.length === 0) return tail(state, !mayEnd);
  const alternatives = [`[^${[...new Set([...chars, '%', '/', '.', '\\'])].map(escapeChar).join('')}]${tail('inside', false)}`];
  // A third dot in a segment of only dots is refused (fail closed; see tail()).
  const dot = step(state, '.');
  if (!chars.includes('.') && dot !== undefined && state !== 'dotdot') alternatives.push(`\\.${tail(dot, false)}`);
  const slash = step(state, '/');
  if (!chars.includes('/') && slash !== undefined) alternatives.push(`/${tail(slash, false)}`);
  for (const c of chars) {
    const child = n.children.get(c) as TrieNode;
    const next = step(state, c);
    if (!child.subtreeExcluded && next !== undefined) alternatives.push(escapeChar(c) + nodeRegex(child, next));
  }
  const body = `(?:${alternatives.join('|')})`;
  return mayEnd ? `${body}?` : body;
}

/** The segment state after `text`, read from inside a segment (every path starts with '/'). */
function stateAfter(text: string): SegmentState {
  let state: SegmentState = 'inside';
  for (const c of Array.from(text)) state = step(state, c) ?? 'inside';
  return state;
}

/**
 * A full-match regex for: every normal-form path starting with `base`, except paths starting with one of
 * `excludedPrefixes` and except the `excludedExacts` (all of which start with `base`). Model prefixes are
 * plain string prefixes while Linkerd's PathPrefix matches whole segments (doc §6), so model prefixes are
 * always written as regexes.
 */
function regionRegex(base: string, excludedPrefixes: readonly string[], excludedExacts: readonly string[]): string {
  const root = node();
  for (const p of [...excludedPrefixes].sort((a, b) => a.length - b.length)) insert(root, p.slice(base.length), 'prefix');
  for (const e of excludedExacts) insert(root, e.slice(base.length), 'exact');
  return `^${escapeRegex(base)}${nodeRegex(root, stateAfter(base))}$`;
}

/** The path match of an HTTP region's route. */
export function httpPathMatch(region: HttpRegion, all: readonly HttpRegion[]): { type: string; value: string } {
  const exacts = all.flatMap((r) => (r.kind === 'exact' ? [r.value] : []));
  const prefixes = all.flatMap((r) => (r.kind === 'prefix' ? [r.value] : []));
  switch (region.kind) {
    case 'exact':
      return { type: 'Exact', value: region.value };
    case 'prefix':
      return {
        type: 'RegularExpression',
        value: regionRegex(
          region.value,
          prefixes.filter((p) => p !== region.value && p.startsWith(region.value)),
          exacts.filter((e) => e.startsWith(region.value)),
        ),
      };
    case 'rest':
      // `PathPrefix /` ranks below every other region (length 1) unless a region contains the path
      // `/` itself; then the rest is written as a disjoint regex so no two routes ever tie.
      if (exacts.includes('/') || prefixes.includes('/')) return { type: 'RegularExpression', value: regionRegex('', prefixes, exacts) };
      return { type: 'PathPrefix', value: '/' };
    default:
      return region satisfies never;
  }
}

/** A gRPC match (GRPCRoute `method` match): a whole service, or one method of it. */
export interface GrpcKey {
  readonly service: string;
  readonly method?: string;
}

const GRPC_SERVICE = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

/**
 * A model path on a gRPC port as a GRPCRoute match: `/pkg.Service/Method` (exact) is one method,
 * `/pkg.Service/` (prefix) the whole service, `/` (prefix) every call (`'all'`). Anything else has no
 * GRPCRoute equivalent (undefined).
 */
export function grpcKeyOf(match: PathMatch): GrpcKey | 'all' | undefined {
  if (match.kind === 'prefix' && match.value === '/') return 'all';
  const parts = match.value.split('/');
  if (parts[0] !== '') return undefined;
  if (match.kind === 'prefix') {
    if (parts.length !== 3 || parts[2] !== '') return undefined;
    const service = parts[1] ?? '';
    return GRPC_SERVICE.test(service) ? { service } : undefined;
  }
  if (parts.length !== 3) return undefined;
  const [, service = '', method = ''] = parts;
  return GRPC_SERVICE.test(service) && GRPC_METHOD.test(method) ? { service, method } : undefined;
}

export type GrpcRegion = { readonly kind: 'method'; readonly key: GrpcKey } | { readonly kind: 'rest' };

export function grpcKeyText(key: GrpcKey): string {
  return key.method === undefined ? `${key.service}/` : `${key.service}/${key.method}`;
}

/**
 * gRPC regions: one per distinct method, one per distinct service, and the rest. Linkerd ranks gRPC
 * matches by (service length, method length), so a method beats its service beats the catch-all,
 * and regions nest exactly as the model's exact and prefix paths do.
 */
export function grpcRegions(keys: readonly GrpcKey[]): GrpcRegion[] {
  const unique = new Map(keys.map((k) => [grpcKeyText(k), k]));
  return [...[...unique.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, key]) => ({ kind: 'method' as const, key })), { kind: 'rest' as const }];
}

export function grpcKeyCoversRegion(key: GrpcKey, region: GrpcRegion): boolean {
  if (region.kind === 'rest') return false;
  if (key.service !== region.key.service) return false;
  return key.method === undefined || key.method === region.key.method;
}
