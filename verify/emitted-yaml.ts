/**
 * Reading emitted YAML fast. A general YAML library builds a document model per object and reads about
 * 1.5 MB/s on this machine: at N = 1,000 the 18 MB of the three targets' output were the largest cost of each
 * verify thread. The build writes one narrow block form; this reader accepts exactly a subset of YAML that
 * covers it, and for a file with anything else answers `undefined`, and that file is read by the `yaml`
 * library as before. So the objects are always the ones the library gives: built here where the meaning of
 * every line is certain, by the library otherwise.
 *
 * The subset: printable ASCII lines; whole-line comments at column 0; `---` alone between documents; block
 * maps and sequences, each nesting indented further (the form written, two spaces); keys that are plain words
 * or JSON strings, never twice in one map; scalars that are JSON double-quoted strings (JSON's escapes are
 * YAML's, with the same meaning), `[]`, `{}`, or plain scalars resolved by the YAML 1.2 core schema (the
 * `yaml` library's default; YAML 1.2.2 §10.3.2, https://yaml.org/spec/1.2.2/#1032-tag-resolution) only where
 * the resolution is certain from the first character: a word or path (a string, or `null`/`true`/`false`),
 * a decimal integer, or digits with a `/`, a `:` or two dots (no core-schema number has any of those: an
 * address or block). Anything else — anchors, aliases, tags, flow collections, block scalars, multi-line
 * scalars, single quotes, floats, signs — falls back.
 */
import { parseAllDocuments } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Thrown where a line is outside the subset: the file is read by the library instead. */
class OutsideSubset extends Error {}

const outside = (): never => {
  throw new OutsideSubset();
};

/** `key:` or `key: value`; the key a plain word or a JSON string. */
const ENTRY = /^([A-Za-z][A-Za-z0-9_./-]*|"(?:[^"\\]|\\.)*"):(?: (.*))?$/;
const QUOTED = /^"(?:[^"\\]|\\.)*"$/;
/** Characters of a plain scalar taken here; the first one decides how it resolves. */
const PLAIN = /^[A-Za-z0-9/][A-Za-z0-9_./^$*()+=~@: -]*$/;
const WORD_START = /^[A-Za-z/]/;
const DECIMAL = /^(?:0|[1-9][0-9]{0,14})$/;
/** Digits with a `/`, a `:` or two dots: no core-schema int or float matches (an address, a block, a time). */
const NOT_A_NUMBER = /^[0-9][^/:]*[/:]|^[0-9][^.]*\.[^.]*\./;
/** Plain words the core schema resolves to null or a boolean (every other word starting with a letter is a string). */
const WORDS: ReadonlyMap<string, Json> = new Map<string, Json>([
  ['null', null],
  ['Null', null],
  ['NULL', null],
  ['true', true],
  ['True', true],
  ['TRUE', true],
  ['false', false],
  ['False', false],
  ['FALSE', false],
]);
const PRINTABLE = /^[\n\x20-\x7e]*$/;

function scalar(text: string): Json {
  if (text.startsWith('"')) {
    if (!QUOTED.test(text)) return outside();
    try {
      return JSON.parse(text) as string;
    } catch {
      return outside();
    }
  }
  if (text === '[]') return [];
  if (text === '{}') return {};
  // A plain scalar ends at `: ` (a key) or ` #` (a comment) and never with a space or a colon.
  if (!PLAIN.test(text) || text.includes(': ') || text.includes(' #') || text.endsWith(' ') || text.endsWith(':')) return outside();
  if (WORD_START.test(text)) return WORDS.has(text) ? (WORDS.get(text) as Json) : text;
  if (DECIMAL.test(text)) return Number(text);
  if (NOT_A_NUMBER.test(text)) return text;
  return outside();
}

function keyOf(text: string): string {
  // A plain key that resolves to null or a boolean is left to the library.
  if (!text.startsWith('"')) return WORDS.has(text) ? outside() : text;
  const key = scalar(text) as string;
  return key === '__proto__' ? outside() : key;
}

/** One document's lines: indentation and content, with a sequence item's content rewritten in place as a line of its own. */
class Lines {
  pos = 0;
  constructor(
    readonly indents: number[],
    readonly texts: string[],
  ) {}
  get size(): number {
    return this.indents.length;
  }
  /** Whether the line at `pos` is indented deeper than `indent` (a continuation the subset does not have). */
  deeperThan(indent: number): boolean {
    return this.pos < this.size && (this.indents[this.pos] as number) > indent;
  }
}

function block(lines: Lines, indent: number): Json {
  return (lines.texts[lines.pos] as string).startsWith('- ') ? sequence(lines, indent) : map(lines, indent);
}

function sequence(lines: Lines, indent: number): Json[] {
  const items: Json[] = [];
  while (lines.pos < lines.size && lines.indents[lines.pos] === indent && (lines.texts[lines.pos] as string).startsWith('- ')) {
    const rest = (lines.texts[lines.pos] as string).slice(2);
    if (rest.startsWith('- ') || ENTRY.test(rest)) {
      // `- key: …` or `- - …`: the item is a block whose first line starts two columns further.
      lines.indents[lines.pos] = indent + 2;
      lines.texts[lines.pos] = rest;
      items.push(block(lines, indent + 2));
    } else {
      items.push(scalar(rest));
      lines.pos++;
      if (lines.deeperThan(indent)) outside();
    }
  }
  if (lines.deeperThan(indent - 1)) outside();
  return items;
}

function map(lines: Lines, indent: number): { [key: string]: Json } {
  const entries: { [key: string]: Json } = {};
  while (lines.pos < lines.size && lines.indents[lines.pos] === indent) {
    const entry = ENTRY.exec(lines.texts[lines.pos] as string) ?? outside();
    const key = keyOf(entry[1] as string);
    if (Object.prototype.hasOwnProperty.call(entries, key)) outside();
    lines.pos++;
    const value = entry[2];
    if (value === undefined) {
      // `key:` alone: its value is the block indented deeper on the next line.
      if (!lines.deeperThan(indent)) outside();
      entries[key] = block(lines, lines.indents[lines.pos] as number);
    } else {
      entries[key] = scalar(value);
      if (lines.deeperThan(indent)) outside();
    }
  }
  if (lines.deeperThan(indent)) outside();
  return entries;
}

/** The documents of one file in the subset (empty ones left out), or `undefined` when any line is outside it. */
export function readEmittedYaml(text: string): Json[] | undefined {
  if (!PRINTABLE.test(text)) return undefined;
  const documents: Json[] = [];
  let indents: number[] = [];
  let texts: string[] = [];
  const finish = (): void => {
    if (texts.length === 0) return;
    const lines = new Lines(indents, texts);
    if (indents[0] !== 0) outside();
    documents.push(map(lines, 0));
    if (lines.pos !== lines.size) outside();
    indents = [];
    texts = [];
  };
  try {
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    for (const line of all) {
      if (line === '---') finish();
      else if (line.startsWith('#')) continue;
      else {
        let indent = 0;
        while (line.charCodeAt(indent) === 32) indent++;
        // Blank lines, and comments after indentation, are left to the library.
        if (indent === line.length || line.charCodeAt(indent) === 35) return undefined;
        indents.push(indent);
        texts.push(line.slice(indent));
      }
    }
    finish();
  } catch (error) {
    if (error instanceof OutsideSubset) return undefined;
    throw error;
  }
  return documents;
}

/** Every document of one YAML file as plain data, non-empty ones, read by `readEmittedYaml` or else the `yaml` library. */
export function yamlDocuments(text: string): unknown[] {
  return (
    readEmittedYaml(text) ??
    parseAllDocuments(text).flatMap((doc) => {
      const value: unknown = doc.toJS();
      return value === null ? [] : [value];
    })
  );
}
