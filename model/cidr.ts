/**
 * IPv4/IPv6 addresses and CIDR blocks: the one parser of the compiler side (model validation, the model's
 * decision function, the targets), and the operations on blocks they share. The simulators under verify/
 * keep their own parser on purpose: they are the independent check.
 *
 * Accepted: `a.b.c.d` and IPv6 text (RFC 4291 §2.2: hex groups, one `::`, an embedded IPv4 address in
 * the last 32 bits), each optionally followed by `/<prefix length>`; a bare address is a /32 or /128.
 * Refused: IPv4 parts with leading zeros (ambiguous: some parsers read them as octal), IPv6 zone ids
 * (`%eth0`: they name a link, not a network), anything else.
 */

export interface Cidr {
  readonly family: 4 | 6;
  /** The address as written, host bits included: 4 or 16 bytes. */
  readonly bytes: readonly number[];
  /** The prefix length (32 or 128 for a bare address). */
  readonly prefix: number;
  /** The address as written, as an integer. */
  readonly address: bigint;
  /** The network address (host bits cleared), as an integer. */
  readonly network: bigint;
  /** The text as given. */
  readonly text: string;
}

const WIDTH = { 4: 32, 6: 128 } as const;

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

/** Hex groups separated by ':'; with `v4Last`, the last piece may be an IPv4 address (two groups). */
function groupsOf(part: string, v4Last: boolean): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  const pieces = part.split(':');
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] ?? '';
    if (v4Last && i === pieces.length - 1 && piece.includes('.')) {
      const v4 = parseV4(piece);
      if (v4 === undefined) return undefined;
      out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
      out.push(parseInt(piece, 16));
    }
  }
  return out;
}

function parseV6(text: string): bigint | undefined {
  const double = text.indexOf('::');
  if (double !== -1 && text.indexOf('::', double + 1) !== -1) return undefined;
  let groups: number[];
  if (double === -1) {
    const all = groupsOf(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  } else {
    const tailText = text.slice(double + 2);
    // The embedded IPv4 address ends the text: after `::` when anything follows it, else nowhere.
    const head = groupsOf(text.slice(0, double), false);
    const tail = groupsOf(tailText, true);
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function toBytes(value: bigint, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Number((value >> BigInt((count - 1 - i) * 8)) & 0xffn));
}

/**
 * Parsed blocks by text: the decision function asks about the same few blocks for every request of a model.
 * Bounded, so a long-lived process (watch, the language server) does not grow with every block it ever saw.
 */
const parsed = new Map<string, Cidr | undefined>();
const PARSED_MAX = 4096;

/** Parses an address or CIDR block (see the file comment); undefined when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  if (parsed.has(text)) return parsed.get(text);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  const cidr = parseUncached(text);
  parsed.set(text, cidr);
  return cidr;
}

function parseUncached(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const family: 4 | 6 = addressText.includes(':') ? 6 : 4;
  const width: number = WIDTH[family];
  let prefix = width;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText);
    if (prefix > width) return undefined;
  }
  const address = family === 4 ? parseV4(addressText) : parseV6(addressText);
  if (address === undefined) return undefined;
  const hostBits = BigInt(width - prefix);
  return { family, bytes: toBytes(address, width / 8), prefix, address, network: (address >> hostBits) << hostBits, text };
}

/** Canonical: no host bit is set, so the text names exactly its network. */
function isCanonical(cidr: Cidr): boolean {
  return cidr.address === cidr.network;
}

/** An address, or a CIDR block with its host bits zero. */
export function validCidr(text: string): boolean {
  const parsed = parseCidr(text);
  return parsed !== undefined && isCanonical(parsed);
}

/** Does `outer` contain every address of `inner`? */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  const shift = BigInt(WIDTH[outer.family] - outer.prefix);
  return outer.network >> shift === inner.network >> shift;
}

/** Do the blocks share an address? (Two CIDR blocks are always nested or disjoint.) */
export function overlapsCidr(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

/** The same set of addresses, however each is spelled. */
export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.network === b.network;
}

/** Is the address `ip` inside the block `cidr`? False when either does not parse. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const block = parseCidr(cidr);
  const address = parseCidr(ip);
  if (block === undefined || address === undefined || block.family !== address.family) return false;
  const shift = BigInt(WIDTH[block.family] - block.prefix);
  return address.address >> shift === block.network >> shift;
}

function addressText(family: 4 | 6, value: bigint): string {
  if (family === 4) return toBytes(value, 4).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt((7 - i) * 16)) & 0xffffn));
  // RFC 5952 §4.2: `::` replaces the longest run of two or more zero groups, the first one on a tie.
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (best.start === -1) return hex(groups);
  return `${hex(groups.slice(0, best.start))}::${hex(groups.slice(best.start + best.length))}`;
}

/** The block's canonical spelling, `<network address>/<prefix>`: the "did you mean" for a block with host bits set. */
export function canonicalCidr(cidr: Cidr): string {
  return `${addressText(cidr.family, cidr.network)}/${cidr.prefix}`;
}
