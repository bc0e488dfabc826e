/**
 * The examples as golden cases: GIVEN each bundled example, WHEN built, THEN the output equals the committed
 * baseline (accept with `npm run accept`), passes the real CRDs, is the same bytes in any time zone and
 * locale; broken examples fail with exit 1, their exact diagnostics, and write nothing.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { listCrdFiles, loadCrdValidator } from '../compiler/crd-schemas';
import { BUILD_ARGS, DIAGNOSTICS_BASELINE, examples } from './golden';
import { readTree, REPO, runCli, SHARED, tempProject } from './helpers';

const ACCEPT = 'run `npm run accept` and review the diff if the change is intended';

describe('examples', () => {
  for (const example of examples()) {
    if (example.broken) {
      it(`${example.name}: fails with its exact diagnostics and writes nothing`, () => {
        const copy = tempProject(Object.fromEntries([...readTree(example.dir)].filter(([f]) => f.endsWith('.ts'))));
        const run = runCli(BUILD_ARGS, copy);
        assert.equal(run.exit, 1);
        assert.equal(run.stderr, fs.readFileSync(path.join(example.dir, DIAGNOSTICS_BASELINE), 'utf8'), ACCEPT);
        assert.equal(fs.existsSync(path.join(copy, 'manifests')), false);
      });
    } else {
      it(`${example.name}: the committed manifests are up to date`, () => {
        const run = runCli([...example.buildArgs, '--check'], example.dir);
        assert.equal(run.exit, 0, `${run.stderr}\n${ACCEPT}`);
      });
    }
  }

  it('build --check fails on a stale output folder, naming the files, and passes on a fresh one, writing nothing', () => {
    const shop = examples().find((e) => e.name === 'shop');
    assert.ok(shop !== undefined);
    const dir = tempProject(Object.fromEntries([...readTree(shop.dir)].filter(([f]) => f.endsWith('.ts'))));
    assert.equal(runCli([...BUILD_ARGS, '--check'], dir).exit, 1, 'no output at all is stale');
    assert.equal(runCli(BUILD_ARGS, dir).exit, 0);
    const fresh = readTree(path.join(dir, 'manifests'));
    assert.equal(runCli([...BUILD_ARGS, '--check'], dir).exit, 0);
    const edited = path.join(dir, 'manifests', 'istio', 'shop', 'payments.yaml');
    fs.writeFileSync(edited, fs.readFileSync(edited, 'utf8').replace('"9090"', '"9091"'));
    // (a file policyc did not write is refused instead: test/output-folder.test.ts)
    const stale = runCli([...BUILD_ARGS, '--check'], dir);
    assert.equal(stale.exit, 1);
    assert.match(stale.stderr, /would change: manifests\/istio\/shop\/payments\.yaml/);
    assert.notDeepEqual(readTree(path.join(dir, 'manifests')), fresh, 'check wrote nothing back');
  });

  const crds = path.join(SHARED, 'crds');
  (fs.existsSync(crds) ? it : it.skip)('every emitted object passes the real CRDs in ../shared/crds', () => {
    const validator = loadCrdValidator(['istio', 'linkerd', 'gateway-api'].flatMap((set) => listCrdFiles(path.join(crds, set))));
    let checked = 0;
    for (const example of examples().filter((e) => !e.broken)) {
      for (const [file, text] of readTree(path.join(example.dir, 'manifests'))) {
        if (!file.endsWith('.yaml')) continue; // .policyc-index: policyc's bookkeeping, not an object
        for (const document of parseAllDocuments(text)) {
          const object = document.toJS() as { apiVersion: string; kind: string } | null;
          // acknowledged.yaml is comments only (the acknowledged warnings), no object.
          if (object === null || !object.apiVersion.includes('.') || file.endsWith('kustomization.yaml')) continue;
          assert.deepEqual(validator.validate(object), [], `${example.name}/${file}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 10, `validated ${checked} objects`);
  });

  it('builds the same bytes in another time zone and locale', () => {
    const example = examples().find((e) => e.name === 'shop');
    assert.ok(example !== undefined);
    const outputs = [
      { TZ: 'UTC', LANG: 'C', LC_ALL: 'C' },
      { TZ: 'Pacific/Chatham', LANG: 'tr_TR.UTF-8', LC_ALL: 'tr_TR.UTF-8' },
    ].map((env) => {
      const out = fs.mkdtempSync(path.join(REPO, 'dist', 'determinism-'));
      execFileSync(process.execPath, [path.join(REPO, 'dist', 'cli', 'main.js'), ...BUILD_ARGS, '--out', out], {
        cwd: example.dir,
        env: { ...process.env, ...env },
      });
      const tree = readTree(out);
      fs.rmSync(out, { recursive: true, force: true });
      return tree;
    });
    assert.ok((outputs[0]?.size ?? 0) > 0);
    assert.deepEqual(outputs[0], outputs[1]);
  });

  it('a failed build leaves the previous output untouched, and a removed service leaves the output', () => {
    const shop = examples().find((e) => e.name === 'shop');
    assert.ok(shop !== undefined);
    const dir = tempProject(Object.fromEntries([...readTree(shop.dir)].filter(([f]) => f.endsWith('.ts'))));
    assert.equal(runCli(BUILD_ARGS, dir).exit, 0);
    const good = readTree(path.join(dir, 'manifests'));
    assert.ok([...good.keys()].some((f) => f.includes('postgres')));
    // GIVEN a broken edit, THEN nothing changes
    const policy = path.join(dir, 'policy.ts');
    const text = fs.readFileSync(policy, 'utf8');
    fs.writeFileSync(policy, text.replace("mtls: 'STRICT'", "mtls: 'STRICTLY'"));
    assert.equal(runCli(BUILD_ARGS, dir).exit, 1);
    assert.deepEqual(readTree(path.join(dir, 'manifests')), good);
    // GIVEN postgres removed from the mesh (and the rule to it), THEN its files are gone and the others stay
    fs.writeFileSync(policy, text.replace('postgres, prometheus]', 'prometheus]').replace("import { postgres } from './data';\n", ''));
    fs.writeFileSync(
      path.join(dir, 'shop.ts'),
      fs.readFileSync(path.join(dir, 'shop.ts'), 'utf8').replace("  allow(checkout).to(postgres, { ports: ['sql'] }),\n", ''),
    );
    const run = runCli(BUILD_ARGS, dir);
    assert.equal(run.exit, 0, run.stderr);
    const after = readTree(path.join(dir, 'manifests'));
    assert.ok(![...after.keys()].some((f) => f.includes('postgres')));
    assert.equal(after.get('istio/shop/payments.yaml'), good.get('istio/shop/payments.yaml'));
  });
});
