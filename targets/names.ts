/**
 * Deterministic Kubernetes object names, shared by every target: DNS-1123 labels of at most 63
 * characters, derived from the model so the same policy always gets the same names.
 */
import { shortHash } from '../model/hash';

const MAX_LABEL = 63;

/**
 * Joins parts into a DNS-1123 label: lower-case, `[a-z0-9-]`, starting and ending alphanumeric. When the
 * result would be longer than 63 characters (or had to be changed), it is cut and given a hash of the
 * parts so two different inputs never collide.
 */
export function objectName(...parts: readonly string[]): string {
  const joined = parts.join('-');
  const cleaned = joined
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (cleaned === joined && cleaned.length <= MAX_LABEL && cleaned.length > 0) return cleaned;
  const suffix = shortHash(parts.join('\u0000'));
  const room = MAX_LABEL - suffix.length - 1;
  const head = cleaned.slice(0, room).replace(/-+$/g, '');
  return head.length === 0 ? `p-${suffix}` : `${head}-${suffix}`;
}
