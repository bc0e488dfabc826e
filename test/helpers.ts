/** Shared test helpers: the repository's folders, and the CLI run in-process with captured output. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../cli/main';
import { PACKAGE_ROOT } from '../compiler/package-files';

/** The repository root (the same whether a test runs from the sources or from dist/). */
export const REPO = PACKAGE_ROOT;
export const EXAMPLES = path.join(REPO, 'examples');
/** shared/ beside the checkout: real CRDs and mesh docs (absent outside this workplace). */
export const SHARED = path.resolve(REPO, '..', 'shared');

export interface CliRun {
  readonly exit: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], cwd: string): CliRun {
  let stdout = '';
  let stderr = '';
  const exit = main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd });
  return { exit, stdout, stderr };
}

/** A fresh temporary folder holding the given files. */
export function tempProject(files: Readonly<Record<string, string>>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-test-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Every file under a folder, relative path → content. */
export function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out.set(path.relative(dir, full).split(path.sep).join('/'), fs.readFileSync(full, 'utf8'));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}
