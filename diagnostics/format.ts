/**
 * Printing diagnostics the way tsc does: `file:line:col - error PC3001: message`, then the source line
 * with `~~~` under the span. Colour only when asked (the CLI asks when stdout is a terminal).
 */
import * as path from 'node:path';
import type { Diagnostic, Span } from './diagnostic';

export interface FormatOptions {
  /** Paths are printed relative to this folder. */
  readonly cwd: string;
  readonly color: boolean;
  /** Source text of a file, for the code frame; undefined when it cannot be read. */
  readonly readSource: (file: string) => string | undefined;
}

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
  const head = `${d.span === undefined ? '' : `${location(d.span, options)} - `}${paint(d.severity, colour, options)} ${paint(`${d.code}`, 'grey', options)}: ${d.message}`;
  const out = [head, ...(d.span === undefined ? [] : codeFrame(d.span, options, colour))];
  for (const related of d.related ?? []) {
    out.push('', `  ${related.span === undefined ? '' : `${location(related.span, options)}: `}${related.message}`);
    if (related.span !== undefined) out.push(...codeFrame(related.span, options, 'cyan').map((l) => (l === '' ? l : `  ${l}`)));
  }
  return out.join('\n');
}

/** Every diagnostic, then a summary line as tsc prints it. */
export function formatDiagnostics(diagnostics: readonly Diagnostic[], options: FormatOptions): string {
  if (diagnostics.length === 0) return '';
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const body = diagnostics.map((d) => formatDiagnostic(d, options)).join('\n\n');
  const counts = [errors > 0 ? `${errors} error${errors === 1 ? '' : 's'}` : '', warnings > 0 ? `${warnings} warning${warnings === 1 ? '' : 's'}` : ''].filter(
    (s) => s !== '',
  );
  return `${body}\n\nFound ${counts.join(' and ')}.\n`;
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
