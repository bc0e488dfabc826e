/**
 * Fewer Linkerd objects, same decisions: after every port is compiled, objects that say the same thing for
 * several ports of one namespace are written once.
 *
 *  - Servers: the Servers of one namespace that are identical but for their pods (same port, protocol,
 *    accessPolicy, same Server-level grants, same routes with the same grants) and whose services each select
 *    their pods by one label of the same key become one Server selecting `<key> In [values]`. A label selector's
 *    `In` expression selects a pod whose label has one of the values (linkerd2 `policy-controller/k8s/api/src/labels.rs`,
 *    `Expression::matches`; shared/docs/linkerd.md §2), so the one Server selects exactly the pods the several
 *    Servers selected, and each of them sees the same grants and routes as before.
 *  - Routes: HTTPRoutes (GRPCRoutes) of one namespace with the same rules and the same route-level grants become
 *    one route with one parentRef per Server (at most 32, the CRD's `parentRefs` maxItems), and the
 *    AuthorizationPolicies that targeted each copy become one that targets the shared route. The policy controller
 *    attaches a route to every Server any of its parentRefs names (linkerd2
 *    `policy-controller/k8s/index/src/inbound/routes.rs`, `RouteBinding::selects_server` is `parents.iter().any(..)`;
 *    the status is accepted per parent, `accepted_by_server`), and a route-targeted AuthorizationPolicy authorizes
 *    that route wherever it is attached (linkerd.md §3, §6). On each Server the route matches exactly what its copy
 *    matched and carries exactly its grants, so the best-matching route of every request has the same authorizations.
 *  - MeshTLSAuthentications and NetworkAuthentications with the same spec are one object: in their namespace, or,
 *    used by several namespaces of a mesh-scope policy, in the Linkerd control-plane namespace (`shareAcrossNamespaces`,
 *    a pass over every namespace's output after the rest, so that a watch session can splice that output namespace by
 *    namespace first: compiler/splice.ts).
 *
 * The Linkerd simulator (verify/linkerd) reads every parentRef and `In` expressions, so `policyc verify` checks these
 * objects as the proxy would read them (test/linkerd/share.test.ts shows that a wrongly shared route is caught).
 * @internal
 */
import type { KubernetesObject } from '../../model/target';
import type { Origin } from '../metadata';
import { compareStrings } from '../../model/compare';
import { nameWithHash } from './names';

/** The objects of a compilation by `kind/namespace/name`, each with the policy lines it implements. */
export type ObjectTable = Map<string, Entry>;

const POLICY_GROUP = 'policy.linkerd.io';
/** HTTPRoute and GRPCRoute CRDs: `spec.parentRefs` maxItems (shared/crds/linkerd). */
export const MAX_PARENT_REFS = 32;

/** An object, its policy lines, and the names of equal authentications of its namespace it took the place of. */
export type Entry = { object: KubernetesObject; origins: Origin[]; absorbed?: string[] };
type Spec = Record<string, unknown>;

const specOf = (o: KubernetesObject): Spec => ((o as unknown as { spec?: Spec }).spec ?? {}) as Spec;
const keyOf = (o: KubernetesObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const isRoute = (o: KubernetesObject): boolean => o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute';

interface TargetRef {
  readonly kind: string;
  readonly name: string;
}

function targetOf(policy: KubernetesObject): TargetRef {
  const t = specOf(policy)['targetRef'] as { kind: string; name: string };
  return { kind: t.kind, name: t.name };
}

function refsKey(policy: KubernetesObject): string {
  return JSON.stringify(specOf(policy)['requiredAuthenticationRefs']);
}

function parentNames(route: KubernetesObject): string[] {
  return ((specOf(route)['parentRefs'] as { name: string }[] | undefined) ?? []).map((p) => p.name);
}

/** The one label key and value a Server's pods are selected by, or undefined when its selector is anything else. */
function singleLabel(server: KubernetesObject): [string, string] | undefined {
  const selector = specOf(server)['podSelector'] as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined;
  if (selector === undefined || selector.matchExpressions !== undefined) return undefined;
  const entries = Object.entries(selector.matchLabels ?? {});
  return entries.length === 1 ? (entries[0] as [string, string]) : undefined;
}

/** Appends `value` to the list of `key` (lists grow in place: linear in the objects). */
function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function uniqueOrigins(origins: readonly Origin[]): Origin[] {
  const seen = new Set<string>();
  return origins.filter((o) => {
    const k = `${o.file ?? ''}\u0000${o.file === undefined ? '-' : '+'}\u0000${o.what}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Rewrites `table` in place: identical Servers become one, identical routes one route with several parents, equal
 * authentications of one namespace one object. Everything here stays within a namespace, so each namespace's objects
 * are what compiling it alone gives (compiler/splice.ts splices them namespace by namespace); what several namespaces
 * share is written by `shareAcrossNamespaces`, one pass over the whole output after this one.
 */
export function shareObjects(table: ObjectTable): void {
  /** Entries that took over another's policy lines: their lines are deduplicated once, at the end. */
  const touched = new Set<Entry>();
  // Authentications first, so that policies naming equal objects compare equal below.
  shareAuthentications(table, touched);
  const byNamespace = new Map<string, Entry[]>();
  for (const entry of table.values()) {
    const ns = entry.object.metadata.namespace;
    if (ns === undefined) continue;
    push(byNamespace, ns, entry);
  }
  for (const entries of byNamespace.values()) shareInNamespace(table, entries, touched);
  for (const entry of touched) entry.origins = uniqueOrigins(entry.origins);
}

const isAuthentication = (o: KubernetesObject): boolean => o.kind === 'MeshTLSAuthentication' || o.kind === 'NetworkAuthentication';

/**
 * What `shareAcrossNamespaces` needs of an authentication object a per-namespace compile emitted: the policy lines
 * it implements and the names of the objects of its namespace it stands for (several when equal authentications of
 * one namespace became one). Recorded when the object is emitted (`recordSharingFacts`); the objects a splice keeps
 * from a previous output are the same objects, so their facts are found again.
 */
export interface SharingFacts {
  readonly origins: readonly Origin[];
  readonly names: readonly string[];
}
const sharingFacts = new WeakMap<KubernetesObject, SharingFacts>();

/** Records the facts of an emitted authentication object (see `SharingFacts`). */
export function recordSharingFacts(object: KubernetesObject, facts: SharingFacts): void {
  if (isAuthentication(object)) sharingFacts.set(object, facts);
}

/**
 * Equal authentication objects within one namespace are one object, the first by name (`absorbed`: the names each
 * kept object stands for). Refs to a dropped one are rewritten to the kept one.
 */
function shareAuthentications(table: ObjectTable, touched: Set<Entry>): void {
  /** `kind/namespace/name` of a dropped object → the object kept in its place. */
  const moved = new Map<string, KubernetesObject>();
  const groups = new Map<string, Entry[]>();
  const entries = [...table.values()]
    .filter((e) => isAuthentication(e.object))
    .map((e) => ({ entry: e, at: `${e.object.metadata.namespace}/${e.object.metadata.name}` }))
    .sort((a, b) => compareStrings(a.at, b.at));
  for (const { entry } of entries) push(groups, `${entry.object.metadata.namespace ?? ''}|${entry.object.kind}|${JSON.stringify(specOf(entry.object))}`, entry);
  for (const group of groups.values()) {
    const first = group[0] as Entry;
    for (const entry of group.slice(1)) {
      first.origins.push(...entry.origins);
      (first.absorbed ??= []).push(entry.object.metadata.name, ...(entry.absorbed ?? []));
      touched.add(first);
      table.delete(keyOf(entry.object));
      moved.set(keyOf(entry.object), first.object);
    }
  }
  if (moved.size > 0) rewriteRefs(table.values(), moved, (entry, object) => (entry.object = object));
}

/** Rewrites the authentication refs of every AuthorizationPolicy of `entries` that names a moved object. */
function rewriteRefs<E extends { object: KubernetesObject }>(
  entries: Iterable<E>,
  moved: ReadonlyMap<string, KubernetesObject>,
  replace: (entry: E, object: KubernetesObject) => void,
): void {
  for (const entry of entries) {
    if (entry.object.kind !== 'AuthorizationPolicy') continue;
    const rewritten = rewrittenRefs(entry.object, moved);
    if (rewritten !== entry.object) replace(entry, rewritten);
  }
}

/** An AuthorizationPolicy with its refs to moved objects naming the objects kept in their place (itself when it names none). */
function rewrittenRefs(policy: KubernetesObject, moved: ReadonlyMap<string, KubernetesObject>): KubernetesObject {
  const ns = policy.metadata.namespace ?? '';
  const spec = specOf(policy);
  const refs = spec['requiredAuthenticationRefs'] as AuthenticationRef[];
  const rewritten = refs.map((r) => {
    const to = moved.get(`${r.kind}/${r.namespace ?? ns}/${r.name}`);
    if (to === undefined) return r;
    // The namespace is written only where it is not the policy's own (the default).
    return to.metadata.namespace === ns
      ? { group: r.group, kind: r.kind, name: to.metadata.name }
      : { group: r.group, kind: r.kind, name: to.metadata.name, namespace: to.metadata.namespace };
  });
  return rewritten.some((r, i) => r !== refs[i]) ? ({ ...policy, spec: { ...spec, requiredAuthenticationRefs: rewritten } } as KubernetesObject) : policy;
}

interface AuthenticationRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** An authentication object's kind and spec, the identity of what it admits (computed once per object). */
const contentKeys = new WeakMap<KubernetesObject, string>();
function contentKey(o: KubernetesObject): string {
  let key = contentKeys.get(o);
  if (key === undefined) contentKeys.set(o, (key = `${o.kind}|${JSON.stringify(specOf(o))}`));
  return key;
}

/** The last result of a policy's refs rewritten (`shareAcrossNamespaces`), so that an unchanged one stays the same object. */
const rewrittenPolicies = new WeakMap<KubernetesObject, KubernetesObject>();
/** The shared objects of the last pass, by content: one is reused while its metadata (name, policy lines) stays the same. */
let sharedObjects = new Map<string, KubernetesObject>();

/**
 * Authentication objects with the same spec used by several namespaces of a mesh-scope policy are one object in the
 * Linkerd control-plane namespace (`sharedNamespace`), which the platform team owns and which never moves: a tenant
 * namespace's owners cannot edit it to change who reaches another namespace, and adding or removing a namespace does
 * not move it. A namespace-scope policy writes nothing outside its namespaces (`sharedNamespace` undefined: `objects`
 * are returned as they are), and an object used by one namespace stays in it.
 *
 * `objects` are the emitted objects of a per-namespace compile (`shareObjects`, then the metadata); this pass reads
 * only their authentications and AuthorizationPolicies, so it costs one look at each object however few namespaces
 * changed, and gives the same objects for the same input (unchanged objects stay the same JavaScript objects, which
 * a watch session's memo recognises without serialising them).
 *
 * An AuthorizationPolicy's `requiredAuthenticationRefs` entry may name the namespace of the object it refers to
 * (shared/docs/linkerd.md §3; linkerd2 `policy-controller/k8s/index/src/inbound/authorization_policy.rs` reads each
 * ref's `namespace`, defaulting to the policy's own), and the object admits the same clients wherever it is read.
 * A policy whose object is missing is ignored (fails closed, §3), never widened.
 */
export function shareAcrossNamespaces(
  objects: readonly KubernetesObject[],
  sharedNamespace: string | undefined,
  metadataOf: (name: string, namespace: string, origins: readonly Origin[]) => KubernetesObject['metadata'],
): KubernetesObject[] {
  if (sharedNamespace === undefined) return [...objects];
  const groups = new Map<string, KubernetesObject[]>();
  for (const o of objects) if (isAuthentication(o)) push(groups, contentKey(o), o);
  const toShared: [string, KubernetesObject[]][] = [];
  for (const [key, group] of groups) {
    const first = group[0] as KubernetesObject;
    if (group.some((o) => o.metadata.namespace !== first.metadata.namespace)) toShared.push([key, group]);
  }
  if (toShared.length === 0) return [...objects];
  const factsOf = (o: KubernetesObject): SharingFacts => {
    const facts = sharingFacts.get(o);
    // Every authentication object comes from `LinkerdCompilation.emitted`, which records them: a policyc bug otherwise.
    if (facts === undefined) throw new Error(`policyc bug: no sharing facts for ${keyOf(o)}`);
    return facts;
  };
  const dropped = new Set(toShared.flatMap(([, group]) => group));
  const kept: KubernetesObject[] = [];
  const taken = new Set<string>();
  for (const o of objects) {
    if (dropped.has(o)) continue;
    kept.push(o);
    if (o.metadata.namespace === sharedNamespace) taken.add(`${o.kind}/${o.metadata.name}`);
  }
  // Names in the control-plane namespace depend only on the specs shared there (never on which namespaces use
  // them): the name most of a group's objects had (then the shortest, then the first), a hash of its spec added where
  // two specs (or an object already there) would share it, allocated in (name, spec) order.
  const named = toShared
    .map(([key, group]) => ({ key, group, preferred: commonestName(group.flatMap((o) => factsOf(o).names)) }))
    .sort((a, b) => compareStrings(a.preferred, b.preferred) || compareStrings(a.key, b.key));
  const moved = new Map<string, KubernetesObject>();
  const shared: KubernetesObject[] = [];
  const lastShared = sharedObjects;
  const sharedNow = (sharedObjects = new Map<string, KubernetesObject>());
  for (const { key, group, preferred } of named) {
    const template = group[0] as KubernetesObject;
    const kind = template.kind;
    let name = preferred;
    for (let salt = 0; taken.has(`${kind}/${name}`); salt++) name = nameWithHash(preferred, salt === 0 ? key : `${key}\u0000${salt}`);
    taken.add(`${kind}/${name}`);
    const metadata = metadataOf(
      name,
      sharedNamespace,
      group.flatMap((o) => factsOf(o).origins),
    );
    const made = { apiVersion: template.apiVersion, kind, metadata, spec: specOf(template) } as KubernetesObject;
    const last = lastShared.get(key);
    const object = last !== undefined && last.apiVersion === made.apiVersion && JSON.stringify(last.metadata) === JSON.stringify(metadata) ? last : made;
    sharedNow.set(key, object);
    shared.push(object);
    for (const o of group) moved.set(keyOf(o), object);
  }
  for (let i = 0; i < kept.length; i++) {
    const policy = kept[i] as KubernetesObject;
    // Most policies name no moved object: told by the keys of their refs, computed once per policy.
    if (!authenticationRefKeys(policy).some((k) => moved.has(k))) continue;
    const rewritten = rewrittenRefs(policy, moved);
    const last = rewrittenPolicies.get(policy);
    if (last !== undefined && JSON.stringify(specOf(last)['requiredAuthenticationRefs']) === JSON.stringify(specOf(rewritten)['requiredAuthenticationRefs']))
      kept[i] = last;
    else {
      rewrittenPolicies.set(policy, rewritten);
      kept[i] = rewritten;
    }
  }
  return [...kept, ...shared];
}

/** The `kind/namespace/name` of every authentication object an AuthorizationPolicy names (none for other objects), computed once per object. */
const refKeys = new WeakMap<KubernetesObject, readonly string[]>();
function authenticationRefKeys(o: KubernetesObject): readonly string[] {
  if (o.kind !== 'AuthorizationPolicy') return [];
  let keys = refKeys.get(o);
  if (keys === undefined) {
    const ns = o.metadata.namespace ?? '';
    const refs = specOf(o)['requiredAuthenticationRefs'] as AuthenticationRef[];
    refKeys.set(o, (keys = refs.filter((r) => r.kind !== 'ServiceAccount').map((r) => `${r.kind}/${r.namespace ?? ns}/${r.name}`)));
  }
  return keys;
}

/** The name most of a group's objects have (`names`, one per object); ties: the shortest, then the first in code-point order. */
function commonestName(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts].sort(([a, m], [b, n]) => n - m || a.length - b.length || compareStrings(a, b))[0]![0];
}

function shareInNamespace(table: ObjectTable, entries: readonly Entry[], touched: Set<Entry>): void {
  const policies = entries.filter((e) => e.object.kind === 'AuthorizationPolicy');
  const policiesOf = new Map<string, Entry[]>();
  for (const p of policies) {
    const t = targetOf(p.object);
    const k = `${t.kind}/${t.name}`;
    push(policiesOf, k, p);
  }
  const grantKeys = new Map<string, string>();
  const grantsOf = (kind: string, name: string): string => {
    const target = `${kind}/${name}`;
    let key = grantKeys.get(target);
    if (key === undefined)
      grantKeys.set(
        target,
        (key = (policiesOf.get(target) ?? [])
          .map((p) => refsKey(p.object))
          .sort(compareStrings)
          .join('\n')),
      );
    return key;
  };
  const byName = (a: Entry, b: Entry): number => compareStrings(a.object.metadata.name, b.object.metadata.name);
  const routes = entries.filter((e) => isRoute(e.object)).sort(byName);
  const routeKeys = new Map<KubernetesObject, string>();
  const routeKey = (r: KubernetesObject): string => {
    let key = routeKeys.get(r);
    if (key === undefined) routeKeys.set(r, (key = `${r.apiVersion}/${r.kind}|${JSON.stringify(specOf(r)['rules'])}|${grantsOf(r.kind, r.metadata.name)}`));
    return key;
  };
  const routesOf = new Map<string, string[]>();
  for (const r of routes) for (const parent of parentNames(r.object)) push(routesOf, parent, routeKey(r.object));

  /** Moves `from`'s policy lines onto `into`, and drops `from`. */
  const absorb = (into: Entry, from: Entry): void => {
    into.origins.push(...from.origins);
    touched.add(into);
    table.delete(keyOf(from.object));
  };
  /** Drops the AuthorizationPolicies of `from` (kind/name), their lines going to the same grants of `into`. */
  const absorbPolicies = (kind: string, into: string, from: string): void => {
    const kept = new Map((policiesOf.get(`${kind}/${into}`) ?? []).map((p) => [refsKey(p.object), p]));
    for (const p of policiesOf.get(`${kind}/${from}`) ?? []) {
      const same = kept.get(refsKey(p.object));
      if (same !== undefined) absorb(same, p);
    }
  };

  // Servers identical but for their one-label pod selector.
  const renamed = new Map<string, string>();
  const serverGroups = new Map<string, Entry[]>();
  for (const s of entries.filter((e) => e.object.kind === 'Server').sort(byName)) {
    const label = singleLabel(s.object);
    if (label === undefined) continue;
    const { podSelector: _selector, ...rest } = specOf(s.object);
    const name = s.object.metadata.name;
    const signature = [label[0], JSON.stringify(rest), grantsOf('Server', name), [...(routesOf.get(name) ?? [])].sort(compareStrings).join('\n')].join('|');
    push(serverGroups, signature, s);
  }
  for (const group of serverGroups.values()) {
    if (group.length < 2) continue;
    const kept = group[0] as Entry;
    const key = (singleLabel(kept.object) as [string, string])[0];
    const values = [...new Set(group.map((s) => (singleLabel(s.object) as [string, string])[1]))].sort(compareStrings);
    const spec = specOf(kept.object);
    kept.object = { ...kept.object, spec: { ...spec, podSelector: { matchExpressions: [{ key, operator: 'In', values }] } } } as KubernetesObject;
    for (const other of group.slice(1)) {
      absorbPolicies('Server', kept.object.metadata.name, other.object.metadata.name);
      absorb(kept, other);
      renamed.set(other.object.metadata.name, kept.object.metadata.name);
    }
  }

  // Routes with the same rules and grants: one route per 32 Servers.
  const routeGroups = new Map<string, Entry[]>();
  for (const r of routes) {
    const k = routeKey(r.object);
    push(routeGroups, k, r);
  }
  for (const group of routeGroups.values()) {
    const parents = [...new Set(group.flatMap((r) => parentNames(r.object).map((p) => renamed.get(p) ?? p)))].sort(compareStrings);
    const chunks: string[][] = [];
    for (let i = 0; i < parents.length; i += MAX_PARENT_REFS) chunks.push(parents.slice(i, i + MAX_PARENT_REFS));
    const carriers = group.slice(0, Math.max(1, chunks.length));
    carriers.forEach((carrier, i) => {
      const spec = specOf(carrier.object);
      const parentRefs = (chunks[i] ?? []).map((name) => ({ group: POLICY_GROUP, kind: 'Server', name }));
      carrier.object = { ...carrier.object, spec: { ...spec, parentRefs } } as KubernetesObject;
    });
    const first = carriers[0] as Entry;
    for (const other of group.slice(carriers.length)) {
      absorbPolicies(other.object.kind, first.object.metadata.name, other.object.metadata.name);
      absorb(first, other);
    }
  }
}
