/**
 * The Linkerd-specific CIDR arithmetic for NetworkAuthentication: subtracting a block from a list of
 * `{cidr, except}` entries, and stable keys for entries. Parsing and containment are the compiler's
 * (model/cidr.ts). Two CIDR blocks are always either nested or disjoint, so subtracting an ipBlock
 * deny from a network grant is always exact (it becomes an `except`).
 * @internal
 */
import { containsCidr, overlapsCidr, parseCidr, type Cidr } from '../../model/cidr';

/** One NetworkAuthentication `networks` entry: `cidr` minus every `except` block (each written as its `text`). */
export interface NetEntry {
  readonly cidr: Cidr;
  readonly except: readonly Cidr[];
}

/** Every IPv4 and every IPv6 address: what "no network restriction" means to Linkerd. */
export const ALL_NETWORKS: readonly NetEntry[] = [
  { cidr: parseCidr('0.0.0.0/0') as Cidr, except: [] },
  { cidr: parseCidr('::/0') as Cidr, except: [] },
];

/** A stable key for a block (independent of how the user spelled it). */
function cidrKey(c: Cidr): string {
  return `${c.family}/${c.network.toString(16)}/${c.prefix}`;
}

/**
 * `entries` minus every address in `block`, exactly. Since CIDR blocks nest or are disjoint, each
 * entry is kept, dropped, or gets `block` as one more `except` (replacing excepts inside it).
 */
export function subtractBlock(entries: readonly NetEntry[], block: Cidr): NetEntry[] {
  const out: NetEntry[] = [];
  for (const entry of entries) {
    if (!overlapsCidr(entry.cidr, block)) out.push(entry);
    else if (containsCidr(block, entry.cidr)) continue;
    else if (entry.except.some((e) => containsCidr(e, block))) out.push(entry);
    else out.push({ cidr: entry.cidr, except: [...entry.except.filter((e) => !containsCidr(block, e)), block] });
  }
  return out;
}

export function netEntryKey(entry: NetEntry): string {
  return [cidrKey(entry.cidr), ...entry.except.map(cidrKey).sort()].join('!');
}
