/**
 * Diagnostics as data: code, id, severity, message, span, related spans. Collected from every phase,
 * sorted and de-duplicated before anything is printed.
 */
import { catalog, type DiagnosticId, type Severity } from './catalog';

/** A span in a source file. `file` is an absolute path; printers make it relative to the working directory. */
export interface Span {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** 0-based offset and length of the text to underline. */
  readonly start: number;
  readonly length: number;
}

export interface RelatedInformation {
  readonly message: string;
  readonly span?: Span;
}

export interface Diagnostic {
  readonly code: `PC${number}`;
  readonly id: DiagnosticId;
  readonly severity: Severity;
  /** Says what is wrong and what to do. */
  readonly message: string;
  readonly span?: Span;
  readonly related?: readonly RelatedInformation[];
  /** The destination port (by name) a warning located at a service is about, so it can be acknowledged at that port. */
  readonly port?: string;
  /** A warning the policy acknowledged, with the user's reason: listed, never counted as a warning. */
  readonly acknowledged?: string;
}

/** Makes a diagnostic of a catalogued kind. */
export function diagnostic(id: DiagnosticId, message: string, span?: Span, related?: readonly RelatedInformation[]): Diagnostic {
  const entry = catalog[id];
  return {
    code: entry.code,
    id,
    severity: entry.severity,
    message,
    ...(span === undefined ? {} : { span }),
    ...(related === undefined || related.length === 0 ? {} : { related }),
  };
}

/** Warnings not acknowledged by the policy: the ones to show and count as warnings. */
export function isUnacknowledgedWarning(d: Diagnostic): boolean {
  return d.severity === 'warning' && d.acknowledged === undefined;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorted by file, position, code, message; exact duplicates removed. Locale-independent. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const sorted = [...diagnostics].sort(
    (a, b) =>
      compareStrings(a.span?.file ?? '', b.span?.file ?? '') ||
      (a.span?.start ?? -1) - (b.span?.start ?? -1) ||
      compareStrings(a.code, b.code) ||
      compareStrings(a.message, b.message),
  );
  return sorted.filter((d, i) => {
    const previous = sorted[i - 1];
    return (
      previous === undefined ||
      previous.code !== d.code ||
      previous.message !== d.message ||
      previous.span?.file !== d.span?.file ||
      previous.span?.start !== d.span?.start
    );
  });
}

/** Line and column (1-based) of an offset in a text. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** Offset of a 1-based line and column in a text. */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let current = 1; current < line; current++) {
    const next = text.indexOf('\n', offset);
    if (next === -1) return text.length;
    offset = next + 1;
  }
  return Math.min(offset + column - 1, text.length);
}
