/**
 * Diagnostics as GitHub Actions workflow commands (`--format github`): one `::error` or `::warning` line
 * per diagnostic, which GitHub shows as an annotation on the pull request's changed lines.
 * Escaping follows @actions/core (toCommandValue/escapeData/escapeProperty): in the message `%`, `\r` and
 * `\n`; in property values also `:` and `,`.
 */
import { lineAndColumn, type Diagnostic } from './diagnostic';
import { displayPath } from './format';

/** Escapes a workflow command's message. */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a workflow command's property value. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export type AnnotationLevel = 'error' | 'warning' | 'notice';

export interface Annotation {
  readonly level: AnnotationLevel;
  readonly title: string;
  readonly message: string;
  /** Relative to the working directory, `/`-separated. */
  readonly file?: string;
  readonly line?: number;
  readonly endLine?: number;
  readonly col?: number;
  readonly endColumn?: number;
}

/** One workflow command line, with its newline. */
export function formatAnnotation(a: Annotation): string {
  const properties = [
    a.file === undefined ? undefined : `file=${escapeProperty(a.file)}`,
    a.line === undefined ? undefined : `line=${a.line}`,
    a.endLine === undefined ? undefined : `endLine=${a.endLine}`,
    a.col === undefined ? undefined : `col=${a.col}`,
    a.endColumn === undefined ? undefined : `endColumn=${a.endColumn}`,
    `title=${escapeProperty(a.title)}`,
  ].filter((p) => p !== undefined);
  return `::${a.level} ${properties.join(',')}::${escapeData(a.message)}\n`;
}

/** A diagnostic as an annotation: the span's file and columns (end exclusive), related notes appended to the message. */
export function annotationOf(d: Diagnostic, cwd: string, readSource: (file: string) => string | undefined): Annotation {
  const related = (d.related ?? []).map((r) => {
    const where = r.span === undefined ? '' : `${displayPath(r.span.file, cwd)}:${r.span.line}:${r.span.column}: `;
    return `\n${where}${r.message}`;
  });
  const message = `${d.acknowledged === undefined ? '' : `Acknowledged (${d.acknowledged}): `}${d.message}${related.join('')}`;
  // An acknowledged warning stays visible in the pull request, as a notice rather than a warning.
  const level: AnnotationLevel = d.acknowledged === undefined ? d.severity : 'notice';
  if (d.span === undefined) return { level, title: d.code, message };
  const text = readSource(d.span.file);
  const end = text === undefined ? { line: d.span.line, column: d.span.column + d.span.length } : lineAndColumn(text, d.span.start + d.span.length);
  const sameLine = end.line === d.span.line;
  return {
    level,
    title: d.code,
    message,
    file: displayPath(d.span.file, cwd),
    line: d.span.line,
    ...(sameLine ? {} : { endLine: end.line }),
    col: d.span.column,
    ...(sameLine ? { endColumn: end.column } : {}),
  };
}

/** Every diagnostic as a workflow command. */
export function formatGithub(diagnostics: readonly Diagnostic[], cwd: string, readSource: (file: string) => string | undefined): string {
  return diagnostics.map((d) => formatAnnotation(annotationOf(d, cwd, readSource))).join('');
}
