/**
 * Envoy's request-path normalization as Istio configures it by default (MeshConfig `pathNormalization`
 * `BASE`): the path authorization policies match, and the path the backend receives. Source:
 * https://istio.io/latest/docs/reference/config/security/normalization (Path Related, 1., 2. and 4.):
 * `%2d %2e %30-%39 %41-%5a %5f %61-%7a %7e` (case-insensitive, decoded once) become `- . 0-9 A-Z _ a-z ~`;
 * `%00` is rejected with 400; a backslash becomes '/'; `/./` and `/../` are resolved as RFC 3986 says;
 * slashes are NOT merged (that is MERGE_SLASHES) and `%2f`/`%5c` are NOT decoded (DECODE_AND_MERGE_SLASHES).
 */

/** The normalized path, or `rejected` for a path Envoy refuses with 400. */
export function envoyBasePath(raw: string): { readonly path: string } | 'rejected' {
  // A request's path is compared with every path value of every rule, and a port's paths recur on every request.
  let known = normalizedPaths.get(raw);
  if (known === undefined) {
    if (normalizedPaths.size >= 10_000) normalizedPaths.clear();
    normalizedPaths.set(raw, (known = normalize(raw)));
  }
  return known;
}

const normalizedPaths = new Map<string, { readonly path: string } | 'rejected'>();

function normalize(raw: string): { readonly path: string } | 'rejected' {
  // Nothing to decode, no backslash and no dot segment: the path is its own normal form (the verifier asks
  // this for every path comparison of every request).
  if (raw.startsWith('/') && !/[%\\]|\/\.\.?(\/|$)/.test(raw)) return { path: raw };
  if (/%00/.test(raw)) return 'rejected';
  const decoded = raw.replace(/%(2[dDeE]|3[0-9]|[4][1-9a-fA-F]|5[0-9aA]|5[fF]|6[1-9a-fA-F]|7[0-9aA]|7[eE])/g, (_match: string, hex: string) =>
    String.fromCharCode(parseInt(hex, 16)),
  );
  const slashed = decoded.replace(/\\/g, '/');
  // RFC 3986 §5.2.4, segment by segment: '.' drops itself, '..' drops itself and the segment before it.
  const segments = slashed.split('/');
  const out: string[] = [];
  segments.slice(1).forEach((segment, i) => {
    const last = i === segments.length - 2;
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop();
      if (last) out.push('');
    } else out.push(segment);
  });
  return { path: `/${out.join('/')}` };
}
