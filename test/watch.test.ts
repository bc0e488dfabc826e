/**
 * Watch mode: GIVEN a session on the shop example, WHEN one rule changes, THEN the rebuild writes only the
 * files of that rule's destination; a type error leaves the output as it was.
 */
import { it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startWatch } from '../cli/watch';
import { targets } from '../meshes';
import { EXAMPLES, readTree, tempProject } from './helpers';

it('rebuilds only what a one-line edit affects, and keeps the output on errors', () => {
  const source = path.join(EXAMPLES, 'shop');
  const dir = tempProject(Object.fromEntries([...readTree(source)].filter(([f]) => f.endsWith('.ts'))));
  const out = path.join(dir, 'manifests');
  const printed: string[] = [];
  const io = { stdout: (t: string) => printed.push(t), stderr: () => undefined, cwd: dir };
  const session = startWatch(path.join(dir, 'policy.ts'), out, [...targets.values()], { target: 'all', format: 'text', evalTimeout: '10000' }, io, false);
  try {
    const shop = path.join(dir, 'shop.ts');
    fs.writeFileSync(shop, fs.readFileSync(shop, 'utf8').replace("paths: ['/checkout', '/checkout/*']", "paths: ['/checkout', '/checkout/*', '/cart']"));
    const edit = session.rebuild([shop]);
    assert.ok(edit.ok);
    assert.ok(edit.touched.length > 0);
    const outside = edit.touched.filter((f) => !f.includes('checkout') && !f.endsWith('kustomization.yaml'));
    assert.deepEqual(outside, []);
    const before = readTree(out);
    const policy = path.join(dir, 'policy.ts');
    fs.writeFileSync(policy, fs.readFileSync(policy, 'utf8').replace("mtls: 'STRICT'", "mtls: 'STRICTX'"));
    const broken = session.rebuild([policy]);
    assert.equal(broken.ok, false);
    assert.deepEqual(readTree(out), before);
    assert.match(printed.join(''), /rebuilt in \d+ ms: \d+ output file\(s\) changed/);
  } finally {
    session.close();
  }
});
