/**
 * A YAML writer for the plain JSON data policyc emits (objects, arrays, strings, numbers, booleans, null).
 * General-purpose YAML libraries build a document model per object, which made serialisation the largest
 * cost of a build at scale; this writer emits block YAML directly. Strings are written plain only when the
 * plain form cannot be read back as anything else (YAML 1.1 and 1.2 alike); otherwise double-quoted, which is
 * JSON string syntax. The tests parse every output back with the `yaml` library and compare.
 */
import { compareStrings } from '../model/compare';

// Plain scalars we allow: a conservative character set, then never a form another type or YAML syntax claims.
const PLAIN = /^[A-Za-z0-9_./^$*()+=~@-][A-Za-z0-9_./^$*()+=~@ -]*$/;
// YAML 1.1 booleans and nulls, and anything that reads as a number, a date or a special float.
const RESERVED = /^(?:=|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/;
const NUMBER_LIKE =
  /^[-+]?[0-9_]*\.?[0-9_]*(?:[eE][-+]?[0-9]+)?$|^[-+]?0[xob]|^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$|^[0-9]{4}-[0-9]{2}-[0-9]{2}|^[0-9]+(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const plain =
    value.length > 0 &&
    PLAIN.test(value) &&
    !RESERVED.test(value) &&
    !NUMBER_LIKE.test(value) &&
    !value.endsWith(' ') &&
    !value.includes(': ') &&
    !value.includes(' #') &&
    !/^[-?:,[\]{}#&*!|>'"%@`]/.test(value) &&
    !value.startsWith('- ') &&
    // `...` at the start of a line ends the document (a top-level scalar would read as null).
    !value.startsWith('...');
  return plain ? value : JSON.stringify(value);
}

function isEmpty(value: object): boolean {
  return Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0;
}

function key(name: string): string {
  return scalar(name);
}

/** How a map's keys are ordered; `undefined` keeps the order given. */
type KeyOrder = ((name: string) => KeyOrder) & { readonly compare?: (a: string, b: string) => number };

function write(value: unknown, indent: string, out: string[], order: KeyOrder | undefined): void {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item === 'object' && item !== null && !isEmpty(item)) {
        // The first line of the item shares the dash; the rest are indented under it. Written in place and the
        // first line rewritten: no array per item (serialising allocated more than anything else in a build).
        const first = out.length;
        write(item, `${indent}  `, out, order === undefined ? undefined : order(''));
        out[first] = `${indent}- ${(out[first] ?? '').slice(indent.length + 2)}`;
      } else {
        out.push(`${indent}- ${inline(item)}`);
      }
    }
    return;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (order?.compare !== undefined) {
    const compare = order.compare;
    entries.sort(([a], [b]) => compare(a, b));
  }
  for (const [name, item] of entries) {
    if (item === undefined) continue;
    if (typeof item === 'object' && item !== null && !isEmpty(item)) {
      out.push(`${indent}${key(name)}:`);
      write(item, `${indent}  `, out, order === undefined ? undefined : order(name));
    } else {
      out.push(`${indent}${key(name)}: ${inline(item)}`);
    }
  }
}

/** A value on the same line as its key or dash: scalars and empty collections. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return '[]';
  if (typeof value === 'object' && value !== null) return '{}';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) return scalar(value);
  throw new Error(`cannot write ${typeof value} as YAML`);
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,8})$/;

/** Keys as a JavaScript object orders them (integer-like keys first, ascending), the rest by code unit. */
function plainOrder(a: string, b: string): number {
  const ia = ARRAY_INDEX.test(a);
  const ib = ARRAY_INDEX.test(b);
  if (ia || ib) return ia && ib ? Number(a) - Number(b) : ia ? -1 : 1;
  return compareStrings(a, b);
}

function firstThen(first: readonly string[]): (a: string, b: string) => number {
  return (a, b) => {
    const ia = first.indexOf(a);
    const ib = first.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? first.length : ia) - (ib === -1 ? first.length : ib);
    return plainOrder(a, b);
  };
}

function orderOf(compare: (a: string, b: string) => number, child: (name: string) => KeyOrder): KeyOrder {
  return Object.assign(child, { compare });
}

const SORTED: KeyOrder = orderOf(plainOrder, () => SORTED);
const METADATA: KeyOrder = orderOf(firstThen(['name', 'namespace']), () => SORTED);
/** Kubernetes convention: apiVersion, kind, metadata first; name and namespace first inside metadata; the rest sorted. */
export const KUBERNETES_ORDER: KeyOrder = orderOf(firstThen(['apiVersion', 'kind', 'metadata']), (name) => (name === 'metadata' ? METADATA : SORTED));

/** Block YAML for plain JSON data, ending with a newline; keys in the order given, or in `order`. */
export function stringifyYaml(value: unknown, order?: KeyOrder): string {
  if (typeof value !== 'object' || value === null || isEmpty(value)) return `${inline(value)}\n`;
  const out: string[] = [];
  write(value, '', out, order);
  return `${out.join('\n')}\n`;
}
