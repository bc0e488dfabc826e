/**
 * The golden (baseline) outputs: each example's committed `manifests/` folder, and for the broken examples
 * the printed diagnostics in `expected-diagnostics.txt`. `npm run accept` rewrites them from the current
 * compiler; review the diff before committing it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXAMPLES, runCli } from './helpers';

export interface Example {
  readonly name: string;
  readonly dir: string;
  /** Broken examples are expected to fail with diagnostics. */
  readonly broken: boolean;
}

export function examples(): Example[] {
  return fs
    .readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(EXAMPLES, e.name, 'policy.ts')))
    .map((e) => ({ name: e.name, dir: path.join(EXAMPLES, e.name), broken: e.name.startsWith('broken') }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

export const BUILD_ARGS = ['build', '--target', 'all'] as const;
export const DIAGNOSTICS_BASELINE = 'expected-diagnostics.txt';

/** Rebuilds every example's baseline. */
export function accept(): void {
  for (const example of examples()) {
    const run = runCli(BUILD_ARGS, example.dir);
    if (example.broken) fs.writeFileSync(path.join(example.dir, DIAGNOSTICS_BASELINE), run.stderr);
    process.stdout.write(`${example.name}: exit ${run.exit}\n${run.stdout}`);
  }
}

if (require.main === module) accept();
