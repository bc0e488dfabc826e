/**
 * Policy imports name a policy file the way TypeScript does for policyc's options: `./x`, `./x.js` (what a
 * `"type": "module"` repository with `module: nodenext` must write) and `./x.ts` all name `x.ts`; what cannot
 * load gets a message that says what to write instead.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importCandidates, resolvePolicyImport } from '../compiler/resolve-import';
import { PolicyTypeChecker } from '../compiler/typecheck';
import { SourceStore } from '../compiler/sources';
import { runCli, tempProject } from './helpers';

const isPolicyFile = (file: string): boolean => /\.(?:ts|tsx|mts|cts)$/.test(file) && fs.existsSync(file);

const services = `import { namespace, service } from 'policyc';\nexport const web = service(namespace('shop'), 'web', { ports: { http: { port: 80, protocol: 'http' } } });\n`;

describe('policy imports', () => {
  const dir = tempProject({
    'services.ts': services,
    'team/index.ts': services,
    'legacy.mts': services,
    'plain.js': 'module.exports = {};\n',
    'types.d.ts': 'export declare const x: number;\n',
  });
  const entry = path.join(dir, 'policy.ts');

  it('GIVEN ./services, ./services.js and ./services.ts WHEN resolved THEN each names services.ts', () => {
    for (const specifier of ['./services', './services.js', './services.ts']) {
      assert.deepEqual(resolvePolicyImport(entry, specifier, isPolicyFile), { file: path.join(dir, 'services.ts') }, specifier);
    }
  });

  it('GIVEN a folder, .mjs and a path outside the folder WHEN resolved THEN they follow TypeScript (index.ts, .mts, ../)', () => {
    assert.deepEqual(resolvePolicyImport(entry, './team', isPolicyFile), { file: path.join(dir, 'team', 'index.ts') });
    assert.deepEqual(resolvePolicyImport(entry, './legacy.mjs', isPolicyFile), { file: path.join(dir, 'legacy.mts') });
    assert.deepEqual(resolvePolicyImport(path.join(dir, 'team', 'index.ts'), '../services.js', isPolicyFile), { file: path.join(dir, 'services.ts') });
    assert.deepEqual(importCandidates(entry, './x.jsx'), [path.join(dir, 'x.tsx')]);
  });

  it('GIVEN a bare specifier WHEN resolved THEN it is not a relative import (the caller decides)', () => {
    assert.equal(resolvePolicyImport(entry, 'policyc', isPolicyFile), undefined);
    assert.equal(resolvePolicyImport(entry, 'node:fs', isPolicyFile), undefined);
  });

  it('GIVEN a JavaScript file, a declaration file or a missing file WHEN resolved THEN the problem says what to write instead', () => {
    const js = resolvePolicyImport(entry, './plain.js', isPolicyFile);
    assert.ok(js !== undefined && 'problem' in js);
    assert.match(js.problem, /^'\.\/plain\.js' names no TypeScript policy file \(looked for plain\.ts, plain\.tsx\)\. .*rename the JavaScript file to \.ts/);
    const declarations = resolvePolicyImport(entry, './types.d.ts', isPolicyFile);
    assert.ok(declarations !== undefined && 'problem' in declarations);
    assert.match(declarations.problem, /declaration file.*'\.\/types'/);
    const missing = resolvePolicyImport(entry, './nowhere', isPolicyFile);
    assert.ok(missing !== undefined && 'problem' in missing);
    assert.match(missing.problem, /looked for nowhere\.ts, nowhere\.tsx, nowhere\.mts, nowhere\.cts, nowhere\/index\.ts, nowhere\/index\.tsx/);
  });

  it('GIVEN the three import forms WHEN type-checked with policyc options THEN the checker accepts each (the evaluator must too)', () => {
    const checker = new PolicyTypeChecker();
    try {
      for (const specifier of ['./services', './services.js', './services.ts']) {
        const project = tempProject({
          'services.ts': services,
          'policy.ts': `import { mesh } from 'policyc';\nimport { web } from '${specifier}';\nexport default mesh({ services: [web], rules: [] });\n`,
        });
        const file = path.join(project, 'policy.ts');
        const result = checker.check(file, new SourceStore(project));
        assert.equal(result.diagnostics.map((d) => d.message).join('\n'), '', specifier);
        assert.ok(result.files.includes(path.join(project, 'services.ts')), specifier);
      }
    } finally {
      checker.close();
    }
  });

  it('GIVEN an entry importing ./services.js and ./team/index.ts WHEN built THEN the evaluator loads the same files the checker did', () => {
    const project = tempProject({
      'services.ts': services,
      'team/index.ts': services.replace("'web'", "'api'").replace('export const web', 'export const api'),
      'policy.ts': `import { allow, mesh } from 'policyc';\nimport { web } from './services.js';\nimport { api } from './team/index.ts';\nexport default mesh({ services: [web, api], rules: [allow(api).to(web)] });\n`,
    });
    const run = runCli(['check', 'policy.ts'], project);
    assert.equal(run.exit, 0, run.stderr);
    assert.match(run.stdout, /ok: 2 services, 1 rules/);
  });
});
