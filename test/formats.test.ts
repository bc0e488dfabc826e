/**
 * Every output format against a reviewed fixture in test/fixtures/: GIVEN the shop example and the change in
 * test/fixtures/shop-change/, WHEN `policyc diff` prints text, JSON or Markdown, `policyc graph` prints
 * Mermaid or DOT, and `policyc check` prints the broken example's diagnostics as GitHub annotations or SARIF,
 * THEN the output is byte for byte the fixture. Regenerate with `UPDATE_FIXTURES=1 node --test
 * dist/test/formats.test.js` and review the diff.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { diagnostic } from '../compiler/diagnostics/diagnostic';
import { escapeData, escapeProperty, formatGithub } from '../compiler/diagnostics/github';
import { catalog } from '../compiler/diagnostics/catalog';
import { EXAMPLES, readTree, runCli, tempProject } from './helpers';

const FIXTURES = path.resolve(__dirname, '../../test/fixtures');
const UPDATE = process.env['UPDATE_FIXTURES'] === '1';

function matchesFixture(name: string, actual: string): void {
  const file = path.join(FIXTURES, name);
  if (UPDATE) fs.writeFileSync(file, actual);
  assert.equal(actual, fs.readFileSync(file, 'utf8'), `${name}: regenerate with UPDATE_FIXTURES=1 and review the diff`);
}

function shop(dir: string): Record<string, string> {
  return Object.fromEntries(
    [...readTree(path.join(EXAMPLES, 'shop'))].filter(([f]) => f.endsWith('.ts') && !f.includes('/')).map(([f, t]) => [`${dir}/${f}`, t]),
  );
}

/** old/ is the shop, new/ the shop after the change. */
const project = tempProject({
  ...shop('old'),
  ...shop('new'),
  ...Object.fromEntries([...readTree(path.join(FIXTURES, 'shop-change'))].map(([f, t]) => [`new/${f}`, t])),
});
const broken = tempProject(Object.fromEntries([...readTree(path.join(EXAMPLES, 'broken'))].filter(([f]) => f.endsWith('.ts'))));

describe('output formats', () => {
  for (const [format, fixture] of [
    ['text', 'diff.txt'],
    ['json', 'diff.json'],
    ['markdown', 'diff.md'],
    ['github', 'diff.github.txt'],
  ] as const) {
    it(`diff --format ${format}`, () => {
      const run = runCli(['diff', 'old/policy.ts', 'new/policy.ts', '--target', 'all', '--format', format], project);
      assert.equal(run.exit, 0, run.stderr);
      matchesFixture(fixture, run.stdout);
    });
  }

  it('diff --format markdown draws the changed edges in Mermaid, green granted and red revoked', () => {
    const text = fs.readFileSync(path.join(FIXTURES, 'diff.md'), 'utf8');
    const mermaid = /```mermaid\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
    assert.match(mermaid, /^graph LR\n/);
    assert.match(mermaid, /n_shop_frontend -\.->\|"− http 8080: POST \/checkout, \/checkout\/\*"\| n_shop_checkout/);
    assert.match(mermaid, /linkStyle 0 stroke:#cf222e/);
    assert.match(mermaid, /linkStyle 1 stroke:#1a7f37/);
  });

  for (const [format, fixture] of [
    ['mermaid', 'graph.mmd'],
    ['dot', 'graph.dot'],
  ] as const) {
    it(`graph --format ${format}`, () => {
      const run = runCli(['graph', 'old/policy.ts', '--format', format], project);
      assert.equal(run.exit, 0, run.stderr);
      matchesFixture(fixture, run.stdout);
    });
  }

  it('check --format github prints every diagnostic and exits 1', () => {
    const run = runCli(['check', '--format', 'github'], broken);
    assert.equal(run.exit, 1);
    assert.equal(run.stderr, '');
    matchesFixture('broken.github.txt', run.stdout);
  });

  it('check --format sarif prints every diagnostic and exits 1', () => {
    const run = runCli(['check', '--format', 'sarif'], broken);
    assert.equal(run.exit, 1);
    assert.equal(run.stderr, '');
    // The fixture leaves out the rules (the whole catalog, checked against it below), so a new code elsewhere does not stale it.
    const log = JSON.parse(run.stdout) as { runs: { tool: { driver: { rules: { id: string; name: string }[] } } }[] };
    const rules = log.runs[0]?.tool.driver.rules ?? [];
    assert.deepEqual(
      rules.map((r) => [r.id, r.name]),
      Object.entries(catalog).map(([id, e]) => [e.code, id]),
    );
    for (const run of log.runs) (run.tool.driver as { rules?: unknown }).rules = '<every catalog entry, in catalog order>';
    matchesFixture('broken.sarif.json', `${JSON.stringify(log, null, 2)}\n`);
  });

  it('github annotations escape per the workflow-command rules', () => {
    assert.equal(escapeData('100% a:b,c\r\nd'), '100%25 a:b,c%0D%0Ad');
    assert.equal(escapeProperty('a:b,c%\n'), 'a%3Ab%2Cc%25%0A');
    const dir = tempProject({ 'odd, name:1.ts': 'const a = 1;\n' });
    const file = path.join(dir, 'odd, name:1.ts');
    const out = formatGithub([diagnostic('invalid-cidr', 'bad: 50% of it,\nreally', { file, line: 1, column: 7, start: 6, length: 1 })], dir, (f) =>
      fs.readFileSync(f, 'utf8'),
    );
    assert.equal(out, '::error file=odd%2C name%3A1.ts,line=1,col=7,endColumn=8,title=PC3015::bad: 50%25 of it,%0Areally\n');
  });

  it('SARIF results point at the rules by code and index', () => {
    const run = runCli(['check', '--format', 'sarif'], broken);
    const log = JSON.parse(run.stdout) as {
      version: string;
      runs: { tool: { driver: { name: string; rules: { id: string }[] } }; results: { ruleId: string; ruleIndex: number }[] }[];
    };
    assert.equal(log.version, '2.1.0');
    const first = log.runs[0];
    assert.ok(first !== undefined);
    assert.equal(first.tool.driver.name, 'policyc');
    assert.ok(first.results.length > 0);
    for (const result of first.results) assert.equal(first.tool.driver.rules[result.ruleIndex]?.id, result.ruleId);
  });
});
