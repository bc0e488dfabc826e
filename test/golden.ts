/**
 * The golden (baseline) outputs: each example's committed `manifests/` folder, for the broken examples
 * the printed diagnostics in `expected-diagnostics.txt`, and the output-format fixtures in `test/fixtures/`.
 * `npm run accept` is the one way to rewrite them from the current compiler (review the diff before
 * committing it); a test run only reads them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXAMPLES, readTree, REPO, runCli, tempProject } from './helpers';

export const FIXTURES = path.join(REPO, 'test', 'fixtures');

function shopFiles(dir: string): Record<string, string> {
  return Object.fromEntries(
    [...readTree(path.join(EXAMPLES, 'shop'))].filter(([f]) => f.endsWith('.ts') && !f.includes('/')).map(([f, t]) => [`${dir}/${f}`, t]),
  );
}

/** A project with old/ (the shop) and new/ (the shop after test/fixtures/shop-change/), and the broken example. */
export function formatProjects(): { readonly shopChange: string; readonly broken: string } {
  return {
    shopChange: tempProject({
      ...shopFiles('old'),
      ...shopFiles('new'),
      ...Object.fromEntries([...readTree(path.join(FIXTURES, 'shop-change'))].map(([f, t]) => [`new/${f}`, t])),
    }),
    broken: tempProject(Object.fromEntries([...readTree(path.join(EXAMPLES, 'broken'))].filter(([f]) => f.endsWith('.ts')))),
  };
}

export interface FormatFixture {
  readonly fixture: string;
  readonly args: readonly string[];
  readonly project: 'shopChange' | 'broken';
  readonly exit: number;
  /** What of stdout the fixture holds. */
  readonly normalise?: (stdout: string) => string;
}

/** SARIF without its rules (the whole catalog, checked separately), so a new code elsewhere does not stale the fixture. */
export function sarifWithoutRules(stdout: string): string {
  const log = JSON.parse(stdout) as { runs: { tool: { driver: { rules?: unknown } } }[] };
  for (const run of log.runs) run.tool.driver.rules = '<every catalog entry, in catalog order>';
  return `${JSON.stringify(log, null, 2)}\n`;
}

export const FORMAT_FIXTURES: readonly FormatFixture[] = [
  ...(['text', 'json', 'markdown', 'github'] as const).map((format) => ({
    fixture: { text: 'diff.txt', json: 'diff.json', markdown: 'diff.md', github: 'diff.github.txt' }[format],
    // Not `all`: the change widens a PERMISSIVE port to plaintext clients by path, which Istio ambient refuses
    // (PC4203, docs/ambient.md §7), so `--target all` prints that error instead of a diff (test/istio-ambient.test.ts).
    args: ['diff', 'old/policy.ts', 'new/policy.ts', '--target', 'istio,linkerd', '--format', format],
    project: 'shopChange' as const,
    exit: 0,
  })),
  ...(['mermaid', 'dot'] as const).map((format) => ({
    fixture: { mermaid: 'graph.mmd', dot: 'graph.dot' }[format],
    args: ['graph', 'old/policy.ts', '--format', format],
    project: 'shopChange' as const,
    exit: 0,
  })),
  { fixture: 'broken.github.txt', args: ['check', '--format', 'github'], project: 'broken', exit: 1 },
  { fixture: 'broken.sarif.json', args: ['check', '--format', 'sarif'], project: 'broken', exit: 1, normalise: sarifWithoutRules },
];

/** Runs a format fixture's command; what the fixture must hold. */
export function renderFormatFixture(
  fixture: FormatFixture,
  projects: ReturnType<typeof formatProjects>,
): { exit: number; stderr: string; stdout: string; text: string } {
  const run = runCli(fixture.args, projects[fixture.project]);
  return { ...run, text: fixture.normalise === undefined ? run.stdout : fixture.normalise(run.stdout) };
}

export interface Example {
  readonly name: string;
  readonly dir: string;
  /** Broken examples are expected to fail with diagnostics. */
  readonly broken: boolean;
  /** The `--target` it is built for: `all`, or fewer where a target refuses what the example shows. */
  readonly targets: string;
}

/**
 * Examples built for fewer than all targets, and why: request identities (JWT) are Istio-only (Linkerd refuses them
 * with PC4111, ambient with PC4210; test/request-conditions.test.ts shows both refusals).
 */
const EXAMPLE_TARGETS: Readonly<Record<string, string>> = { 'request-identity': 'istio' };

/** The build command of one example. */
export function buildArgs(example: Pick<Example, 'targets'>): string[] {
  return ['build', '--target', example.targets];
}

export function examples(): Example[] {
  return fs
    .readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(EXAMPLES, e.name, 'policy.ts')))
    .map((e) => ({ name: e.name, dir: path.join(EXAMPLES, e.name), broken: e.name.startsWith('broken'), targets: EXAMPLE_TARGETS[e.name] ?? 'all' }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

export const BUILD_ARGS = ['build', '--target', 'all'] as const;
export const DIAGNOSTICS_BASELINE = 'expected-diagnostics.txt';

/** Rebuilds every example's baseline and every format fixture. */
export function accept(): void {
  for (const example of examples()) {
    const run = runCli(buildArgs(example), example.dir);
    if (example.broken) fs.writeFileSync(path.join(example.dir, DIAGNOSTICS_BASELINE), run.stderr);
    process.stdout.write(`${example.name}: exit ${run.exit}\n${run.stdout}`);
  }
  const projects = formatProjects();
  for (const fixture of FORMAT_FIXTURES) {
    fs.writeFileSync(path.join(FIXTURES, fixture.fixture), renderFormatFixture(fixture, projects).text);
    process.stdout.write(`test/fixtures/${fixture.fixture}\n`);
  }
}

if (require.main === module) accept();
