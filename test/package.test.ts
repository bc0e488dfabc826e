/**
 * Adopting policyc from a team's own repository, as the team would: `npm pack`, `npm install <tarball>` into
 * a fresh folder outside policyc, `npx policyc init`, `npx policyc build`, and the team's own
 * `npx tsc --noEmit`, in a CommonJS and in a `"type": "module"` package, with no manual step. The tarball
 * holds what the CLI and the DSL need at run time and nothing else. The install resolves the dependencies from
 * npm's cache (`--prefer-offline`), which `npm ci` in the checkout has filled.
 */
import { beforeAll, describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, readTree, tempProject } from './helpers';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const ownPackage = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

/** Runs a command to completion (asynchronously, so the two repositories are set up side by side). */
function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) =>
      status === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} in ${cwd} exited ${status}:\n${stdout}\n${stderr}`)),
    );
  });
}

/** A fresh repository of one module style, set up the way the README says: install, init, build, the team's tsc. */
async function adopt(type: 'commonjs' | 'module', tarball: string): Promise<{ repo: string; version: string; init: string; build: string }> {
  const repo = tempProject({ 'package.json': `${JSON.stringify({ name: `team-${type}`, version: '1.0.0', private: true, type }, null, 2)}\n` });
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--save-dev', tarball], repo);
  const version = (await run('node', ['-p', "require('policyc/package.json').version"], repo)).trim();
  const init = await run(npx, ['policyc', 'init'], repo);
  const build = await run(npx, ['policyc', 'build'], repo);
  // As a user types them (npx finds the local binaries; `npx --no` would take --noEmit as its own option).
  await run(npx, ['tsc', '--noEmit'], repo);
  return { repo, version, init, build };
}

describe('the published package', () => {
  let tarball: string;
  let files: string[];
  beforeAll(() => {
    // dist/ is built by `npm test` (tsc) before jest; --ignore-scripts keeps prepack from rebuilding it under running tests.
    const destination = tempProject({});
    const packed = JSON.parse(
      execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], { cwd: REPO, encoding: 'utf8' }),
    ) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = path.join(destination, packed[0]?.filename ?? '');
    files = (packed[0]?.files ?? []).map((f) => f.path);
  });

  it('GIVEN the packed tarball THEN it holds the CLI, the DSL and its types, the action and the CRDs, and no tests, benchmark or sources', () => {
    for (const needed of [
      'package.json',
      'README.md',
      ownPackage.bin['policyc'] ?? '',
      'dist/dsl/index.js',
      'dist/dsl/index.d.ts',
      'action.yml',
      'dist/action/run.js',
      'dist/lsp/server.js',
      // `policyc import` (cli/import.ts loads it when the CLI starts).
      'dist/importer/import.js',
      'dist/compiler/typecheck-worker.js',
    ]) {
      assert.ok(files.includes(needed), needed);
    }
    assert.ok(files.some((f) => f.startsWith('schemas/crds/istio/')));
    assert.ok(files.some((f) => f.startsWith('schemas/crds/linkerd/')));
    const unneeded = files.filter(
      (f) =>
        f.startsWith('dist/test/') ||
        f.startsWith('dist/bench/') ||
        f.startsWith('test/') ||
        f.startsWith('bench/') ||
        f.startsWith('examples/') ||
        f.endsWith('.map') ||
        (f.endsWith('.ts') && !f.startsWith('dist/dsl/')),
    );
    assert.deepEqual(unneeded, []);
  });

  it('GIVEN a fresh CommonJS and a fresh "type": "module" repository WHEN each installs the tarball, runs init, build and its own tsc THEN all pass with no manual step', async () => {
    const adopted = await Promise.all((['commonjs', 'module'] as const).map((type) => adopt(type, tarball)));
    for (const { repo, version, init, build } of adopted) {
      assert.equal(version, ownPackage.version);
      assert.match(init, /^ {2}npx policyc build /m);
      assert.match(build, /^istio: \d+ files in manifests\/istio/);
      assert.ok(readTree(path.join(repo, 'manifests', 'istio')).has('kustomization.yaml'));
    }
    // About 35 s on a quiet 2-core machine, 95 s when it is shared by several test runs: two npm installs and six npx runs.
  }, 240_000);
});
