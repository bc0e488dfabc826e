/**
 * Names of the Linkerd target's objects: readable, derived from what a stable key of the object is
 * (destination, port, path region, the identities or networks it admits), never from content hashes
 * where such a key exists, so a widened grant edits its objects in place under the same names.
 *
 * Two different keys can still make the same readable name (names are cut to 63 characters and cleaned
 * to DNS-1123 labels, and `a-b` + `c` reads like `a` + `b-c`). The allocator gives the first key of a
 * (kind, namespace) its readable name and every later different key that name plus a hash of its key,
 * so names are collision-free and deterministic (objects are allocated in the model's sorted order).
 * @internal
 */
import { shortHash } from '../../model/hash';
import type { HttpRegion, GrpcRegion } from './routes';
import type { IdPattern } from './authz';
import type { NetEntry } from './cidr';

const MAX_LABEL = 63;

/** Lower-case DNS-1123 label text of some parts, or '' when nothing is left. */
function clean(parts: readonly string[]): string {
  return parts
    .filter((p) => p !== '')
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** `text` cut so that `-<suffix>` fits in a label. */
function withSuffix(text: string, suffix: string): string {
  const head = text.slice(0, MAX_LABEL - suffix.length - 1).replace(/-+$/g, '');
  return head === '' ? `p-${suffix}` : `${head}-${suffix}`;
}

/** `preferred` given a hash of `key` (cut so that it still fits in a label): a name taken by another key. */
export function nameWithHash(preferred: string, key: string): string {
  return withSuffix(preferred, shortHash(key));
}

/** Text that `clean` leaves as it is: lower-case DNS-1123 label characters, no leading, trailing or doubled `-`. */
const CLEAN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** A readable name for `parts`; too long, it is cut and given a hash of `key`. */
export function readableName(parts: readonly string[], key: string): string {
  // Most names are clean already (service and port names are DNS labels): one test instead of four rewrites.
  const joined = parts.filter((p) => p !== '').join('-');
  const text = CLEAN.test(joined) ? joined : clean(parts);
  if (text.length > 0 && text.length <= MAX_LABEL) return text;
  return withSuffix(text, shortHash(key));
}

/** Hands out one name per (kind, namespace, key); see the file comment. */
export class NameAllocator {
  /** Per `kind/namespace`: the names handed out (to their keys), and each key's name. */
  private readonly scopes = new Map<string, { readonly taken: Map<string, string>; readonly byKey: Map<string, string> }>();

  /** The name already handed out for (kind, namespace, key), if any. */
  known(kind: string, namespace: string, key: string): string | undefined {
    return this.scopes.get(`${kind}/${namespace}`)?.byKey.get(key);
  }

  name(kind: string, namespace: string, preferred: string, key: string): string {
    const scopeKey = `${kind}/${namespace}`;
    let scope = this.scopes.get(scopeKey);
    if (scope === undefined) this.scopes.set(scopeKey, (scope = { taken: new Map(), byKey: new Map() }));
    const known = scope.byKey.get(key);
    if (known !== undefined) return known;
    let name = preferred;
    if (scope.taken.has(name)) name = nameWithHash(preferred, key);
    // A hash suffix can only collide with a preferred name that happens to end the same way: rehash then.
    for (let salt = 1; scope.taken.has(name); salt++) name = nameWithHash(preferred, `${key}\u0000${salt}`);
    scope.taken.set(name, key);
    scope.byKey.set(key, name);
    return name;
  }
}

/** The words of an HTTP path region in a route name: `/checkout` → `checkout`, `/api/v1/*` → `api-v1`, the rest → `all`. */
export function httpRegionWords(region: HttpRegion): string {
  if (region.kind === 'rest') return 'all';
  return clean([region.value]) || 'root';
}

/** The words of a gRPC region: `pkg.Payments/Charge` → `payments-charge`, a whole service → `payments`, the rest → `all`. */
export function grpcRegionWords(region: GrpcRegion): string {
  if (region.kind === 'rest') return 'all';
  const service = region.key.service.split('.').filter((s) => s !== '');
  return clean([service[service.length - 1] ?? 'service', region.key.method ?? '']) || 'service';
}

/** Who an identity list admits, in a name: `sa-<ns>-<sa>`, `ns-<ns>`, `authenticated`, `id-<spiffe id>`, `td-<trust domain>`. */
export function identityWords(ids: readonly IdPattern[]): string[] {
  return ids.map((id) => {
    switch (id.kind) {
      case 'any':
        return 'authenticated';
      case 'ns':
        return `ns-${id.ns}`;
      case 'sa':
        return `sa-${id.ns}-${id.sa}`;
      case 'exact':
        return `id-${id.id.replace(/^spiffe:\/\//, '')}`;
      case 'td':
        return `td-${id.trustDomain}`;
      default:
        return id satisfies never;
    }
  });
}

/** Which addresses a network list admits, in a name: `net-10-0-0-0-8`, `any-address` for every address. */
export function networkWords(nets: readonly NetEntry[]): string[] {
  const everything = nets.every((n) => n.cidr.prefix === 0 && n.except.length === 0);
  if (everything) return ['any-address'];
  return nets.map((n) => `net-${n.cidr.text}${n.except.length === 0 ? '' : '-except'}`);
}
