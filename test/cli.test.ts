/**
 * CLI manners: every row of the README's exit table, `--version`, colour decided by the stream that
 * carries it (and NO_COLOR / FORCE_COLOR), warnings summarised unless --verbose, progress only on a
 * terminal and only for builds longer than a second.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../cli/main';
import type { Io } from '../cli/common';
import { colourFor } from '../diagnostics/format';
import { EXAMPLES, readTree, REPO, runCli, tempProject } from './helpers';

const SHOP = Object.fromEntries([...readTree(path.join(EXAMPLES, 'shop'))].filter(([f]) => f.endsWith('.ts') && !f.includes('/')));
const head = `import { allow, mesh, namespace, service } from 'policyc';\nconst shop = namespace('shop');\n`;
/** Six allow rules under defaultAction 'allow': six PC3018 warnings, no error. */
const WARNINGS = `${head}${[0, 1, 2, 3, 4, 5].map((i) => `export const s${i} = service(shop, 's${i}', { ports: { http: { port: 8080, protocol: 'http' } } });\n`).join('')}
export default mesh({
  defaultAction: 'allow',
  services: [s0, s1, s2, s3, s4, s5],
  rules: [
    allow(s0).to(s1),
    allow(s1).to(s2),
    allow(s2).to(s3),
    allow(s3).to(s4),
    allow(s4).to(s5),
    allow(s5).to(s0),
  ],
});
`;

function run(args: readonly string[], cwd: string, io: Partial<Io> = {}): { exit: number; stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  const exit = main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd, ...io });
  return { exit, stdout, stderr };
}

function diagnosticCodes(stdout: string): string[] {
  return (JSON.parse(stdout) as { diagnostics: { code: string }[] }).diagnostics.map((d) => d.code);
}

describe("the README's exit table, row by row", () => {
  const shop = tempProject({ ...SHOP, 'notes.json': '{}', 'deploy.yaml': 'kind: X\n', 'compiled.js': '', 'folder/policy.ts': '' });
  const broken = tempProject({ 'policy.ts': `${head}export default mesh({ services: [], rules: [allow(shop).to(shop)] });` });

  it('GIVEN a policy with warnings only THEN exit 0 (and build --check on what it wrote: 0)', () => {
    const dir = tempProject({ 'policy.ts': WARNINGS });
    assert.equal(runCli(['build'], dir).exit, 0);
    assert.equal(runCli(['build', '--check'], dir).exit, 0);
    assert.equal(runCli(['check'], dir).exit, 0);
  });

  it('GIVEN policy errors THEN exit 1 for build, check, verify, matrix and diff', () => {
    for (const args of [['build'], ['check'], ['verify'], ['matrix'], ['diff', 'policy.ts', 'policy.ts']])
      assert.equal(runCli(args, broken).exit, 1, args.join(' '));
  });

  it('GIVEN stale output THEN build --check exits 1', () => {
    const dir = tempProject(SHOP);
    assert.equal(runCli(['build', '--check'], dir).exit, 1);
  });

  const usage: readonly { readonly args: readonly string[]; readonly code?: string; readonly says: RegExp }[] = [
    { args: ['build', 'missing.ts'], code: 'PC1001', says: /does not exist/ },
    { args: ['build', 'folder'], code: 'PC5004', says: /is a folder; pass the policy's entry file, e\.g\. folder\/policy\.ts/ },
    { args: ['build', 'compiled.js'], code: 'PC5005', says: /pass the `\.ts` entry file/ },
    { args: ['build', 'notes.json'], code: 'PC5005', says: /data or manifests, not policy/ },
    { args: ['check', 'deploy.yaml'], code: 'PC5005', says: /data or manifests, not policy/ },
    { args: ['verify', 'compiled.js'], code: 'PC5005', says: /not JavaScript/ },
    { args: ['matrix', 'folder'], code: 'PC5004', says: /is a folder/ },
    { args: ['graph', 'missing.ts'], code: 'PC1001', says: /does not exist/ },
    { args: ['diff', 'policy.ts', 'missing.ts'], code: 'PC1001', says: /does not exist/ },
    { args: ['build', '--eval-timeout', 'abc'], code: 'PC5006', says: /--eval-timeout 'abc' is not a number of milliseconds/ },
    { args: ['build', '--eval-timeout', '-5'], code: 'PC5006', says: /--eval-timeout '-5'/ },
    { args: ['check', '--eval-timeout', '0'], code: 'PC5006', says: /--eval-timeout '0'/ },
    { args: ['diff', 'policy.ts', 'policy.ts', '--eval-timeout', '1.5'], code: 'PC5006', says: /--eval-timeout '1\.5'/ },
    { args: ['build', '--target', 'consul'], code: 'PC5001', says: /Unknown target 'consul'/ },
    { args: ['build', '--out', '.'], code: 'PC5007', says: /holds the policy/ },
    { args: ['build', '--format', 'yaml'], says: /argument 'yaml' is invalid/ },
    { args: ['build', '--no-such-flag'], says: /unknown option '--no-such-flag'/ },
    { args: ['deploy'], says: /unknown command 'deploy'/ },
  ];
  for (const { args, code, says } of usage)
    it(`GIVEN \`policyc ${args.join(' ')}\` THEN exit 2${code === undefined ? '' : ` with ${code}`}, and it says what to do`, () => {
      const result = runCli(args, shop);
      assert.equal(result.exit, 2, result.stderr);
      assert.match(result.stderr, says);
      if (code !== undefined) {
        assert.match(result.stderr, new RegExp(`error ${code}:`));
        // the same code in the machine-readable formats
        if (!args.includes('--format') && args[0] !== 'matrix' && args[0] !== 'graph') {
          const json = runCli([...args, '--format', 'json'], shop);
          assert.equal(json.exit, 2);
          assert.deepEqual(diagnosticCodes(json.stdout), [code]);
        }
      }
    });

  it('GIVEN an output folder holding a user file THEN build exits 2 (PC5008)', () => {
    const dir = tempProject({ ...SHOP, 'manifests/istio/shop/mine.yaml': 'kind: Mine\n' });
    const result = runCli(['build', '--format', 'json'], dir);
    assert.equal(result.exit, 2);
    assert.deepEqual(diagnosticCodes(result.stdout), ['PC5008']);
  });

  it('GIVEN an output folder that cannot be written THEN exit 2 (PC5002)', () => {
    const dir = tempProject({ ...SHOP, manifests: 'a file where the folder should be' });
    const result = runCli(['build', '--format', 'json'], dir);
    assert.equal(result.exit, 2);
    assert.deepEqual(diagnosticCodes(result.stdout), ['PC5002']);
  });

  it('GIVEN policyc itself fails THEN PC5003 and exit 2', () => {
    const dir = tempProject(SHOP);
    const result = run(['matrix'], dir, {
      stdout: () => {
        throw new Error('the pipe broke');
      },
    });
    assert.equal(result.exit, 2);
    assert.match(result.stderr, /error PC5003: policyc failed: Error: the pipe broke/);
  });

  it('GIVEN --help THEN exit 0', () => {
    assert.equal(runCli(['--help'], shop).exit, 0);
  });
});

describe('--version', () => {
  it('GIVEN --version THEN the package.json version on stdout, exit 0', () => {
    const version = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    assert.match(version, /^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-V']) {
      const result = runCli([flag], REPO);
      assert.equal(result.exit, 0);
      assert.equal(result.stdout, `${version}\n`);
    }
  });
});

describe('colour', () => {
  it('GIVEN the stream and the environment THEN colour follows FORCE_COLOR, then NO_COLOR, then TERM=dumb, then the terminal', () => {
    const cases: readonly [boolean, Record<string, string>, boolean][] = [
      [true, {}, true],
      [false, {}, false],
      [true, { NO_COLOR: '1' }, false],
      [true, { NO_COLOR: '' }, true],
      [false, { FORCE_COLOR: '1' }, true],
      [false, { FORCE_COLOR: '' }, true],
      [true, { FORCE_COLOR: '0' }, false],
      [true, { FORCE_COLOR: 'false' }, false],
      [false, { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
      [true, { TERM: 'dumb' }, false],
    ];
    for (const [tty, env, want] of cases) assert.equal(colourFor(tty, env), want, `${tty} ${JSON.stringify(env)}`);
  });

  it('GIVEN diagnostics on stderr THEN colour is decided by stderr, not stdout', () => {
    const dir = tempProject({ 'policy.ts': WARNINGS });
    const ESC = '\u001b[';
    // A clock that never advances: a slow machine must not bring in the progress line (its own escapes) here.
    const now = (): number => 0;
    assert.ok(run(['check'], dir, { isTTY: { stderr: true, stdout: false }, now }).stderr.includes(ESC));
    assert.ok(!run(['check'], dir, { isTTY: { stderr: false, stdout: true }, now }).stderr.includes(ESC));
    assert.ok(!run(['check'], dir, { isTTY: { stderr: true }, env: { NO_COLOR: '1' }, now }).stderr.includes(ESC));
    assert.ok(run(['check'], dir, { env: { FORCE_COLOR: '1' }, now }).stderr.includes(ESC));
  });
});

describe('warnings', () => {
  it('GIVEN six warnings of one code THEN by default one line with the count and the first three locations; --verbose prints all six with their source lines', () => {
    const dir = tempProject({ 'policy.ts': WARNINGS });
    const summary = runCli(['check'], dir);
    assert.equal(summary.exit, 0);
    const lines = summary.stderr.split('\n').filter((l) => l.includes('PC3018'));
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /^warning PC3018 ×6: .+ At policy\.ts:14:\d+, policy\.ts:15:\d+, policy\.ts:16:\d+ and 3 more\.$/);
    assert.match(summary.stderr, /Found 6 warnings\. Warnings are summarised: --verbose prints each with its source line\./);
    const verbose = runCli(['check', '--verbose'], dir);
    assert.equal(verbose.stderr.split('\n').filter((l) => / - warning PC3018: /.test(l)).length, 6);
    assert.equal((verbose.stderr.match(/~~/g) ?? []).length, 6);
    assert.match(verbose.stderr, /Found 6 warnings\.\n$/);
    // json prints every warning whatever the flag
    assert.equal(diagnosticCodes(runCli(['check', '--format', 'json'], dir).stdout).length, 6);
  });

  it('GIVEN a lone warning of a code THEN its own message on one line', () => {
    const dir = tempProject({ 'policy.ts': WARNINGS.replace(/ {4}allow\(s[1-5]\).*\n/g, '') });
    const result = runCli(['check'], dir);
    assert.match(result.stderr, /^policy\.ts:14:\d+ - warning PC3018: .+\n\nFound 1 warning\./);
  });
});

describe('progress', () => {
  /** A clock that advances `step` ms on every reading. */
  const clock = (step: number) => {
    let now = 0;
    return () => (now += step);
  };

  it('GIVEN stderr is a terminal and the build takes longer than a second THEN phases and counts on one rewritten line, cleared before the results', () => {
    const dir = tempProject(SHOP);
    const result = run(['build', '--target', 'all'], dir, { isTTY: { stderr: true }, now: clock(150) });
    assert.equal(result.exit, 0);
    const updates = result.stderr.split('\r\u001b[2K').filter((u) => u.startsWith('policyc: '));
    assert.ok(
      updates.some((u) => /^policyc: (rendering \d+ linkerd objects|waiting for the type checker) \(\d+\.\d s\)$/.test(u)),
      updates.join('\n'),
    );
    assert.ok(
      updates.some((u) => /^policyc: writing \d+\/\d+ \(\d+\.\d s\)$/.test(u)),
      updates.join('\n'),
    );
    const afterLastClear = result.stderr.split('\r\u001b[2K').pop() ?? '';
    assert.match(afterLastClear.replace(/\u001b\[\d+m/g, ''), /^warning PC4106/, 'the line is cleared before the diagnostics');
  });

  it('GIVEN a quick build on a terminal, or a slow one when stderr is not a terminal THEN no progress at all', () => {
    const dir = tempProject(SHOP);
    assert.ok(!run(['build'], dir, { isTTY: { stderr: true }, now: () => 5 }).stderr.includes('policyc:'));
    const notTty = run(['build', '--out', 'other'], dir, { isTTY: { stderr: false, stdout: true }, now: clock(1000) });
    assert.equal(notTty.exit, 0);
    assert.ok(!notTty.stderr.includes('\r'));
    assert.ok(!notTty.stderr.includes('policyc:'));
  });
});
