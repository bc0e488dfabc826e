import { describe, it, beforeAll, afterAll } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { listCrdFiles, loadCrdValidator, precompiledName, type CrdValidator } from '../compiler/crd-schemas';
import { precompileCrds } from '../compiler/crd-precompile';
import { PACKAGE_ROOT, VENDORED_CRDS } from '../compiler/package-files';

type K8sObject = { apiVersion: string; kind: string; [k: string]: unknown };

// Inside dist/, so the generated code finds ajv's runtime and dist/compiler/crd-formats.js as the build's does.
const DIR = path.join(PACKAGE_ROOT, 'dist', `.crd-precompile-test-${process.pid}`);
const FILES = listCrdFiles(VENDORED_CRDS);

/** Numbers as strings and digit strings as numbers, everywhere in a value: type errors at every depth. */
function swapTypes(value: unknown): unknown {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return /^\d+$/.test(value) ? Number(value) : value;
  if (Array.isArray(value)) return value.map(swapTypes);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, swapTypes(v)]));
  return value;
}

/** Every object of the examples' manifests, and broken variants of each: what the runtime compile is compared on. */
function objects(): K8sObject[] {
  const out: K8sObject[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.yaml') && entry.name !== 'kustomization.yaml') {
        // One file per service holds several objects (README "Layout").
        for (const document of parseAllDocuments(fs.readFileSync(full, 'utf8'))) {
          const object = document.toJS() as K8sObject;
          if (object.apiVersion.includes('.')) out.push(object);
        }
      }
    }
  };
  for (const example of ['simple', 'shop']) walk(path.join(PACKAGE_ROOT, 'examples', example, 'manifests'));
  const broken = out.flatMap((o) => [
    { ...o, spec: { ...(o['spec'] as object), unknownField: 1 } },
    { ...o, spec: 'not an object' },
    { ...o, metadata: { name: 'Not_A_Name' } },
    { ...o, spec: swapTypes(o['spec']) },
  ]);
  return [...out, ...broken];
}

describe('precompiled CRD validators (compiler/crd-precompile.ts)', () => {
  let precompiled: CrdValidator;
  let runtime: CrdValidator;
  beforeAll(() => {
    precompileCrds(FILES, DIR);
    precompiled = loadCrdValidator(FILES, DIR);
    runtime = loadCrdValidator(FILES, path.join(DIR, 'none'));
  });
  afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

  it('GIVEN every vendored CRD WHEN precompiled THEN each file has its module, named by its text', () => {
    for (const file of FILES) assert.ok(fs.existsSync(path.join(DIR, precompiledName(fs.readFileSync(file, 'utf8')))), file);
  });

  it('GIVEN the examples’ objects and broken variants WHEN validated THEN the precompiled validators report exactly what the runtime compile does', () => {
    const all = objects();
    assert.ok(all.length > 40, `${all.length} objects`);
    let violations = 0;
    for (const object of all) {
      const want = runtime.validate(object);
      violations += want.length;
      assert.deepEqual(precompiled.validate(object), want, `${object.kind} ${JSON.stringify(object['metadata'])}`);
    }
    assert.ok(violations > all.length / 2, 'the broken variants are reported');
    assert.deepEqual(precompiled.kinds, runtime.kinds);
    assert.deepEqual(precompiled.celRules, runtime.celRules);
  });

  it('GIVEN a precompiled module WHEN its CRD text changes THEN it is not used (the file is compiled from its text)', () => {
    const file = FILES.find((f) => f.endsWith('peerauthentications.security.istio.io.yaml')) as string;
    const text = fs.readFileSync(file, 'utf8');
    const object = {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'x', namespace: 'y' },
      spec: { mtls: { mode: 'STRICT' } },
    };
    // A folder of its own (modules already loaded stay cached); every validator module of this file sabotaged.
    const dir = path.join(DIR, 'sabotaged');
    precompileCrds([file], dir);
    const main = require(path.join(dir, precompiledName(text))) as { validators: Record<string, string> };
    for (const module of Object.values(main.validators)) {
      fs.writeFileSync(
        path.join(dir, module),
        'module.exports = () => { module.exports.errors = [{ instancePath: "", schemaPath: "#", keyword: "x", params: {}, message: "precompiled" }]; return false; };\n',
      );
    }
    assert.deepEqual(loadCrdValidator([file], dir).validate(object), [{ path: '', message: 'precompiled' }], 'the module of this very text is used');
    const copy = path.join(dir, 'changed.yaml');
    fs.writeFileSync(copy, text.replace('description:', 'description: changed'));
    assert.deepEqual(loadCrdValidator([copy], dir).validate(object), [], 'a changed CRD is compiled from its text');
  });
});
