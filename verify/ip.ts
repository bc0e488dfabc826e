/**
 * IP addresses and CIDR blocks as the mesh simulators read them from emitted objects and requests. The
 * simulators share this module with each other but not with the compiler (model/cidr.ts): they are the
 * independent check of the targets, so a parsing mistake on one side cannot hide the same mistake on the other.
 *
 * Accepted: `a.b.c.d`, IPv6 text (hex groups, at most one `::` standing for at least one zero group, an
 * embedded IPv4 address as the last 32 bits), and either followed by `/<prefix length>` for a block; a bare
 * address is a /32 or /128 block. Host bits may be set (both meshes match on the network part only).
 */

export interface Ip {
  readonly family: 4 | 6;
  /** The address as an integer of 32 or 128 bits. */
  readonly bits: bigint;
}

export interface IpBlock {
  /** The address as written, host bits included. */
  readonly ip: Ip;
  readonly prefix: number;
}

export interface IpSyntax {
  /**
   * Whether an IPv4 part may have leading zeros (read as decimal). Go's parser, which Istio's webhook uses,
   * rejects them, since other parsers read them as octal.
   */
  readonly leadingZeros: boolean;
}

const STRICT: IpSyntax = { leadingZeros: false };

const widthOf = (family: 4 | 6): number => (family === 4 ? 32 : 128);

function parseIpv4(text: string, syntax: IpSyntax): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let bits = 0n;
  for (const part of parts) {
    const shaped = syntax.leadingZeros ? /^[0-9]{1,3}$/.test(part) : /^(0|[1-9][0-9]{0,2})$/.test(part);
    if (!shaped || Number(part) > 255) return undefined;
    bits = (bits << 8n) | BigInt(Number(part));
  }
  return bits;
}

/** An IPv4 or IPv6 address; undefined for anything else (a block, a zone id, a host name). */
export function parseIp(text: string, syntax: IpSyntax = STRICT): Ip | undefined {
  return text.includes('/') ? undefined : parseIpBlock(text, syntax)?.ip;
}

function readIp(text: string, syntax: IpSyntax): Ip | undefined {
  if (!text.includes(':')) {
    const bits = parseIpv4(text, syntax);
    return bits === undefined ? undefined : { family: 4, bits };
  }
  // An embedded IPv4 address stands for the last two groups.
  let groupsText = text;
  let tail: bigint[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(text.slice(lastColon + 1), syntax);
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    groupsText = text.slice(0, lastColon + 1);
    if (!groupsText.endsWith('::')) groupsText = groupsText.slice(0, -1);
  }
  const halves = groupsText.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string | undefined): bigint[] | undefined => {
    if (half === undefined || half === '') return [];
    const out: bigint[] = [];
    for (const group of half.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
      out.push(BigInt(parseInt(group, 16)));
    }
    return out;
  };
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if (head === undefined || rest === undefined) return undefined;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const all = [...head, ...Array<bigint>(8 - given).fill(0n), ...rest, ...tail];
  return { family: 6, bits: all.reduce((acc, group) => (acc << 16n) | group, 0n) };
}

/**
 * Parsed blocks by syntax and text: a simulator meets the same few blocks in every request it decides.
 * Bounded, so a long-lived process does not grow with every block it ever saw.
 */
const parsedBlocks = new Map<string, IpBlock | undefined>();
const PARSED_MAX = 4096;

/** `<address>/<prefix length>` or a bare address; undefined when it is neither. */
export function parseIpBlock(text: string, syntax: IpSyntax = STRICT): IpBlock | undefined {
  const key = `${syntax.leadingZeros ? 'z' : 's'}${text}`;
  if (parsedBlocks.has(key)) return parsedBlocks.get(key);
  if (parsedBlocks.size >= PARSED_MAX) parsedBlocks.clear();
  const block = readBlock(text, syntax);
  parsedBlocks.set(key, block);
  return block;
}

function readBlock(text: string, syntax: IpSyntax): IpBlock | undefined {
  const [address, length, extra] = text.split('/');
  if (address === undefined || extra !== undefined) return undefined;
  const ip = readIp(address, syntax);
  if (ip === undefined) return undefined;
  const width = widthOf(ip.family);
  if (length === undefined) return { ip, prefix: width };
  if (!/^[0-9]{1,3}$/.test(length) || Number(length) > width) return undefined;
  return { ip, prefix: Number(length) };
}

/** Is the address inside the block? Never across families. */
export function inBlock(ip: Ip, block: IpBlock): boolean {
  if (ip.family !== block.ip.family) return false;
  const shift = BigInt(widthOf(ip.family) - block.prefix);
  return ip.bits >> shift === block.ip.bits >> shift;
}

/** Does `outer` hold every address of `inner`? */
export function blockWithin(inner: IpBlock, outer: IpBlock): boolean {
  return inner.prefix >= outer.prefix && inBlock(inner.ip, outer);
}

/** `::ffff:a.b.c.d`: an IPv4 address written as IPv6, which meshes may or may not match as IPv4. */
export function isV4Mapped(ip: Ip): boolean {
  return ip.family === 6 && ip.bits >> 32n === 0xffffn;
}
