/**
 * The type checker in watch mode: after an edit of one file, the diagnostics of the files that import it are
 * checked again too (an edit in A can break a type in B without touching B).
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolicyTypeChecker } from '../compiler/typecheck';
import { SourceStore } from '../compiler/sources';
import { tempProject } from './helpers';

describe('type checker session (watch)', () => {
  it('GIVEN an edit of an imported file that breaks its importer THEN the importer’s error is reported, and goes when the edit is undone', () => {
    const shop = `import { namespace, service } from 'policyc';\nexport const web = service(namespace('shop'), 'web', { ports: { http: { port: 80, protocol: 'http' } } });\n`;
    const dir = tempProject({
      'shop.ts': shop,
      'rules.ts': `import { allow, authenticated } from 'policyc';\nimport { web } from './shop';\nexport const rules = [allow(authenticated).to(web, { ports: ['http'] })];\n`,
      'policy.ts': `import { mesh } from 'policyc';\nimport { web } from './shop';\nimport { rules } from './rules';\nexport default mesh({ services: [web], rules });\n`,
    });
    const entry = path.join(dir, 'policy.ts');
    const shopFile = path.join(dir, 'shop.ts');
    const checker = new PolicyTypeChecker();
    try {
      const messages = (changed: string[]) => checker.check(entry, new SourceStore(dir), changed).diagnostics.map((d) => d.message);
      assert.equal(messages([]).join('\n'), '');
      // The port `http` is renamed in shop.ts only: rules.ts, unchanged, now names a port that does not exist.
      fs.writeFileSync(shopFile, shop.replace('http: {', 'web: {'));
      const broken = checker.check(entry, new SourceStore(dir), [shopFile]).diagnostics;
      assert.ok(broken.length > 0);
      assert.ok(
        broken.every((d) => d.span?.file === path.join(dir, 'rules.ts')),
        broken.map((d) => `${d.span?.file}: ${d.message}`).join('\n'),
      );
      fs.writeFileSync(shopFile, shop);
      assert.equal(messages([shopFile]).join('\n'), '');
    } finally {
      checker.close();
    }
  });
});
