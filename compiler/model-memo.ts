/**
 * What a long-lived session (`build --watch`, `policyc lsp`) keeps of the models it built, so that after an edit
 * the model is built, validated and fingerprinted again only for what the edit changed; README "An incremental
 * model" says what each part is keyed by. Every part gives what a cold build gives: test/model-memo.test.ts
 * compares both over random edits.
 *
 * The evaluated export is untrusted data whose objects may be shared between builds and changed in place (the
 * evaluator session patches the objects it sends again), so a declaration is never trusted by identity: each is
 * compared with a private copy of what it was when its model was built (a `Shape`), found by its declaration site.
 * Model objects (ServiceModel, RuleModel) are immutable once built, so the validator and the fingerprint key
 * their memos by them.
 */
import type { Diagnostic } from '../diagnostics/diagnostic';
import type { RuleModel, ServiceModel, SourceLocation } from '../model/model';
import { OpaqueValue } from './evaluator/policy-schema';

/** A private copy of an evaluated object: `keys` undefined for an array, `opaque` for a value JSON could not carry. */
class Shape {
  /** Copied from an object several declarations share (a service in rules): matched once per build. */
  shared = false;
  constructor(
    readonly keys: readonly string[] | undefined,
    readonly values: readonly unknown[],
    readonly opaque: string | undefined,
  ) {}
}

const CYCLE = new Error('a cycle');

/** Compares evaluated values with shapes, and copies them into shapes; what it verified holds for one build. */
export class Structures {
  /** Shared objects of this build that equal a shape (or were copied into it). */
  private verified = new Map<object, Shape>();
  private readonly copying = new Set<object>();

  /** Starts a build: the evaluated objects may have changed since. */
  begin(): void {
    this.verified = new Map();
  }

  /** Whether `value` is, key for key and in the same order, what `shape` recorded. */
  matches(value: unknown, shape: unknown): boolean {
    return shape instanceof Shape ? this.matchesShape(value, shape) : Object.is(value, shape);
  }

  private matchesShape(value: unknown, shape: Shape): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (shape.shared && this.verified.get(value) === shape) return true;
    const { values } = shape;
    let same: boolean;
    if (value instanceof OpaqueValue) same = shape.opaque === value.description;
    else if (shape.opaque !== undefined) same = false;
    else if (Array.isArray(value)) {
      same = shape.keys === undefined && value.length === values.length;
      for (let i = 0; same && i < values.length; i++) {
        const expected = values[i];
        same = expected instanceof Shape ? this.matchesShape(value[i], expected) : Object.is(value[i], expected);
      }
    } else {
      const known = shape.keys;
      same = known !== undefined;
      let i = 0;
      // for-in rather than Object.keys: the same keys in the same order (evaluated objects inherit no enumerable
      // key), without an array per object.
      for (const key in value) {
        const expected = values[i];
        const actual = (value as Record<string, unknown>)[key];
        same = key === known?.[i] && (expected instanceof Shape ? this.matchesShape(actual, expected) : Object.is(actual, expected));
        i++;
        if (!same) break;
      }
      same &&= i === known?.length;
    }
    if (same && shape.shared) this.verified.set(value, shape);
    return same;
  }

  /** A shape of `value` as it is now; undefined for a value holding a cycle (never kept). */
  copy(value: unknown): unknown {
    try {
      return this.copyOf(value);
    } catch (error) {
      if (error !== CYCLE) throw error;
      this.copying.clear();
      return undefined;
    }
  }

  private copyOf(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const known = this.verified.get(value);
    if (known !== undefined) {
      known.shared = true;
      return known;
    }
    if (this.copying.has(value)) throw CYCLE;
    this.copying.add(value);
    let shape: Shape;
    if (value instanceof OpaqueValue) shape = new Shape(undefined, [], value.description);
    else if (Array.isArray(value))
      shape = new Shape(
        undefined,
        value.map((v: unknown) => this.copyOf(v)),
        undefined,
      );
    else {
      const keys = Object.keys(value);
      shape = new Shape(
        keys,
        keys.map((key) => this.copyOf((value as Record<string, unknown>)[key])),
        undefined,
      );
    }
    this.copying.delete(value);
    this.verified.set(value, shape);
    return shape;
  }
}

/** What a declaration's model was built from (its shape and location) and what it gave. */
export interface Kept<R> {
  readonly shape: unknown;
  readonly location: SourceLocation | undefined;
  readonly result: R;
}

interface Entry<R> extends Kept<R> {
  /** The site of the declaration (file, line, column of its builder's call). */
  readonly site: Site | undefined;
  /** The build that last gave this entry to a declaration (one entry serves one declaration a build). */
  usedIn: number;
}

/**
 * The models built for the declarations of one kind in the last build, by position in the mesh's list and, when the
 * list moved (a declaration added or removed before it), by declaration site: an edit that re-runs a module makes
 * new objects of the same declarations, which still find their models. Which entry a declaration is compared with
 * only decides how often one is found: an entry is used only if the declaration and its location equal what it
 * was built from. Only what the last build used is kept.
 */
export class DeclarationMemo<R> {
  private last: readonly (Entry<R> | undefined)[] = [];
  private next: (Entry<R> | undefined)[] = [];
  private bySite: Map<string, Entry<R>[]> | undefined;
  private build = 0;
  /** How many declarations of the current build were found (tests and benchmarks). */
  found = 0;

  begin(): void {
    this.last = this.next;
    this.next = [];
    this.bySite = undefined;
    this.build++;
    this.found = 0;
  }

  /** What the last build kept for a declaration equal to this one at the same location, if any. */
  find(index: number, declaration: object, location: SourceLocation | undefined, structures: Structures): Kept<R> | undefined {
    const usable = (entry: Entry<R> | undefined): entry is Entry<R> =>
      entry !== undefined && entry.usedIn !== this.build && sameLocation(entry.location, location) && structures.matches(declaration, entry.shape);
    let found: Entry<R> | undefined = this.last[index];
    const site = siteOf(declaration);
    if (found === undefined || !sameSite(found.site, site) || !usable(found)) {
      if (this.bySite === undefined) {
        this.bySite = new Map();
        for (const entry of this.last) {
          if (entry === undefined) continue;
          const key = siteKey(entry.site);
          const list = this.bySite.get(key);
          if (list === undefined) this.bySite.set(key, [entry]);
          else list.push(entry);
        }
      }
      found = this.bySite.get(siteKey(site))?.find(usable);
    }
    if (found === undefined) return undefined;
    found.usedIn = this.build;
    this.found++;
    return found;
  }

  /** Keeps what this build made (or found) for the declaration at `index` of the mesh's list. */
  keep(index: number, declaration: object, kept: Kept<R>): void {
    const entry = kept as Entry<R>;
    this.next[index] = 'usedIn' in kept ? entry : { ...kept, site: siteOf(declaration), usedIn: this.build };
  }
}

interface Site {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A declaration's site, when it has the shape of one. */
function siteOf(declaration: object): Site | undefined {
  const site = (declaration as Readonly<Record<string, unknown>>)['site'];
  if (typeof site !== 'object' || site === null) return undefined;
  const { file, line, column } = site as Record<string, unknown>;
  return typeof file === 'string' && typeof line === 'number' && typeof column === 'number' ? { file, line, column } : undefined;
}

function sameSite(a: Site | undefined, b: Site | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.file === b.file && a.line === b.line && a.column === b.column;
}

function siteKey(site: Site | undefined): string {
  return site === undefined ? '' : `${site.file}:${site.line}:${site.column}`;
}

function sameLocation(a: SourceLocation | undefined, b: SourceLocation | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.file === b.file && a.line === b.line && a.column === b.column && a.start === b.start && a.length === b.length;
}

/** A rule's model before ids are made unique, its sort key, and the services it was built against. */
export interface BuiltRule {
  readonly model: RuleModel;
  readonly key: string;
  /** The destination's model (its ports give a rule without `ports` its ports). */
  readonly destination: ServiceModel;
  /** The source services looked up, all declared then. */
  readonly sourceServices: readonly string[];
}

/** The validator's results per part of the model (compiler/check-model.ts), keyed by the model objects they read. */
export interface ValidationMemo {
  /** A service's own checks, and the root namespace they were made against. */
  readonly services: WeakMap<ServiceModel, { readonly rootNamespace: string; readonly diagnostics: readonly Diagnostic[] }>;
  /** A namespace's selector overlaps, by the services compared. */
  readonly overlaps: Map<string, { readonly services: readonly ServiceModel[]; readonly diagnostics: readonly Diagnostic[] }>;
  /** A rule's own checks, with its destination and the namespace's mTLS mode and default action they read. */
  readonly rules: WeakMap<RuleModel, { readonly destination: ServiceModel; readonly posture: string; readonly diagnostics: readonly Diagnostic[] }>;
  /** A destination's shadowed rules, by its rules, the services their sources name, and the trust domain. */
  readonly shadowing: Map<
    string,
    {
      readonly rules: readonly RuleModel[];
      readonly named: readonly (ServiceModel | undefined)[];
      readonly trustDomain: string;
      readonly diagnostics: readonly Diagnostic[];
    }
  >;
}

/** The fingerprint's parts (compiler/splice.ts): each model object's JSON, and each namespace's texts and their join. */
export interface FingerprintMemo {
  readonly json: WeakMap<object, string>;
  readonly namespaces: Map<string, { readonly texts: readonly string[]; readonly joined: string }>;
}

export class ModelMemo {
  readonly structures = new Structures();
  readonly services = new DeclarationMemo<ServiceModel>();
  readonly rules = new DeclarationMemo<BuiltRule>();
  readonly validation: ValidationMemo = { services: new WeakMap(), overlaps: new Map(), rules: new WeakMap(), shadowing: new Map() };
  readonly fingerprint: FingerprintMemo = { json: new WeakMap(), namespaces: new Map() };

  /** Starts building a model. */
  begin(): void {
    this.structures.begin();
    this.services.begin();
    this.rules.begin();
  }
}
