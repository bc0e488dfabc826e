/**
 * Evaluation is hermetic and maps every declaration back to its TypeScript source, across files.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { compile } from '../compiler/compile';
import { tempProject } from './helpers';

const build = (files: Record<string, string>) => {
  const dir = tempProject(files);
  return compile({ entry: path.join(dir, 'policy.ts'), targets: [], evaluationTimeoutMs: 2000 });
};

describe('evaluation', () => {
  it('GIVEN policies split over files THEN every service and rule remembers its own file, line and column', () => {
    const result = build({
      'team/shop.ts': `import { namespace, service } from 'policyc';\nexport const shop = namespace('shop');\n\nexport const api = service(shop, 'api', { ports: { http: { port: 80, protocol: 'http' } } });\n`,
      'policy.ts': `import { allow, mesh, authenticated } from 'policyc';\nimport { api } from './team/shop';\nexport default mesh({\n  services: [api],\n  rules: [\n    allow(authenticated).to(api),\n  ],\n});\n`,
    });
    assert.deepEqual(result.diagnostics, []);
    const { model } = result;
    assert.ok(model !== undefined);
    assert.deepEqual(model.services[0]?.location, { file: 'team/shop.ts', line: 4, column: 20, start: 105, length: 7 });
    assert.equal(model.rules[0]?.location?.file, 'policy.ts');
    assert.equal(model.rules[0]?.location?.line, 6);
    assert.equal(model.mesh.location?.line, 3);
    assert.equal(model.version, 1);
  });

  it('GIVEN policy code that reaches for Node globals THEN it fails as a diagnostic, not a crash', () => {
    for (const body of ['(globalThis as any).process.env.HOME', '(globalThis as any).require("fs")', 'Math.random()', 'new Date()']) {
      const result = build({
        'policy.ts': `import { mesh } from 'policyc';\nconst x = ${body};\nvoid x;\nexport default mesh({ services: [], rules: [] });\n`,
      });
      assert.equal(result.diagnostics.length, 1, body);
      assert.match(result.diagnostics[0]?.code ?? '', /^PC200[15]$/, body);
      assert.equal(result.diagnostics[0]?.span?.line, 2, body);
    }
  });

  it('GIVEN policy code that mutates the DSL THEN later modules and builds are unaffected', () => {
    const result = build({
      'policy.ts': `import * as p from 'policyc';\ntry { (p as any).allow = null; } catch {}\nconst s = p.service(p.namespace('a'), 'b', { ports: { http: { port: 80, protocol: 'http' } } });\nexport default p.mesh({ services: [s], rules: [p.allow(s).to(s)] });\n`,
    });
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.equal(result.model?.rules.length, 1);
    const again = build({ 'policy.ts': `import { mesh } from 'policyc';\nexport default mesh({ services: [], rules: [] });\n` });
    assert.deepEqual(again.diagnostics, []);
  });
});
