/**
 * Planted mistakes: one small change to one emitted object, of the kinds a target's bug would make. The
 * verifier's keyed space (one client and one operation per class) must find a mistake whenever the exhaustive
 * space (every client × every operation, `everyClient`) finds it: test/verify-keyed-space.test.ts.
 */
import type { ManifestObject } from '../../verify/simulator';

export const MUTATION_CLASSES = ['drop-principal', 'widen-path', 'change-method', 'flip-deny', 'drop-header', 'change-ip-block'] as const;
export type MutationClass = (typeof MUTATION_CLASSES)[number];

type Step = string | number;
type Json = Record<string, unknown>;

/** One place a mutation of a class can be planted: the object, and the change to make on a copy of it. */
interface Site {
  readonly object: number;
  readonly describe: string;
  readonly apply: (object: Json) => void;
}

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every (path, value) inside a value, depth first. */
function* walk(value: unknown, path: Step[] = []): Generator<{ readonly path: Step[]; readonly value: unknown }> {
  yield { path, value };
  if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* walk(v, [...path, i]);
  else if (isRecord(value)) for (const [k, v] of Object.entries(value)) yield* walk(v, [...path, k]);
}

function at(root: unknown, path: readonly Step[]): unknown {
  let value = root;
  for (const step of path) value = (value as Record<Step, unknown>)[step];
  return value;
}

/** Removes element `index` of the list at `path`; an emptied list is removed from its object. */
function removeFrom(root: Json, path: readonly Step[], index: number): void {
  const list = at(root, path) as unknown[];
  list.splice(index, 1);
  if (list.length === 0) delete (at(root, path.slice(0, -1)) as Json)[path[path.length - 1] as string];
}

/**
 * Per list of principals, one no random model names: dropping the only principal of a list puts it in its place,
 * since an emptied source is one the webhook rejects (the simulators answer `unsupported`, not a verdict).
 */
const PRINCIPAL_LISTS = new Map([
  ['principals', 'cluster.local/ns/policyc-planted/sa/policyc-planted'],
  ['notPrincipals', 'cluster.local/ns/policyc-planted/sa/policyc-planted'],
  ['requestPrincipals', 'https://policyc-planted.example/policyc-planted'],
  ['notRequestPrincipals', 'https://policyc-planted.example/policyc-planted'],
  ['identities', 'policyc-planted.policyc-planted.serviceaccount.identity.linkerd.cluster.local'],
]);

function dropPrincipal(root: Json, path: readonly Step[], index: number, planted: string): void {
  const list = at(root, path) as unknown[];
  if (list.length > 1) list.splice(index, 1);
  else list[index] = planted;
}
const IP_LISTS = new Set(['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']);
/** TEST-NET-3, a block no random model names (random-model.ts CIDRS and probe networks). */
const PLANTED_BLOCK = '203.0.113.0/24';

function widened(path: string): string | undefined {
  if (path === '*' || path === '/*') return undefined;
  if (path.startsWith('*')) return '*';
  return path.endsWith('*') ? '/*' : `${path}*`;
}

/** The sites of one class of mutation in one object (Istio AuthorizationPolicy fields, Linkerd policy and route fields). */
function sitesIn(object: ManifestObject, index: number, kind: MutationClass): Site[] {
  const sites: Site[] = [];
  const where = (path: readonly Step[]) => `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name} ${path.join('.')}`;
  for (const { path, value } of walk(object)) {
    const key = path[path.length - 1];
    const parent = path.slice(0, -1);
    if (Array.isArray(value) && typeof key === 'string') {
      for (const [i, item] of value.entries()) {
        const item_ = [...path, i];
        const planted = PRINCIPAL_LISTS.get(key);
        if (kind === 'drop-principal' && planted !== undefined && item !== planted) {
          sites.push({ object: index, describe: `drop ${where(item_)} ${String(item)}`, apply: (o) => dropPrincipal(o, path, i, planted) });
        }
        if (kind === 'widen-path' && key === 'paths' && typeof item === 'string') {
          const wide = widened(item);
          if (wide !== undefined)
            sites.push({ object: index, describe: `${where(item_)} ${item} → ${wide}`, apply: (o) => void ((at(o, path) as unknown[])[i] = wide) });
        }
        if (kind === 'change-method' && key === 'methods' && typeof item === 'string') {
          const other = item === 'GET' ? 'PUT' : 'GET';
          sites.push({ object: index, describe: `${where(item_)} ${item} → ${other}`, apply: (o) => void ((at(o, path) as unknown[])[i] = other) });
        }
        if (kind === 'drop-header' && key === 'when' && isRecord(item) && String(item['key']).startsWith('request.headers[')) {
          sites.push({ object: index, describe: `drop ${where(item_)}`, apply: (o) => removeFrom(o, path, i) });
        }
        if (kind === 'drop-header' && key === 'headers' && object.kind.endsWith('Route')) {
          sites.push({ object: index, describe: `drop ${where(item_)}`, apply: (o) => removeFrom(o, path, i) });
        }
        if (kind === 'change-ip-block' && IP_LISTS.has(key) && typeof item === 'string' && item !== PLANTED_BLOCK) {
          sites.push({
            object: index,
            describe: `${where(item_)} ${item} → ${PLANTED_BLOCK}`,
            apply: (o) => void ((at(o, path) as unknown[])[i] = PLANTED_BLOCK),
          });
        }
      }
    }
    // Linkerd: a route match's path and method, a NetworkAuthentication's networks.
    if (isRecord(value) && key === 'path' && typeof value['value'] === 'string' && !(value['type'] === 'PathPrefix' && value['value'] === '/')) {
      if (kind === 'widen-path')
        sites.push({
          object: index,
          describe: `${where(path)} → PathPrefix /`,
          apply: (o) => void ((at(o, parent) as Json)['path'] = { type: 'PathPrefix', value: '/' }),
        });
    }
    if (kind === 'change-method' && key === 'method' && typeof value === 'string' && object.kind === 'HTTPRoute') {
      const other = value === 'GET' ? 'PUT' : 'GET';
      sites.push({ object: index, describe: `${where(path)} ${value} → ${other}`, apply: (o) => void ((at(o, parent) as Json)['method'] = other) });
    }
    if (kind === 'change-ip-block' && key === 'cidr' && typeof value === 'string' && value !== PLANTED_BLOCK && object.kind === 'NetworkAuthentication') {
      sites.push({
        object: index,
        describe: `${where(path)} ${value} → ${PLANTED_BLOCK}`,
        apply: (o) => void ((at(o, parent) as Json)['cidr'] = PLANTED_BLOCK),
      });
    }
  }
  if (kind === 'flip-deny' && object.kind === 'AuthorizationPolicy' && isRecord(object['spec']) && object.apiVersion.startsWith('security.istio.io')) {
    const action = object['spec']['action'];
    if (action === undefined || action === 'ALLOW' || action === 'DENY') {
      const flipped = action === 'DENY' ? 'ALLOW' : 'DENY';
      sites.push({
        object: index,
        describe: `${where(['spec', 'action'])} ${String(action ?? 'ALLOW')} → ${flipped}`,
        apply: (o) => void ((o['spec'] as Json)['action'] = flipped),
      });
    }
  }
  return sites;
}

/** A small deterministic generator (mulberry32), so a failing case names its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The objects with one mutation of `kind` planted at a site `random` picks; undefined when the objects have no such site. */
export function plantMistake(
  objects: readonly ManifestObject[],
  kind: MutationClass,
  random: () => number,
): { readonly objects: ManifestObject[]; readonly describe: string } | undefined {
  const sites = objects.flatMap((o, i) => sitesIn(o, i, kind));
  if (sites.length === 0) return undefined;
  const site = sites[Math.floor(random() * sites.length)] as Site;
  const copy = structuredClone(objects[site.object]) as unknown as Json;
  site.apply(copy);
  return { objects: objects.map((o, i) => (i === site.object ? (copy as unknown as ManifestObject) : o)), describe: site.describe };
}
