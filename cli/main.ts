#!/usr/bin/env node
/**
 * The `policyc` command: parse flags, call the compiler, print. Exit 0 on success, 1 on policy errors (and
 * stale output under `build --check`), 2 on usage, output-folder and internal errors: the README's exit table,
 * checked row by row in test/cli.test.ts. Each command is registered from its own file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { PACKAGE_ROOT } from '../compiler/package-files';
import { diagnostic } from '../diagnostics/diagnostic';
import { registerBuild } from './build';
import { registerImport } from './import';
import { EXIT, report, type Io } from './common';
import { registerReview } from './review';
import { registerMatrix } from './matrix';
import { registerVerify } from './verify';
import { registerInit } from './init';
import { registerLsp } from './lsp';

export { DEFAULT_ENTRY, DEFAULT_OUT, EXIT } from './common';

/** The installed package's version, from its package.json. */
export function packageVersion(): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

/** Runs the CLI with these arguments (without `node policyc`) and returns the exit code. */
export function main(argv: readonly string[], io: Io): number {
  let exit: number = EXIT.ok;
  const context = { io, setExit: (code: number) => (exit = code) };
  const program = new Command('policyc')
    .description('Compile typed TypeScript mesh policy into Istio and Linkerd manifests.')
    .version(packageVersion(), '-V, --version', 'print the version of policyc')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  registerBuild(program, context);
  registerReview(program, context);
  registerVerify(program, context);
  registerMatrix(program, context);
  registerInit(program, context);
  registerLsp(program, context);
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
    isTTY: { stdout: process.stdout.isTTY === true, stderr: process.stderr.isTTY === true },
    env: process.env,
  });
}
