#!/usr/bin/env node
/**
 * The `policyc` command: parse flags, call the compiler, print. Exit 0 on success, 1 on policy errors,
 * 2 on usage or internal errors. Each command is registered from its own file.
 */
import { Command, CommanderError } from 'commander';
import { diagnostic } from '../diagnostics/diagnostic';
import { registerBuild } from './build';
import { registerImport } from './import';
import { EXIT, report, type Io } from './common';
import { registerReview } from './review';
import { registerMatrix } from './matrix';
import { registerVerify } from './verify';

export { DEFAULT_ENTRY, DEFAULT_OUT, EXIT } from './common';

/** Runs the CLI with these arguments (without `node policyc`) and returns the exit code. */
export function main(argv: readonly string[], io: Io): number {
  let exit: number = EXIT.ok;
  const context = { io, setExit: (code: number) => (exit = code) };
  const program = new Command('policyc')
    .description('Compile typed TypeScript mesh policy into Istio and Linkerd manifests.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  registerBuild(program, context);
  registerReview(program, context);
  registerVerify(program, context);
  registerMatrix(program, context);
  registerImport(program, context);

  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    report([diagnostic('internal-error', `policyc failed: ${message}`)], 'text', io, () => undefined);
    return EXIT.usage;
  }
  return exit;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    color: process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined,
  });
}
