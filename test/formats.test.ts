/**
 * Every output format against a reviewed fixture in test/fixtures/: GIVEN the shop example and the change in
 * test/fixtures/shop-change/, WHEN `policyc diff` prints text, JSON or Markdown, `policyc graph` prints
 * Mermaid or DOT, and `policyc check` prints the broken example's diagnostics as GitHub annotations or SARIF,
 * THEN the output is byte for byte the fixture. The fixtures are rewritten only by `npm run accept` (test/golden.ts).
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagnostic } from '../diagnostics/diagnostic';
import { escapeData, escapeProperty, formatGithub } from '../diagnostics/github';
import { catalog } from '../diagnostics/catalog';
import { FIXTURES, FORMAT_FIXTURES, formatProjects, renderFormatFixture } from './golden';
import { runCli, tempProject } from './helpers';

const projects = formatProjects();
const broken = projects.broken;

describe('output formats', () => {
  for (const fixture of FORMAT_FIXTURES) {
    it(`${fixture.args.slice(0, 1).join(' ')} ${fixture.args.slice(-2).join(' ')} matches test/fixtures/${fixture.fixture}`, () => {
      const run = renderFormatFixture(fixture, projects);
      assert.equal(run.exit, fixture.exit, run.stderr);
      assert.equal(
        run.text,
        fs.readFileSync(path.join(FIXTURES, fixture.fixture), 'utf8'),
        `${fixture.fixture} differs: run \`npm run accept\` and review the diff`,
      );
    });
  }

  it('diff --format markdown draws the changed edges in Mermaid, green granted and red revoked', () => {
    const run = runCli(['diff', 'old/policy.ts', 'new/policy.ts', '--target', 'istio,linkerd', '--format', 'markdown'], projects.shopChange);
    const text = run.stdout;
    const mermaid = /```mermaid\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
    assert.match(mermaid, /^graph LR\n/);
    assert.match(mermaid, /n_shop_frontend -\.->\|"− http 8080: POST \/checkout, \/checkout\/\*"\| n_shop_checkout/);
    assert.match(mermaid, /linkStyle 0 stroke:#cf222e/);
    assert.match(mermaid, /linkStyle 1 stroke:#1a7f37/);
  });

  it('check --format sarif lists every catalog code as a rule and exits 1', () => {
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
