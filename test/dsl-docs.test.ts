/**
 * Every symbol users import from `policyc` has JSDoc with an example: that is the hover text in the editor.
 */
import { it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './helpers';

it('every exported DSL symbol has JSDoc with @example', () => {
  const dir = path.join(REPO, 'dsl');
  const barrel = fs.readFileSync(path.join(dir, 'index.ts'), 'utf8');
  const names = [...barrel.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((m) =>
    (m[1] ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
  );
  assert.ok(names.length > 20, `found ${names.length} exports`);
  const sources = fs
    .readdirSync(dir)
    .filter((f) => f !== 'index.ts' && f.endsWith('.ts'))
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  const undocumented = names.filter((name) => {
    const declaration = new RegExp(`/\\*\\*((?:(?!\\*/)[\\s\\S])*)\\*/\\s*export (?:declare )?(?:function|const|interface|type) ${name}\\b`);
    const doc = sources.map((s) => declaration.exec(s)?.[1]).find((d) => d !== undefined);
    return doc === undefined || !doc.includes('@example');
  });
  assert.deepEqual(undocumented, []);
});
