/**
 * Editor autocomplete, driven through TypeScript 7's checker (`getCompletionsAtPosition`) on a copy of the
 * shop example: GIVEN the cursor inside a string the user is typing, THEN the completions are exactly the
 * destination's port names, the mTLS modes, the protocols, the methods.
 */
import { describe, it, beforeAll, afterAll } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SourceStore } from '../compiler/sources';
import { PolicyTypeChecker } from '../compiler/typecheck';
import { EXAMPLES, tempProject } from './helpers';

const CURSOR = '|';

/** A copy of the shop example with `edit` applied to one file; returns the cursor's file and offset. */
function projectWith(file: string, from: string, to: string): { dir: string; file: string; offset: number } {
  const source = path.join(EXAMPLES, 'shop');
  const files = Object.fromEntries(
    fs
      .readdirSync(source)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => [f, fs.readFileSync(path.join(source, f), 'utf8')]),
  );
  const original = files[file];
  if (original === undefined || !original.includes(from)) throw new Error(`${file} does not contain ${from}`);
  const edited = original.replace(from, to);
  const offset = edited.indexOf(CURSOR);
  files[file] = edited.replace(CURSOR, '');
  const dir = tempProject(files);
  return { dir, file: path.join(dir, file), offset };
}

describe('completions in a policy file', () => {
  const checker = new PolicyTypeChecker();
  afterAll(() => checker.close());

  const complete = (file: string, from: string, to: string): string[] => {
    const at = projectWith(file, from, to);
    const entry = path.join(at.dir, 'policy.ts');
    checker.check(entry, new SourceStore(at.dir));
    return [...checker.completionsAt(entry, at.file, at.offset)].sort();
  };

  beforeAll(() => assert.ok(fs.existsSync(path.join(EXAMPLES, 'shop', 'shop.ts'))));

  it("offers exactly the destination's port names inside ports: ['|']", () => {
    assert.deepEqual(complete('shop.ts', "to(payments, { ports: ['grpc']", `to(payments, { ports: ['${CURSOR}']`), ['grpc', 'metrics']);
    assert.deepEqual(complete('shop.ts', "to(postgres, { ports: ['sql']", `to(postgres, { ports: ['${CURSOR}']`), ['sql']);
  });

  it('offers exactly the HTTP methods', () => {
    assert.deepEqual(complete('shop.ts', "methods: ['POST'], paths: ['/payments", `methods: ['${CURSOR}'], paths: ['/payments`), [
      'CONNECT',
      'DELETE',
      'GET',
      'HEAD',
      'OPTIONS',
      'PATCH',
      'POST',
      'PUT',
      'TRACE',
    ]);
  });

  it('offers exactly the mTLS modes and the protocols', () => {
    assert.deepEqual(complete('shop.ts', "mtls: 'PERMISSIVE'", `mtls: '${CURSOR}'`), ['DISABLE', 'PERMISSIVE', 'STRICT']);
    assert.deepEqual(complete('data.ts', "protocol: 'tcp'", `protocol: '${CURSOR}'`), ['grpc', 'http', 'http2', 'tcp']);
  });

  it("offers the Linkerd-only settings inside mesh({ linkerd: { | } }) and the scrapers' option inside proxyAdmin", () => {
    const names = complete('policy.ts', 'everyMeshedNamespaceListed: true,', `everyMeshedNamespaceListed: true, linkerd: { ${CURSOR} },`);
    // Optional properties are listed with a '?' by TypeScript 7's completions.
    assert.deepEqual(names, ['controlPlaneNamespace?', 'proxyAdmin?']);
    assert.deepEqual(complete('policy.ts', 'everyMeshedNamespaceListed: true,', `everyMeshedNamespaceListed: true, linkerd: { proxyAdmin: { ${CURSOR} } },`), [
      'scrapedBy',
    ]);
  });
});
