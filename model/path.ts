/**
 * Request paths as the model reads them: normalized the way an application behind a normalizing proxy sees
 * them (RFC 3986 §6.2.2: percent-encoded unreserved characters decoded once; §5.2.4: dot segments removed;
 * a backslash read as a slash). A path that normalization changes is "not in normal form": a client that
 * sends one (`/%64ebug/x`, `/metrics/../debug/x`) means the normalized path, and a mesh that matches the
 * raw path (Linkerd) must never let such a variant past a rule that refuses its normal form.
 */

/** RFC 3986 §2.3 unreserved characters: ALPHA / DIGIT / "-" / "." / "_" / "~". */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** Decodes each `%HH` that encodes an unreserved character, once (no double decoding). */
function decodeUnreserved(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (escape: string, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : escape;
  });
}

/** RFC 3986 §5.2.4 remove_dot_segments, on an absolute path. */
function removeDotSegments(path: string): string {
  const output: string[] = [];
  for (const segment of path.split('/').slice(1)) {
    if (segment === '.') continue;
    if (segment === '..') output.pop();
    else output.push(segment);
  }
  const last = path.split('/').pop();
  // A trailing '.' or '..' segment leaves the path ending in '/'.
  if (last === '.' || last === '..') output.push('');
  return `/${output.join('/')}`;
}

/** The path an application sees for a raw request path (query already stripped). */
export function normalizePath(raw: string): string {
  if (!raw.startsWith('/') && !raw.startsWith('\\')) return raw;
  // Nothing to decode, no backslash, no dot segment: already normal (asked for every request the verifier decides).
  if (!/[%\\]|\/\.\.?(?:\/|$)/.test(raw)) return raw;
  let normal = normalized.get(raw);
  if (normal === undefined) {
    if (normalized.size >= 10_000) normalized.clear();
    normalized.set(raw, (normal = removeDotSegments(decodeUnreserved(raw).replace(/\\/g, '/'))));
  }
  return normal;
}

/** The normal form of the paths that have to be worked out: the verifier probes a few such variants per port, again and again. */
const normalized = new Map<string, string>();

/** Whether normalization leaves the path as it is. */
export function isNormalPath(raw: string): boolean {
  return normalizePath(raw) === raw;
}

/**
 * The first letter or digit after a '/' of `path`, percent-encoded: a path that normalizes to `path` but
 * differs from it byte for byte (`/debug/x` → `/%64ebug/x`). Undefined when there is no such character.
 */
export function percentEncodedVariant(path: string): string | undefined {
  const at = path.search(/\/[A-Za-z0-9]/);
  if (at < 0) return undefined;
  const hex = (path.charCodeAt(at + 1) as number).toString(16);
  return `${path.slice(0, at + 1)}%${hex}${path.slice(at + 2)}`;
}
