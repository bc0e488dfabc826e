/**
 * Where policyc's own files are at run time. The compiled JavaScript (`dist/`) is what worker threads and
 * child processes start, and the DSL declarations the checker reads; the tests run from the TypeScript
 * sources (jest), so every such path is taken from the package root, never from this file's folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'schemas'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`policyc: no package root above ${from}`);
  }
}

/** The installed package (or the checkout). */
export const PACKAGE_ROOT = findPackageRoot(__dirname);

/** A compiled file of the package, by its path under `dist/`. */
export function compiledFile(relative: string): string {
  return path.join(PACKAGE_ROOT, 'dist', relative);
}

/** The vendored real CRDs, one folder per set (`schemas/crds/<set>/`). */
export const VENDORED_CRDS = path.join(PACKAGE_ROOT, 'schemas', 'crds');
