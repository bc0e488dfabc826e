/**
 * The reusable CI action's logic (action.yml runs it): check that the committed manifests are current, write
 * SARIF and say whether code scanning can take it, and keep one pull-request comment with the access diff up
 * to date. The comment is found again by a hidden marker and edited, so a pull request gets one comment however
 * often it is pushed; where the token may not comment (pull requests from forks get a read-only token) the diff
 * goes to the job summary instead. The GitHub API is a parameter, so the test drives all of it with a fake.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_ENTRY, DEFAULT_OUT, main } from '../cli/main';

/** The part of GitHub's REST API the action uses: one request, its status and its parsed body. */
export interface GitHubApi {
  request(
    method: 'GET' | 'POST' | 'PATCH',
    route: string,
    body?: Readonly<Record<string, string>>,
  ): Promise<{ readonly status: number; readonly data: unknown }>;
}

export interface ActionInputs {
  /** The policy entry, relative to the working directory. */
  readonly entry: string;
  /** `--target` for build, check and diff: a mesh name or `all`. */
  readonly targets: string;
  /** The committed output folder. */
  readonly out: string;
  /** Whether to post the access diff on pull requests. */
  readonly comment: boolean;
  /** `auto`: upload SARIF where code scanning is available; `false`: never. */
  readonly uploadSarif: 'auto' | 'false';
}

export interface ActionEnvironment {
  /** The working directory (inside the repository). */
  readonly cwd: string;
  /** `owner/name`. */
  readonly repository: string;
  /** The triggering event's payload (GITHUB_EVENT_PATH), or {} when there is none. */
  readonly event: unknown;
  /** Where the job summary goes ($GITHUB_STEP_SUMMARY); none outside Actions. */
  readonly summaryFile?: string;
  /** Where step outputs go ($GITHUB_OUTPUT). */
  readonly outputFile?: string;
  /** A folder for the SARIF file ($RUNNER_TEMP). */
  readonly tempDir: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export interface ActionResult {
  /** Why the job must fail (stale manifests, policy errors), or empty. */
  readonly failures: readonly string[];
  /** What happened to the access diff. */
  readonly diff: 'created' | 'updated' | 'summary' | 'skipped';
  readonly sarifFile: string;
  readonly uploadSarif: boolean;
}

/** The hidden first line that identifies this action's comment for one entry. */
export function commentMarker(entry: string): string {
  return `<!-- policyc access diff: ${entry} -->`;
}

interface PullRequestEvent {
  readonly pull_request?: { readonly number?: number; readonly base?: { readonly sha?: string } };
}

interface IssueComment {
  readonly id: number;
  readonly body?: string;
  readonly html_url?: string;
}

/** policyc in this process, with its output captured. */
function policyc(args: readonly string[], cwd: string): { exit: number; stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  const exit = main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd });
  return { exit, stdout, stderr };
}

/** Makes sure the base commit is there: a shallow checkout does not have it. */
function ensureCommit(sha: string, cwd: string): void {
  try {
    execFileSync('git', ['cat-file', '-e', `${sha}^{commit}`], { cwd, stdio: 'ignore' });
  } catch {
    execFileSync('git', ['fetch', '--no-tags', '--depth=1', 'origin', sha], { cwd, stdio: 'ignore' });
  }
}

/**
 * Whether code scanning takes uploads here: it does where its API answers (404 "no analysis found" is a
 * repository with code scanning and no analysis yet); 403 means it is off (private repositories without
 * GitHub Advanced Security) or the token may not read it (forks).
 */
async function codeScanningAvailable(api: GitHubApi, repository: string): Promise<boolean> {
  const { status, data } = await api.request('GET', `/repos/${repository}/code-scanning/analyses?per_page=1`);
  if (status === 200) return true;
  const message = typeof data === 'object' && data !== null && 'message' in data ? String(data.message) : '';
  return status === 404 && /no analysis found/i.test(message);
}

/** This action's earlier comment on the pull request, by its marker. */
async function findComment(api: GitHubApi, repository: string, pullRequest: number, marker: string): Promise<IssueComment | 'refused' | undefined> {
  for (let page = 1; ; page++) {
    const { status, data } = await api.request('GET', `/repos/${repository}/issues/${pullRequest}/comments?per_page=100&page=${page}`);
    if (status === 403 || status === 404) return 'refused';
    if (status !== 200 || !Array.isArray(data)) throw new Error(`listing comments answered ${status}`);
    const found = (data as IssueComment[]).find((c) => typeof c.body === 'string' && c.body.startsWith(marker));
    if (found !== undefined) return found;
    if (data.length < 100) return undefined;
  }
}

function appendSummary(environment: ActionEnvironment, text: string): void {
  if (environment.summaryFile === undefined) environment.stdout(text);
  else fs.appendFileSync(environment.summaryFile, text);
}

export async function runAction(inputs: ActionInputs, environment: ActionEnvironment, api: GitHubApi): Promise<ActionResult> {
  const { cwd } = environment;
  const failures: string[] = [];

  // 1. The committed manifests are what the policy compiles to (annotations on the policy lines if not).
  const check = policyc(['build', inputs.entry, '--target', inputs.targets, '--out', inputs.out, '--check', '--format', 'github'], cwd);
  environment.stdout(check.stdout);
  environment.stderr(check.stderr);
  if (check.exit !== 0) failures.push(`\`policyc build ${inputs.entry} --check\` failed: the policy has errors or ${inputs.out} is not current.`);

  // 2. Diagnostics as SARIF, uploaded by the next step where code scanning takes it.
  const sarifFile = path.join(environment.tempDir, 'policyc.sarif');
  const sarif = policyc(['check', inputs.entry, '--target', inputs.targets, '--format', 'sarif'], cwd);
  fs.writeFileSync(sarifFile, sarif.stdout);
  const uploadSarif = inputs.uploadSarif === 'auto' && (await codeScanningAvailable(api, environment.repository));

  // 3. The access diff of a pull request: one comment, kept current; the job summary where commenting is refused.
  let diff: ActionResult['diff'] = 'skipped';
  const pullRequest = (environment.event as PullRequestEvent).pull_request;
  const base = pullRequest?.base?.sha;
  if (inputs.comment && pullRequest?.number !== undefined && base !== undefined) {
    ensureCommit(base, cwd);
    const rendered = policyc(['diff', '--base', base, inputs.entry, '--target', inputs.targets, '--format', 'markdown'], cwd);
    environment.stderr(rendered.stderr);
    if (rendered.exit !== 0) failures.push(`\`policyc diff --base ${base.slice(0, 7)}\` failed: either side of the change has policy errors.`);
    const marker = commentMarker(inputs.entry);
    const body = `${marker}\n${rendered.stdout}`;
    const existing = await findComment(api, environment.repository, pullRequest.number, marker);
    let answer: { status: number; data: unknown } | undefined;
    if (existing !== 'refused') {
      answer =
        existing === undefined
          ? await api.request('POST', `/repos/${environment.repository}/issues/${pullRequest.number}/comments`, { body })
          : await api.request('PATCH', `/repos/${environment.repository}/issues/comments/${existing.id}`, { body });
    }
    if (answer !== undefined && answer.status >= 200 && answer.status < 300) {
      diff = existing === undefined ? 'created' : 'updated';
      const url = (answer.data as IssueComment | undefined)?.html_url;
      appendSummary(
        environment,
        `policyc: access diff ${diff === 'created' ? 'posted' : 'updated'} on the pull request${url === undefined ? '' : `: ${url}`}\n`,
      );
    } else {
      diff = 'summary';
      const why = answer === undefined ? 'the token may not read or write pull-request comments' : `commenting answered ${answer.status}`;
      appendSummary(
        environment,
        `${rendered.stdout}\n> policyc could not comment on the pull request (${why}; pull requests from forks get a read-only token), so the access diff is here.\n`,
      );
    }
  }

  if (environment.outputFile !== undefined) {
    const outputs = { 'sarif-file': sarifFile, 'upload-sarif': String(uploadSarif), failed: String(failures.length > 0) };
    fs.appendFileSync(
      environment.outputFile,
      Object.entries(outputs)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
  }
  for (const failure of failures) environment.stdout(`::error title=policyc::${failure}\n`);
  return { failures, diff, sarifFile, uploadSarif };
}

/** GitHub's REST API over fetch, with the job's token. */
export function githubApi(token: string, baseUrl = 'https://api.github.com'): GitHubApi {
  return {
    async request(method, route, body) {
      const response = await fetch(`${baseUrl}${route}`, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${token}`,
          'x-github-api-version': '2022-11-28',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      let data: unknown = text;
      try {
        data = JSON.parse(text);
      } catch {
        // Not JSON (an HTML error page): keep the text.
      }
      return { status: response.status, data };
    },
  };
}

if (require.main === module) {
  const env = process.env;
  const input = (name: string, fallback: string): string => {
    const value = env[`INPUT_${name.toUpperCase()}`];
    return value === undefined || value === '' ? fallback : value;
  };
  const eventPath = env['GITHUB_EVENT_PATH'];
  const summaryFile = env['GITHUB_STEP_SUMMARY'];
  const outputFile = env['GITHUB_OUTPUT'];
  runAction(
    {
      entry: input('entry', DEFAULT_ENTRY),
      targets: input('targets', 'istio'),
      out: input('out', DEFAULT_OUT),
      comment: input('comment', 'true') !== 'false',
      uploadSarif: input('upload_sarif', 'auto') === 'false' ? 'false' : 'auto',
    },
    {
      cwd: process.cwd(),
      repository: env['GITHUB_REPOSITORY'] ?? '',
      event: eventPath === undefined ? {} : (JSON.parse(fs.readFileSync(eventPath, 'utf8')) as unknown),
      ...(summaryFile === undefined ? {} : { summaryFile }),
      ...(outputFile === undefined ? {} : { outputFile }),
      tempDir: env['RUNNER_TEMP'] ?? os.tmpdir(),
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
    },
    githubApi(env['GITHUB_TOKEN'] ?? '', env['GITHUB_API_URL'] ?? 'https://api.github.com'),
  ).then(
    // The action's last step fails the job from the `failed` output, after the SARIF upload.
    () => undefined,
    (error: unknown) => {
      process.stderr.write(`policyc action failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
