/**
 * `policyc init`: a starter that builds without an edit, type-checks with the team's own TypeScript 6 and 7
 * in CommonJS and ESM packages, a CI workflow with the user's paths, and nothing ever overwritten.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { WORKFLOW_FILE } from '../cli/init';
import { REPO, readTree, runCli, tempProject } from './helpers';

const TSC = {
  'TypeScript 7': path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'),
  'TypeScript 6': path.join(REPO, 'node_modules', 'typescript6', 'bin', 'tsc'),
};

/** The folder as a user's package: package.json of the given module style, policyc installed (linked). */
function asPackage(dir: string, type: 'commonjs' | 'module'): void {
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'team-policy', private: true, type }));
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(REPO, path.join(dir, 'node_modules', 'policyc'), 'dir');
}

describe('policyc init', () => {
  it('GIVEN an empty folder WHEN init then build THEN the starter builds with no edit and init printed the next commands', () => {
    const dir = tempProject({});
    const init = runCli(['init'], dir);
    assert.equal(init.exit, 0, init.stderr);
    assert.deepEqual([...readTree(dir).keys()].sort(), ['.github/workflows/policy.yml', '.gitignore', 'policy.ts', 'services.ts', 'tsconfig.json']);
    assert.match(init.stdout, /^ {2}npx policyc build {3}#/m);
    assert.equal(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'), 'node_modules/\n');

    const build = runCli(['build'], dir);
    assert.equal(build.exit, 0, build.stderr);
    assert.equal(build.stderr, '');
    const manifests = readTree(path.join(dir, 'manifests', 'istio'));
    assert.ok(manifests.has('kustomization.yaml'));
    // The starter's one rule: web may call api with GET and POST under /v1/.
    const policies = [...manifests.values()].join('\n');
    assert.match(policies, /principals:\n\s+- cluster\.local\/ns\/shop\/sa\/web/);
    assert.match(policies, /- \/v1\/\*/);
  });

  for (const type of ['commonjs', 'module'] as const)
    it(`GIVEN the starter in a "type": "${type}" package WHEN the team runs its own tsc (TypeScript 6 and 7) THEN there is no error`, () => {
      const dir = tempProject({});
      asPackage(dir, type);
      assert.equal(runCli(['init'], dir).exit, 0);
      for (const [version, tsc] of Object.entries(TSC)) {
        const run = spawnSync(process.execPath, [tsc, '--noEmit', '-p', dir], { encoding: 'utf8' });
        assert.equal(run.status, 0, `${version}: ${run.stdout}${run.stderr}`);
      }
    });

  it('GIVEN a subfolder of a git repository WHEN init THEN the workflow at the repository root runs the action with the subfolder paths', () => {
    const repo = tempProject({ '.gitignore': 'dist' });
    execFileSync('git', ['init', '-q'], { cwd: repo });
    const run = runCli(['init', 'platform/policy'], repo);
    assert.equal(run.exit, 0, run.stderr);
    assert.match(run.stdout, /npx policyc build platform\/policy\/policy\.ts --out platform\/policy\/manifests/);
    assert.equal(fs.readFileSync(path.join(repo, '.gitignore'), 'utf8'), 'dist\nnode_modules/\n');
    const workflow = parse(fs.readFileSync(path.join(repo, WORKFLOW_FILE), 'utf8')) as {
      jobs: { policy: { steps: { uses?: string; with?: Record<string, string> }[] } };
    };
    const step = workflow.jobs.policy.steps.find((s) => s.uses === './node_modules/policyc');
    assert.deepEqual(step?.with, { entry: 'platform/policy/policy.ts', out: 'platform/policy/manifests', targets: 'istio' });
    // Every input the workflow passes is one the action declares.
    const action = parse(fs.readFileSync(path.join(REPO, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown> };
    for (const input of Object.keys(step?.with ?? {})) assert.ok(input in action.inputs, input);
    // And it builds from the repository root with exactly those paths.
    assert.equal(runCli(['build', 'platform/policy/policy.ts', '--out', 'platform/policy/manifests'], repo).exit, 0);
  });

  it('GIVEN a tsconfig, a .gitignore with node_modules and a workflow WHEN init THEN none of them is changed', () => {
    const files = { 'tsconfig.json': '{ "compilerOptions": { "strict": true } }\n', '.gitignore': '/node_modules\n', [WORKFLOW_FILE]: 'name: ours\n' };
    const dir = tempProject(files);
    const run = runCli(['init'], dir);
    assert.equal(run.exit, 0, run.stderr);
    for (const [name, text] of Object.entries(files)) assert.equal(fs.readFileSync(path.join(dir, name), 'utf8'), text, name);
    assert.match(run.stdout, /^wrote services\.ts, policy\.ts\n/);
  });

  it('GIVEN a folder that already has policy.ts WHEN init THEN PC5021, exit 2, and nothing is written', () => {
    const dir = tempProject({ 'policy.ts': '// ours\n' });
    const run = runCli(['init'], dir);
    assert.equal(run.exit, 2);
    assert.match(run.stderr, /error PC5021: policy\.ts already exists, so init wrote nothing\./);
    assert.deepEqual([...readTree(dir).keys()], ['policy.ts']);
  });
});
