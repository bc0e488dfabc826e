/**
 * Watch mode's evaluator session: after each edit, the incremental result (the export and the locations
 * buildModel reads) must equal a cold evaluation of the same files.
 */
import { afterAll, describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate } from '../bench/generate';
import { buildModel } from '../compiler/build-model';
import { evaluate, EvaluatorSession, type EvaluateResult } from '../compiler/evaluate';
import { SourceStore } from '../compiler/sources';
import { tempProject } from './helpers';

const OPTIONS = { timeoutMs: 30_000 };

/** What a build takes from an evaluation: the model (with every location) and the diagnostics. */
function outcome(result: EvaluateResult, entry: string, store: SourceStore) {
  const built = result.exported === undefined ? undefined : buildModel(result.exported, entry, store, result.locate);
  return { exported: result.exported, model: built?.model, diagnostics: [...result.diagnostics, ...(built?.diagnostics ?? [])] };
}

function compare(session: EvaluatorSession, entry: string) {
  const warmStore = new SourceStore(path.dirname(entry));
  const warm = outcome(session.evaluate(entry, warmStore, OPTIONS), entry, warmStore);
  const coldStore = new SourceStore(path.dirname(entry));
  const cold = outcome(evaluate(entry, coldStore, OPTIONS), entry, coldStore);
  assert.deepEqual(warm, cold);
  return warm;
}

/** A deterministic pseudo-random sequence (the test must fail the same way twice). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const sessions: EvaluatorSession[] = [];
afterAll(() => sessions.forEach((s) => s.close()));

describe('evaluator session (watch)', () => {
  it('GIVEN a generated repo and random one-line edits THEN every incremental evaluation equals a cold one, re-running only what the edit reaches', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-session-'));
    const repo = generate(80, dir, 7);
    const entry = path.join(repo.dir, 'policy.ts');
    const files = fs
      .readdirSync(repo.dir)
      .filter((f) => /^ns-\d+\.ts$/.test(f))
      .sort();
    assert.ok(files.length >= 2);
    const session = new EvaluatorSession();
    sessions.push(session);
    compare(session, entry);
    assert.equal(session.lastRun, 'fresh');
    const next = random(16);
    let moves = 0;
    // A statement esbuild keeps (it drops comments and `void 0;`), so the lines below it move in the JavaScript too.
    const moved = () => `export const moved${++moves} = ${moves};`;
    const edit = (file: string, change: (lines: string[]) => void) => {
      const full = path.join(repo.dir, file);
      const lines = fs.readFileSync(full, 'utf8').split('\n');
      change(lines);
      fs.writeFileSync(full, lines.join('\n'));
    };
    const portLines = (lines: string[]) => lines.flatMap((l, i) => (/port: \d+/.test(l) ? [i] : []));
    for (let round = 0; round < 6; round++) {
      const file = files[Math.floor(next() * files.length)] as string;
      edit(file, (lines) => {
        const candidates = portLines(lines);
        const at = candidates[Math.floor(next() * candidates.length)] as number;
        if (next() < 0.5) lines[at] = (lines[at] as string).replace(/port: (\d+)/, (_m, p: string) => `port: ${Number(p) + 1}`);
        else lines.splice(at, 0, moved());
      });
      compare(session, entry);
      assert.equal(session.lastRun, 'incremental');
      assert.ok(session.lastRan < files.length + 1 || file === files[0], `${file}: ran ${session.lastRan} modules`);
    }
    // The last namespace file is imported by the entry only: two modules run, and only its objects are sent.
    const last = files[files.length - 1] as string;
    edit(last, (lines) => lines.splice(1, 0, moved()));
    compare(session, entry);
    assert.equal(session.lastRan, 2);
    // A file imported by others (ns-00 is imported by every namespace file after it) re-runs its importers.
    edit(files[0] as string, (lines) => lines.splice(1, 0, moved()));
    compare(session, entry);
    assert.equal(session.lastRan, files.length + 1);
    // An edit that makes evaluation throw, then the edit that fixes it.
    edit(last, (lines) => lines.splice(1, 0, 'throw new Error("half-written edit");'));
    const broken = compare(session, entry);
    assert.equal(broken.diagnostics[0]?.code, 'PC2001');
    assert.match(broken.diagnostics[0]?.message ?? '', /half-written edit/);
    edit(last, (lines) => lines.splice(1, 1));
    compare(session, entry);
    assert.equal(session.lastRun, 'fresh');
    edit(last, (lines) => lines.splice(1, 0, moved()));
    compare(session, entry);
    assert.equal(session.lastRun, 'incremental');
  });

  it('GIVEN an edit of one value THEN only the objects that differ are sent, the others stay the objects decoded before, shared as a cold decode shares them', () => {
    const dir = tempProject({
      'shop.ts': `import { namespace, service } from 'policyc';\nexport const shop = namespace('shop');\nconst http = { http: { port: 80, protocol: 'http' as const } };\nexport const web = service(shop, 'web', { ports: http });\nexport const api = service(shop, 'api', { ports: http });\nexport const db = service(shop, 'db', { ports: http });\n`,
      // Equal lists that are not the same object, in the module that runs again: each new one stands for its own.
      'rules.ts': `import { allow } from 'policyc';\nimport { web, api, db } from './shop';\nexport const rules = [\n  allow(web).to(api, { ports: ['http'], paths: ['/a'] }),\n  allow(web).to(db, { ports: ['http'] }),\n  allow(api).to(db, { ports: ['http'] }),\n];\n`,
      'policy.ts': `import { mesh } from 'policyc';\nimport { web, api, db } from './shop';\nimport { rules } from './rules';\nexport default mesh({ services: [web, api, db], rules });\n`,
    });
    const entry = path.join(dir, 'policy.ts');
    const session = new EvaluatorSession();
    sessions.push(session);
    type Exported = { services: object[]; rules: object[] };
    const before = compare(session, entry).exported as Exported;
    const fresh = session.lastDecoded;
    const rules = path.join(dir, 'rules.ts');
    fs.writeFileSync(rules, fs.readFileSync(rules, 'utf8').replace("'/a'", "'/b'"));
    const after = compare(session, entry).exported as Exported;
    assert.equal(session.lastRun, 'incremental');
    assert.equal(session.lastRan, 2);
    // rules.ts and policy.ts ran again; what differs is the edited rule, its paths, the rule list and the mesh.
    assert.ok(session.lastDecoded > 0 && session.lastDecoded <= 6, `${session.lastDecoded} of ${fresh}`);
    assert.notEqual(after, before);
    assert.notEqual(after.rules[0], before.rules[0]);
    assert.equal(after.rules[1], before.rules[1]);
    assert.equal(after.rules[2], before.rules[2]);
    after.services.forEach((service, index) => assert.equal(service, before.services[index]));
    // One object per object of the policy, as in a cold decode: walk both graphs side by side.
    const coldStore = new SourceStore(dir);
    const cold = evaluate(entry, coldStore, OPTIONS).exported;
    const pairs = new Map<unknown, unknown>();
    const back = new Map<unknown, unknown>();
    const walk = (warm: unknown, other: unknown): void => {
      if (typeof warm !== 'object' || warm === null) return;
      if (pairs.has(warm) || back.has(other)) {
        assert.equal(pairs.get(warm), other);
        assert.equal(back.get(other), warm);
        return;
      }
      pairs.set(warm, other);
      back.set(other, warm);
      for (const key of Object.keys(warm)) walk((warm as Record<string, unknown>)[key], (other as Record<string, unknown>)[key]);
    };
    walk(after, cold);
    assert.equal((after.rules[1] as { from: unknown[] }).from[0], after.services[0]);
  });

  it('GIVEN a generated repo and one more path in one rule THEN the session sends only the few objects that differ', () => {
    // The namespace files hold many equal objects that are not the same object (ports, sites' neighbours):
    // each new one must stand for the one it replaces, or whole services and rules are sent again.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-session-'));
    const repo = generate(80, dir, 7);
    const entry = path.join(repo.dir, 'policy.ts');
    const session = new EvaluatorSession();
    sessions.push(session);
    compare(session, entry);
    const fresh = session.lastDecoded;
    const file = path.join(repo.dir, 'ns-00.ts');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((line) => line.includes("paths: ['"));
    assert.ok(at > 0);
    lines[at] = (lines[at] as string).replace("paths: ['", "paths: ['/edited/*', '");
    fs.writeFileSync(file, lines.join('\n'));
    compare(session, entry);
    assert.equal(session.lastRun, 'incremental');
    assert.ok(session.lastDecoded > 0 && session.lastDecoded <= 8, `${session.lastDecoded} of ${fresh}`);
  });

  it('GIVEN modules that change what another module exported THEN the session notices and evaluates cold, with the cold result', () => {
    const dir = tempProject({
      'registry.ts': `import type { AnyService } from 'policyc';\nexport const all: AnyService[] = [];\n`,
      'shop.ts': `import { namespace, service } from 'policyc';\nimport { all } from './registry';\nexport const shop = namespace('shop');\nexport const api = service(shop, 'api', { ports: { http: { port: 80, protocol: 'http' } } });\nall.push(api);\n`,
      'policy.ts': `import { mesh } from 'policyc';\nimport { all } from './registry';\nimport './shop';\nexport default mesh({ services: all, rules: [] });\n`,
    });
    const entry = path.join(dir, 'policy.ts');
    const session = new EvaluatorSession();
    sessions.push(session);
    compare(session, entry);
    const shop = path.join(dir, 'shop.ts');
    fs.writeFileSync(shop, fs.readFileSync(shop, 'utf8').replace('port: 80', 'port: 81'));
    // Re-running shop.ts in the kept context would push a second api into the registry.
    const result = compare(session, entry);
    assert.equal(result.model?.services.length, 1);
    assert.equal(session.lastRun, 'cold');
  });

  it('GIVEN policy code that adds a global THEN the next evaluation is not incremental', () => {
    const dir = tempProject({
      'count.ts': `export const n = 1;\n(globalThis as any).seen = ((globalThis as any).seen ?? 0) + 1;\n`,
      'policy.ts': `import { mesh, namespace, service } from 'policyc';\nimport { n } from './count';\nconst ns = namespace('a');\nexport default mesh({ services: [service(ns, 's' + String((globalThis as any).seen) + n, { ports: { http: { port: 80, protocol: 'http' } } })], rules: [] });\n`,
    });
    const entry = path.join(dir, 'policy.ts');
    const session = new EvaluatorSession();
    sessions.push(session);
    compare(session, entry);
    assert.notEqual(session.lastRun, 'incremental');
  });
});
