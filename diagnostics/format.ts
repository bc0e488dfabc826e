/**
 * Printing diagnostics the way tsc does: `file:line:col - error PC3001: message`, then the source line
 * with `~~~` under the span. Colour only when asked (the CLI asks when the stream carrying the text, stderr,
 * is a terminal: see colourFor). Warnings can be summarised to one line per code: a large policy can have
 * thousands, and the errors must not drown in them.
 */
import * as path from 'node:path';
import { catalog } from './catalog';
import type { Diagnostic, Span } from './diagnostic';

export interface FormatOptions {
  /** Paths are printed relative to this folder. */
  readonly cwd: string;
  readonly color: boolean;
  /** Source text of a file, for the code frame; undefined when it cannot be read. */
  readonly readSource: (file: string) => string | undefined;
  /** One line per warning code (count, first locations) instead of every warning in full. */
  readonly summariseWarnings?: boolean;
}

/**
 * Whether to colour text for a stream. FORCE_COLOR wins (`0` or `false` turn colour off, any other value on),
 * as in Node itself; then NO_COLOR, when set and not empty (no-color.org); then TERM=dumb; then whether the
 * stream is a terminal.
 */
export function colourFor(isTTY: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if ((env['NO_COLOR'] ?? '') !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return isTTY;
}

/** How many locations a summary line names before "and N more". */
const SUMMARY_LOCATIONS = 3;

const ansi = { red: '\u001b[91m', yellow: '\u001b[93m', cyan: '\u001b[96m', grey: '\u001b[90m', reset: '\u001b[0m' };

/** A path as printed: relative to cwd, always with `/`. */
export function displayPath(file: string, cwd: string): string {
  return path.relative(cwd, file).split(path.sep).join('/');
}

function paint(text: string, colour: keyof typeof ansi, options: FormatOptions): string {
  return options.color ? `${ansi[colour]}${text}${ansi.reset}` : text;
}

function location(span: Span, options: FormatOptions): string {
  return `${paint(displayPath(span.file, options.cwd), 'cyan', options)}:${span.line}:${span.column}`;
}

function codeFrame(span: Span, options: FormatOptions, colour: keyof typeof ansi): string[] {
  const text = options.readSource(span.file);
  if (text === undefined) return [];
  const lines = text.split('\n');
  const sourceLine = (lines[span.line - 1] ?? '').replace(/\r$/, '');
  const gutter = String(span.line);
  const underlineLength = Math.max(1, Math.min(span.length, sourceLine.length - (span.column - 1)));
  return [
    '',
    `${paint(gutter, 'grey', options)} ${sourceLine}`,
    `${' '.repeat(gutter.length)} ${' '.repeat(span.column - 1)}${paint('~'.repeat(underlineLength), colour, options)}`,
  ];
}

/** One diagnostic as text, with its code frame and related spans. */
export function formatDiagnostic(d: Diagnostic, options: FormatOptions): string {
  const colour = d.severity === 'error' ? 'red' : 'yellow';
  const out = [headLine(d, options), ...(d.span === undefined ? [] : codeFrame(d.span, options, colour))];
  for (const related of d.related ?? []) {
    out.push('', `  ${related.span === undefined ? '' : `${location(related.span, options)}: `}${related.message}`);
    if (related.span !== undefined) out.push(...codeFrame(related.span, options, 'cyan').map((l) => (l === '' ? l : `  ${l}`)));
  }
  return out.join('\n');
}

function headLine(d: Diagnostic, options: FormatOptions): string {
  const colour = d.severity === 'error' ? 'red' : 'yellow';
  return `${d.span === undefined ? '' : `${location(d.span, options)} - `}${paint(d.severity, colour, options)} ${paint(`${d.code}`, 'grey', options)}: ${d.message}`;
}

/** Warnings of one code as one line: the warning itself when alone, otherwise the count, what the code means and where the first ones are. */
function warningSummary(group: readonly Diagnostic[], options: FormatOptions): string {
  const first = group[0];
  if (first === undefined) return '';
  if (group.length === 1) return headLine(first, options);
  const summary = catalog[first.id].summary;
  // Distinct places: one service can hold several warnings of a code (one per port), named once.
  const places = [...new Set(group.flatMap((d) => (d.span === undefined ? [] : [location(d.span, options)])))];
  const where = places.slice(0, SUMMARY_LOCATIONS);
  const more = places.length - where.length;
  return `${paint('warning', 'yellow', options)} ${paint(first.code, 'grey', options)} ×${group.length}: ${summary}${
    where.length > 0 ? ` At ${where.join(', ')}${more > 0 ? ` and ${more} more` : ''}.` : ''
  }`;
}

/**
 * Acknowledged warnings: one line per code when summarising (count, the first reason, the first locations),
 * otherwise one line each with its reason and message.
 */
function acknowledgedLines(acknowledged: readonly Diagnostic[], options: FormatOptions): string[] {
  const where = (d: Diagnostic): string => (d.span === undefined ? '' : `${location(d.span, options)} - `);
  if (options.summariseWarnings !== true) {
    return acknowledged.map((d) => `${where(d)}${paint('acknowledged', 'grey', options)} ${d.code} (${d.acknowledged ?? ''}): ${d.message}`);
  }
  const byCode = new Map<string, Diagnostic[]>();
  for (const d of acknowledged) byCode.set(d.code, [...(byCode.get(d.code) ?? []), d]);
  return [...byCode.keys()].sort().map((code) => {
    const group = byCode.get(code) ?? [];
    const located = [...new Set(group.flatMap((d) => (d.span === undefined ? [] : [location(d.span, options)])))];
    const shown = located.slice(0, SUMMARY_LOCATIONS);
    const more = located.length - shown.length;
    return `${paint('acknowledged', 'grey', options)} ${code} ×${group.length} (${group[0]?.acknowledged ?? ''})${
      shown.length > 0 ? ` at ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}` : ''
    }`;
  });
}

/** Every diagnostic (or every error and a summary of the warnings), then a count line as tsc prints it. */
export function formatDiagnostics(all: readonly Diagnostic[], options: FormatOptions): string {
  const acknowledged = all.filter((d) => d.acknowledged !== undefined);
  const diagnostics = all.filter((d) => d.acknowledged === undefined);
  if (diagnostics.length === 0) return acknowledged.length === 0 ? '' : `${acknowledgedLines(acknowledged, options).join('\n')}\n`;
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  let parts: string[];
  if (options.summariseWarnings === true && warnings > 0) {
    const byCode = new Map<string, Diagnostic[]>();
    for (const d of diagnostics) if (d.severity === 'warning') byCode.set(d.code, [...(byCode.get(d.code) ?? []), d]);
    parts = [
      ...diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d, options)),
      [...byCode.keys()]
        .sort()
        .map((code) => warningSummary(byCode.get(code) ?? [], options))
        .join('\n'),
    ];
  } else {
    parts = diagnostics.map((d) => formatDiagnostic(d, options));
  }
  const counts = [errors > 0 ? `${errors} error${errors === 1 ? '' : 's'}` : '', warnings > 0 ? `${warnings} warning${warnings === 1 ? '' : 's'}` : ''].filter(
    (s) => s !== '',
  );
  const hint = options.summariseWarnings === true && warnings > 0 ? ' Warnings are summarised: --verbose prints each with its source line.' : '';
  const listed = acknowledged.length === 0 ? '' : `${acknowledgedLines(acknowledged, options).join('\n')}\n`;
  return `${parts.join('\n\n')}\n\n${listed}Found ${counts.join(' and ')}.${hint}\n`;
}

/** Diagnostics as data, paths relative to cwd, for `--format json`. */
export function diagnosticsAsJson(diagnostics: readonly Diagnostic[], cwd: string): unknown {
  const relative = (span: Span | undefined): Span | undefined => (span === undefined ? undefined : { ...span, file: displayPath(span.file, cwd) });
  return diagnostics.map((d) => ({
    ...d,
    ...(d.span === undefined ? {} : { span: relative(d.span) }),
    ...(d.related === undefined ? {} : { related: d.related.map((r) => ({ ...r, ...(r.span === undefined ? {} : { span: relative(r.span) }) })) }),
  }));
}
