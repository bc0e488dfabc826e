import { createHash } from 'node:crypto';

/** A short, stable hash of some text (hex, 8 characters): for ids and name suffixes, never for security. */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}
