/**
 * Acknowledgements: a warning the policy accepts where it arises (`acknowledge: { PC4106: 'reason' }` on a rule or
 * a port) is marked with the reason instead of being reported as a warning, and every target's output records it
 * in `acknowledged.yaml`, so a reviewer of the manifests sees what was accepted and why. The file is YAML comments
 * only (no object): `kubectl apply -f <folder>` and kustomize see an empty document, and the output folder writes
 * only `.yaml` files.
 *
 * Where an acknowledgement applies: on a rule, to the warnings located at that rule; on a port, to the warnings
 * located at its service that are about that port, or about the whole service (no port named). The validator
 * (check-model.ts) has already refused unknown codes and errors (PC3058).
 */
import type { Diagnostic, Span } from '../diagnostics/diagnostic';
import type { AcknowledgementsModel, PolicyModel, SourceLocation } from '../model/model';
import { header } from './render';

/** The file of a target's output folder that lists the acknowledged warnings. */
export const ACKNOWLEDGED_FILE = 'acknowledged.yaml';

interface Site {
  readonly file: string;
  readonly start: number;
  readonly acknowledge: AcknowledgementsModel;
  /** A port's acknowledgements; absent for a rule's. */
  readonly port?: string;
}

/** Marks the warnings the model acknowledges; everything else is returned as it was. */
export function markAcknowledged(
  model: PolicyModel,
  diagnostics: readonly Diagnostic[],
  spanOf: (location: SourceLocation | undefined) => Span | undefined,
): Diagnostic[] {
  const sites: Site[] = [];
  const add = (location: SourceLocation | undefined, acknowledge: AcknowledgementsModel | undefined, port?: string): void => {
    const span = spanOf(location);
    if (span === undefined || acknowledge === undefined) return;
    sites.push({ file: span.file, start: span.start, acknowledge, ...(port === undefined ? {} : { port }) });
  };
  for (const rule of model.rules) add(rule.location, rule.acknowledge);
  for (const service of model.services) for (const port of service.ports) add(service.location, port.acknowledge, port.name);
  if (sites.length === 0) return [...diagnostics];
  return diagnostics.map((d) => {
    if (d.severity !== 'warning' || d.span === undefined) return d;
    const span = d.span;
    const site = sites.find(
      (s) =>
        s.file === span.file &&
        s.start === span.start &&
        s.acknowledge[d.code] !== undefined &&
        (s.port === undefined || d.port === undefined || d.port === s.port),
    );
    return site === undefined ? d : { ...d, acknowledged: site.acknowledge[d.code] as string };
  });
}

/** `acknowledged.yaml` of a target's folder: one line per acknowledged warning, or undefined when there is none. */
export function acknowledgedReport(diagnostics: readonly Diagnostic[], entry: string, relative: (file: string) => string): string | undefined {
  const lines = diagnostics
    .filter((d) => d.acknowledged !== undefined)
    .map((d) => {
      const where = d.span === undefined ? '' : `${relative(d.span.file)}:${d.span.line}:${d.span.column} `;
      return `# ${d.code} ${where}acknowledged: ${oneLine(d.acknowledged ?? '')} | warning: ${oneLine(d.message)}\n`;
    });
  if (lines.length === 0) return undefined;
  return `${header(entry)}# Warnings the policy acknowledges: code, where, the policy's reason, the warning.\n${[...new Set(lines)].sort().join('')}`;
}

/**
 * The text on one comment line: a reason or message can never add a line, a key or a document of its own to the
 * report (line breaks of YAML 1.1 and 1.2, NEL included, and every other control character become spaces).
 */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}
