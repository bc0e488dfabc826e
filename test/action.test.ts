/**
 * The CI action's script against a scratch git repository and a fake GitHub API: one pull-request comment,
 * edited (not duplicated) on the next push; the job summary where the token may not comment; a failure when
 * the committed manifests are stale; SARIF uploaded only where code scanning answers.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commentMarker, runAction, type ActionEnvironment, type ActionInputs, type GitHubApi } from '../action/run';
import { parse } from 'yaml';
import { DEFAULT_ENTRY, DEFAULT_OUT } from '../cli/main';
import { targets } from '../meshes';
import { REPO, runCli, tempProject } from './helpers';

const REPOSITORY = 'platform/mesh-policy';
const PULL_REQUEST = 7;

/** An in-memory GitHub: issue comments, and answers chosen per test for code scanning and for writes. */
class FakeGitHub implements GitHubApi {
  readonly comments: { id: number; body: string }[] = [];
  readonly writes: string[] = [];
  constructor(
    private readonly options: { readonly codeScanning: { status: number; message?: string }; readonly writeStatus?: number } = {
      codeScanning: { status: 403, message: 'Advanced Security must be enabled for this repository to use code scanning.' },
    },
  ) {}

  async request(method: 'GET' | 'POST' | 'PATCH', route: string, body?: Readonly<Record<string, string>>): Promise<{ status: number; data: unknown }> {
    await Promise.resolve();
    const url = new URL(route, 'https://api.github.test');
    if (method === 'GET' && url.pathname === `/repos/${REPOSITORY}/code-scanning/analyses`) {
      return { status: this.options.codeScanning.status, data: { message: this.options.codeScanning.message ?? '' } };
    }
    if (method === 'GET' && url.pathname === `/repos/${REPOSITORY}/issues/${PULL_REQUEST}/comments`) {
      const page = Number(url.searchParams.get('page') ?? '1');
      const perPage = Number(url.searchParams.get('per_page') ?? '30');
      return { status: 200, data: this.comments.slice((page - 1) * perPage, page * perPage) };
    }
    this.writes.push(`${method} ${url.pathname}`);
    if (this.options.writeStatus !== undefined) return { status: this.options.writeStatus, data: { message: 'Resource not accessible by integration' } };
    if (method === 'POST' && url.pathname === `/repos/${REPOSITORY}/issues/${PULL_REQUEST}/comments`) {
      const comment = { id: 1000 + this.comments.length, body: body?.['body'] ?? '' };
      this.comments.push(comment);
      return { status: 201, data: { ...comment, html_url: `https://github.test/${REPOSITORY}/pull/${PULL_REQUEST}#issuecomment-${comment.id}` } };
    }
    const edited = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(url.pathname);
    const comment = this.comments.find((c) => c.id === Number(edited?.[1]));
    if (method === 'PATCH' && comment !== undefined) {
      comment.body = body?.['body'] ?? '';
      return { status: 200, data: comment };
    }
    return { status: 404, data: { message: 'Not Found' } };
  }
}

const git = (args: readonly string[], cwd: string): string =>
  execFileSync('git', [...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();

/** Edits the starter's entry, rebuilds the manifests (unless told not to) and commits; returns the commit. */
function commit(repo: string, edit: (entry: string) => string, message: string, rebuild = true): string {
  const entry = path.join(repo, 'policy', 'policy.ts');
  fs.writeFileSync(entry, edit(fs.readFileSync(entry, 'utf8')));
  if (rebuild) assert.equal(runCli(['build', 'policy/policy.ts', '--out', 'policy/manifests'], repo).exit, 0);
  git(['add', '-A'], repo);
  git(['commit', '-q', '-m', message], repo);
  return git(['rev-parse', 'HEAD'], repo);
}

/** A repository whose main branch has the starter policy, and a pull request that adds one rule. */
function scratchRepository(): { repo: string; base: string } {
  const repo = tempProject({});
  git(['init', '-q', '-b', 'main'], repo);
  assert.equal(runCli(['init', 'policy'], repo).exit, 0);
  const base = commit(repo, (t) => t, 'starter policy');
  commit(repo, (t) => t.replace(/\],\n\}\);/, "  allow(api).to(web, { ports: ['http'], methods: ['GET'] }),\n  ],\n});"), 'api may call web');
  return { repo, base };
}

const INPUTS: ActionInputs = { entry: 'policy/policy.ts', targets: 'istio', out: 'policy/manifests', comment: true, uploadSarif: 'auto' };

function environment(repo: string, base: string): ActionEnvironment & { output: string[] } {
  const output: string[] = [];
  const files = tempProject({});
  return {
    cwd: repo,
    repository: REPOSITORY,
    event: { pull_request: { number: PULL_REQUEST, base: { sha: base } } },
    summaryFile: path.join(files, 'summary.md'),
    outputFile: path.join(files, 'output.txt'),
    tempDir: files,
    stdout: (t) => output.push(t),
    stderr: (t) => output.push(t),
    output,
  };
}

describe('the CI action', () => {
  it("GIVEN action.yml WHEN read THEN its defaults are the CLI's and every input reaches the script", () => {
    const action = parse(fs.readFileSync(path.join(REPO, 'action.yml'), 'utf8')) as {
      inputs: Record<string, { default?: string; description?: string }>;
      runs: { using: string; steps: { id?: string; env?: Record<string, string>; run?: string }[] };
    };
    assert.equal(action.runs.using, 'composite');
    assert.equal(action.inputs['entry']?.default, DEFAULT_ENTRY);
    assert.equal(action.inputs['out']?.default, DEFAULT_OUT);
    // The targets input names every mesh of the registry, so a new target cannot be missing from its help.
    for (const name of targets.keys()) assert.ok((action.inputs['targets']?.description ?? '').includes(name), name);
    const step = action.runs.steps.find((s) => s.id === 'policyc');
    assert.equal(step?.run, 'node "$GITHUB_ACTION_PATH/dist/action/run.js"');
    for (const input of Object.keys(action.inputs).filter((i) => i !== 'working-directory' && i !== 'token')) {
      assert.equal(step?.env?.[`INPUT_${input.toUpperCase().replace(/-/g, '_')}`], `\${{ inputs.${input} }}`, input);
    }
    assert.equal(step?.env?.['GITHUB_TOKEN'], '${{ inputs.token }}');
  });

  it('GIVEN a pull request WHEN the action runs on two pushes THEN it creates one comment and edits it on the second push', async () => {
    const { repo, base } = scratchRepository();
    const api = new FakeGitHub();

    const first = await runAction(INPUTS, environment(repo, base), api);
    assert.deepEqual(first.failures, []);
    assert.equal(first.diff, 'created');
    assert.equal(api.comments.length, 1);
    const body = api.comments[0]?.body ?? '';
    assert.ok(body.startsWith(`${commentMarker('policy/policy.ts')}\n### policyc: access changes`), body);
    assert.match(body, /1 call granted, 0 calls revoked/);
    assert.match(body, /\| `shop\/api` \| `shop\/web` \| http \(8080\) \| GET \|/);

    // The second push narrows the new rule: the same comment now shows the new diff.
    commit(repo, (t) => t.replace("methods: ['GET'] }", "methods: ['GET'], paths: ['/health'] }"), 'only /health');
    const env = environment(repo, base);
    const second = await runAction(INPUTS, env, api);
    assert.equal(second.diff, 'updated');
    assert.equal(api.comments.length, 1);
    assert.deepEqual(api.writes, [`POST /repos/${REPOSITORY}/issues/${PULL_REQUEST}/comments`, `PATCH /repos/${REPOSITORY}/issues/comments/1000`]);
    assert.match(api.comments[0]?.body ?? '', /\| `shop\/api` \| `shop\/web` \| http \(8080\) \| GET \/health \|/);
    assert.match(fs.readFileSync(env.summaryFile ?? '', 'utf8'), /access diff updated on the pull request/);

    // Code scanning answered 403 (a private repository without Advanced Security): no upload, the SARIF is still written.
    assert.equal(second.uploadSarif, false);
    assert.equal((JSON.parse(fs.readFileSync(second.sarifFile, 'utf8')) as { version: string }).version, '2.1.0');
    assert.equal(fs.readFileSync(env.outputFile ?? '', 'utf8'), `sarif-file=${second.sarifFile}\nupload-sarif=false\nfailed=false\n`);
  });

  it('GIVEN a token that may not comment (a fork) WHEN the action runs THEN the diff goes to the job summary', async () => {
    const { repo, base } = scratchRepository();
    const api = new FakeGitHub({ codeScanning: { status: 404, message: 'no analysis found' }, writeStatus: 403 });
    const env = environment(repo, base);
    const result = await runAction(INPUTS, env, api);
    assert.equal(result.diff, 'summary');
    assert.equal(api.comments.length, 0);
    const summary = fs.readFileSync(env.summaryFile ?? '', 'utf8');
    assert.match(summary, /^### policyc: access changes/);
    assert.match(summary, /\| `shop\/api` \| `shop\/web` \| http \(8080\) \| GET \|/);
    assert.match(summary, /could not comment on the pull request \(commenting answered 403;/);
    // Code scanning is on with no analysis yet: the SARIF is uploaded.
    assert.equal(result.uploadSarif, true);
    assert.deepEqual(result.failures, []);
  });

  it('GIVEN a push whose manifests were not rebuilt WHEN the action runs THEN it fails and says why', async () => {
    const { repo, base } = scratchRepository();
    commit(repo, (t) => t.replace("methods: ['GET'] }", "methods: ['GET', 'HEAD'] }"), 'forgot to build', false);
    const env = environment(repo, base);
    const result = await runAction(INPUTS, env, new FakeGitHub());
    assert.equal(result.failures.length, 1);
    assert.match(result.failures[0] ?? '', /policy\/manifests is not current/);
    assert.match(env.output.join(''), /would change: policy\/manifests\/istio\//);
    assert.match(fs.readFileSync(env.outputFile ?? '', 'utf8'), /failed=true/);
  });
});
