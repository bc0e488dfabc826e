/**
 * IPv4/IPv6 CIDR arithmetic for NetworkAuthentication: parsing, containment, and subtracting a block
 * from a list of `{cidr, except}` entries. Two CIDR blocks are always either nested or disjoint, so
 * subtracting an ipBlock deny from a network grant is always exact (it becomes an `except`).
 * @internal
 */

export interface Cidr {
  readonly family: 4 | 6;
  /** Network address with host bits cleared. */
  readonly bits: bigint;
  readonly length: number;
  /** The text to write: the user's own spelling, or a canonical one for the built-in blocks. */
  readonly text: string;
}

/** One NetworkAuthentication `networks` entry: `cidr` minus every `except` block. */
export interface NetEntry {
  readonly cidr: Cidr;
  readonly except: readonly Cidr[];
}

const WIDTH = { 4: 32, 6: 128 } as const;

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  const double = text.indexOf('::');
  if (double !== -1 && text.indexOf('::', double + 1) !== -1) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseV4(piece);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  let groups: number[];
  if (double === -1) {
    const all = groupsOf(text);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  } else {
    const head = groupsOf(text.slice(0, double));
    const tail = groupsOf(text.slice(double + 2));
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Parses `a.b.c.d[/n]` or an IPv6 address `[/n]`; a bare address is a /32 or /128. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family: 4 | 6 = address.includes(':') ? 6 : 4;
  const width: number = WIDTH[family];
  let length = width;
  if (slash !== -1) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText)) return undefined;
    length = Number(lengthText);
    if (length > width) return undefined;
  }
  const raw = family === 4 ? parseV4(address) : parseV6(address);
  if (raw === undefined) return undefined;
  const hostBits = BigInt(width - length);
  return { family, bits: (raw >> hostBits) << hostBits, length, text };
}

/** Every IPv4 and every IPv6 address: what "no network restriction" means to Linkerd. */
export const ALL_NETWORKS: readonly NetEntry[] = [
  { cidr: parseCidr('0.0.0.0/0') as Cidr, except: [] },
  { cidr: parseCidr('::/0') as Cidr, except: [] },
];

/** Does `outer` contain every address of `inner`? */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.length > inner.length) return false;
  const shift = BigInt(WIDTH[outer.family] - outer.length);
  return outer.bits >> shift === inner.bits >> shift;
}

export function overlapsCidr(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.length === b.length && a.bits === b.bits;
}

/** A stable key for a block (independent of how the user spelled it). */
export function cidrKey(c: Cidr): string {
  return `${c.family}/${c.bits.toString(16)}/${c.length}`;
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
