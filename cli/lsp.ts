/**
 * `policyc lsp`: the language server on stdin/stdout (what an editor starts). Messages go to stdout only;
 * the server's own log goes to stderr, which editors show in their output panel.
 */
import type { Command } from 'commander';
import { DEFAULT_ENTRY, EXIT, report, resolveTargets, type CommandContext } from './common';
import { MessageReader } from '../lsp/jsonrpc';
import { PolicyLanguageServer } from '../lsp/server';

/** A burst of keystrokes is checked once, this long after the last. */
const DEBOUNCE_MS = 50;

export function registerLsp(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('lsp')
    .description("language server (LSP over stdio): policyc's diagnostics and quick fixes while you type")
    .option('--stdio', 'talk over stdin/stdout (the default and only transport; accepted because editors pass it)')
    .option('-t, --target <name>', 'meshes the policy is checked against, as for `policyc check`', 'istio')
    .action((options: { target: string }) => {
      const chosen = resolveTargets(options.target);
      if (!Array.isArray(chosen)) {
        report([chosen], 'text', io, () => undefined);
        context.setExit(EXIT.usage);
        return;
      }
      context.keepAlive?.();
      const server = new PolicyLanguageServer(
        { send: io.stdout, log: (line) => io.stderr(`${line}\n`), exit: (code) => process.exit(code) },
        { targets: chosen, defaultEntry: DEFAULT_ENTRY, debounceMs: DEBOUNCE_MS },
      );
      const reader = new MessageReader(
        (message) => server.receive(message),
        (problem) => io.stderr(`policyc lsp: ${problem}\n`),
      );
      process.stdin.on('data', (chunk: Buffer) => reader.push(chunk));
      // The editor went away without `exit`: stop, as the protocol asks.
      process.stdin.on('end', () => {
        server.close();
        process.exit(1);
      });
    });
}
