/**
 * Diagnostics as SARIF 2.1.0 (`--format sarif`), for GitHub code scanning
 * (github/codeql-action/upload-sarif) and other SARIF viewers. One run, tool `policyc`, one reporting
 * rule per catalog entry (id = code, name = kebab-case id); results point at the policy source with
 * paths relative to the working directory and 1-based columns in UTF-16 code units, end exclusive.
 */
import { catalog, type DiagnosticId } from './catalog';
import { lineAndColumn, type Diagnostic, type Span } from './diagnostic';
import { displayPath } from './format';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

const ids = Object.keys(catalog) as DiagnosticId[];

function region(span: Span, readSource: (file: string) => string | undefined): Record<string, number> {
  const text = readSource(span.file);
  const end = text === undefined ? { line: span.line, column: span.column + span.length } : lineAndColumn(text, span.start + span.length);
  return { startLine: span.line, startColumn: span.column, ...(end.line === span.line ? {} : { endLine: end.line }), endColumn: end.column };
}

function location(span: Span, cwd: string, readSource: (file: string) => string | undefined): unknown {
  return { physicalLocation: { artifactLocation: { uri: encodeURI(displayPath(span.file, cwd)) }, region: region(span, readSource) } };
}

/** The SARIF log of these diagnostics, as an object. */
export function sarifLog(diagnostics: readonly Diagnostic[], cwd: string, readSource: (file: string) => string | undefined): unknown {
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'policyc',
            rules: ids.map((id) => ({
              id: catalog[id].code,
              name: id,
              shortDescription: { text: catalog[id].summary },
              defaultConfiguration: { level: catalog[id].severity },
            })),
          },
        },
        columnKind: 'utf16CodeUnits',
        results: diagnostics.map((d) => ({
          ruleId: d.code,
          ruleIndex: ids.indexOf(d.id),
          level: d.severity,
          message: { text: d.message },
          // SARIF's own record of a result accepted in the source, with the user's reason (§3.35 suppression).
          ...(d.acknowledged === undefined ? {} : { suppressions: [{ kind: 'inSource', justification: d.acknowledged }] }),
          ...(d.span === undefined ? {} : { locations: [location(d.span, cwd, readSource)] }),
          ...(d.related === undefined || d.related.every((r) => r.span === undefined)
            ? {}
            : {
                relatedLocations: d.related
                  .filter((r) => r.span !== undefined)
                  .map((r, i) => ({ id: i, ...(location(r.span as Span, cwd, readSource) as object), message: { text: r.message } })),
              }),
        })),
      },
    ],
  };
}

/** The SARIF log as printed: two-space JSON and a newline. */
export function formatSarif(diagnostics: readonly Diagnostic[], cwd: string, readSource: (file: string) => string | undefined): string {
  return `${JSON.stringify(sarifLog(diagnostics, cwd, readSource), null, 2)}\n`;
}
