/**
 * `policyc matrix`: who may call whom, per port, as a text table, JSON, CSV or Markdown — read off the
 * access matrix (`compiler/access.ts`), which `decide()` confirms edge by edge.
 */
import { Option, type Command } from 'commander';
import { accessMatrix, describeLimits, type AccessEdge } from '../review/access';
import { DEFAULT_EVALUATION_TIMEOUT_MS } from '../compiler/compile';
import { DEFAULT_ENTRY, EXIT, report, runCompile, type CommandContext } from './common';

const COLUMNS = ['from', 'to', 'port', 'protocol', 'mtls', 'allows', 'except', 'plaintext'] as const;

function row(edge: AccessEdge): Record<(typeof COLUMNS)[number], string> {
  return {
    from: edge.source,
    to: edge.destination,
    port: `${edge.port} (${edge.portNumber})`,
    protocol: edge.protocol,
    mtls: edge.mtls,
    allows: describeLimits(edge.limits, edge.protocol),
    except: edge.except.length === 0 ? '' : describeLimits(edge.except, edge.protocol),
    plaintext: edge.plaintext ? 'yes' : 'no',
  };
}

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function formatMatrix(edges: readonly AccessEdge[], format: 'text' | 'json' | 'csv' | 'markdown'): string {
  const rows = edges.map(row);
  switch (format) {
    case 'json':
      return `${JSON.stringify(rows, null, 2)}\n`;
    case 'csv':
      return `${[COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n')}\n`;
    case 'markdown':
      return `${[`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${COLUMNS.map((c) => r[c].replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n')}\n`;
    case 'text': {
      const widths = COLUMNS.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
      const line = (cells: readonly string[]) =>
        cells
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd();
      return `${[line(COLUMNS), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(COLUMNS.map((c) => r[c])))].join('\n')}\n`;
    }
    default:
      return format satisfies never;
  }
}

export function registerMatrix(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('matrix')
    .description('who may call whom, per port: every allowed call with its method and path limits')
    .argument('[entry]', 'the policy entry file', DEFAULT_ENTRY)
    .addOption(new Option('--format <format>', 'table format').choices(['text', 'json', 'csv', 'markdown']).default('text'))
    .option('--eval-timeout <ms>', 'bound on policy evaluation, in milliseconds', String(DEFAULT_EVALUATION_TIMEOUT_MS))
    .option('--verbose', 'print every warning in full (by default, one line per warning code)')
    .action((entry: string, options: { format: 'text' | 'json' | 'csv' | 'markdown'; evalTimeout: string; verbose?: boolean }) => {
      const { result, exit } = runCompile(entry, { target: 'istio', format: 'text', evalTimeout: options.evalTimeout }, io);
      if (result === undefined) return context.setExit(exit);
      report(result.diagnostics, 'text', io, (f) => result.store.read(f), options);
      if (result.model === undefined || exit !== EXIT.ok) return context.setExit(exit === EXIT.ok ? EXIT.policyErrors : exit);
      io.stdout(formatMatrix(accessMatrix(result.model), options.format));
    });
}
