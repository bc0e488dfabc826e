/**
 * Reviewing a policy change: GIVEN the shop example committed in a scratch git repository and a second
 * commit that removes one rule, adds one and widens one to `anyone`, WHEN `policyc diff --base HEAD~1`
 * (or `policyc diff old new`) runs, THEN it names exactly the calls the commit granted and revoked, and
 * leaves the work tree and the index alone. Also: exit statuses, and the locality of a rule change in
 * the emitted files of both targets.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { compile } from '../compiler/compile';
import { accessMatrix, describeLimits, edgeKey } from '../review/access';
import { diffModels } from '../review/diff';
import { LINKERD_PROXY_ADMIN_PORT, PROXY_ADMIN_PORT_NAME, type ScraperModel } from '../model/model';
import { model, rule, svc } from './model-builders';
import { targets } from '../meshes';
import { EXAMPLES, readTree, runCli, tempProject } from './helpers';

const FIXTURES = path.resolve(__dirname, 'fixtures');
const SHOP = path.join(EXAMPLES, 'shop');

/** The shop example's policy files. */
export function shopFiles(): Record<string, string> {
  return Object.fromEntries([...readTree(SHOP)].filter(([f]) => f.endsWith('.ts') && !f.includes('/')));
}

/** The shop after the reviewed change: test/fixtures/shop-change/ replaces two of its files. */
export function changedShopFiles(): Record<string, string> {
  return { ...shopFiles(), ...Object.fromEntries(readTree(path.join(FIXTURES, 'shop-change'))) };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', '-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8' });
}

interface JsonChange {
  readonly call: string;
  readonly after?: { readonly grants: string };
  readonly before?: { readonly grants: string };
}

function calls(changes: readonly JsonChange[], side: 'before' | 'after'): string[] {
  return changes.map((c) => `${c.call} ${c[side]?.grants ?? ''}`);
}

const GRANTED = ['shop/frontend → shop/payments:grpc POST /payments.v1.Payments/Quote', 'anyone → shop/payments:metrics GET /metrics'];
const REVOKED = ['shop/frontend → shop/checkout:http POST /checkout, /checkout/*'];

describe('policyc diff', () => {
  it('--base HEAD~1 names exactly the calls the last commit granted and revoked, without touching the work tree', () => {
    const dir = tempProject(shopFiles());
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'shop');
    for (const [file, text] of Object.entries(changedShopFiles())) fs.writeFileSync(path.join(dir, file), text);
    git(dir, 'commit', '-qam', 'change one rule of each kind');
    // An uncommitted edit stays as it is, in the work tree and out of the index.
    fs.appendFileSync(path.join(dir, 'namespaces.ts'), '// work in progress\n');
    const index = fs.readFileSync(path.join(dir, '.git', 'index'));
    const before = readTree(dir);

    const run = runCli(['diff', '--base', 'HEAD~1', 'policy.ts', '--format', 'json'], dir);
    assert.equal(run.exit, 0, run.stderr);
    const diff = JSON.parse(run.stdout) as {
      granted: JsonChange[];
      revoked: JsonChange[];
      changed: JsonChange[];
      review: { kind: string; call: string }[];
      base: string;
    };
    assert.deepEqual(calls(diff.granted, 'after'), GRANTED);
    assert.deepEqual(calls(diff.revoked, 'before'), REVOKED);
    assert.deepEqual(diff.changed, []);
    assert.equal(diff.base, 'HEAD~1');
    // Revocations first, then the widening to plaintext.
    assert.deepEqual(
      diff.review.map((r) => `${r.kind} ${r.call}`),
      ['revocation shop/frontend → shop/checkout:http (8080)', 'widening anyone → shop/payments:metrics (9102)'],
    );

    assert.deepEqual(readTree(dir), before);
    assert.deepEqual(fs.readFileSync(path.join(dir, '.git', 'index')), index);
    assert.equal(git(dir, 'status', '--porcelain'), ' M namespaces.ts\n');
  });

  it('<old> <new> compares two entry files the same way', () => {
    const dir = tempProject({
      ...Object.fromEntries(Object.entries(shopFiles()).map(([f, t]) => [`old/${f}`, t])),
      ...Object.fromEntries(Object.entries(changedShopFiles()).map(([f, t]) => [`new/${f}`, t])),
    });
    const run = runCli(['diff', 'old/policy.ts', 'new/policy.ts', '--format', 'json'], dir);
    assert.equal(run.exit, 0, run.stderr);
    const diff = JSON.parse(run.stdout) as { granted: JsonChange[]; revoked: JsonChange[]; restated: JsonChange[] };
    assert.deepEqual(calls(diff.granted, 'after'), GRANTED);
    assert.deepEqual(calls(diff.revoked, 'before'), REVOKED);
    // monitoring → metrics is not revoked: `anyone` still admits it.
    assert.deepEqual(
      diff.restated.map((c) => c.call),
      ['namespace:monitoring → shop/payments:metrics'],
    );
  });

  it('the same policy twice is no change; exit 0', () => {
    const dir = tempProject(shopFiles());
    const run = runCli(['diff', 'policy.ts', 'policy.ts'], dir);
    assert.equal(run.exit, 0, run.stderr);
    assert.equal(run.stdout, 'policyc diff policy.ts → policy.ts\n\nNo change in access.\n');
  });

  it('exits 1 on policy errors in either side, 2 on usage', () => {
    const dir = tempProject({
      ...shopFiles(),
      'bad/policy.ts': "import { mesh } from 'policyc';\nexport default mesh({ mtls: 'STRICTLY' as never, services: [], rules: [] });\n",
    });
    assert.equal(runCli(['diff', 'bad/policy.ts', 'policy.ts'], dir).exit, 1);
    assert.equal(runCli(['diff', 'policy.ts', 'bad/policy.ts'], dir).exit, 1);
    assert.equal(runCli(['diff', 'policy.ts'], dir).exit, 2);
    assert.equal(runCli(['diff', '--base', 'HEAD', 'policy.ts'], fs.mkdtempSync(path.join(path.dirname(dir), 'policyc-nogit-'))).exit, 2);
    git(dir, 'init', '-q');
    assert.equal(runCli(['diff', '--base', 'no-such-ref', 'policy.ts'], dir).exit, 2);
  });

  it('an entry that did not exist at the base ref diffs against nothing: every call is granted', () => {
    const dir = tempProject({ 'README.md': 'x\n' });
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'empty');
    for (const [file, text] of Object.entries(shopFiles())) fs.writeFileSync(path.join(dir, file), text);
    const run = runCli(['diff', '--base', 'HEAD', '--format', 'json'], dir);
    assert.equal(run.exit, 0, run.stderr);
    const diff = JSON.parse(run.stdout) as { granted: JsonChange[]; services: { added: string[] } };
    const model = compile({ entry: path.join(dir, 'policy.ts'), targets: [] }).model;
    assert.ok(model !== undefined);
    assert.deepEqual(
      diff.granted.map((c) => c.call),
      accessMatrix(model).map(edgeKey),
    );
    assert.equal(diff.services.added.length, 5);
  });
});

describe('access matrix', () => {
  it('lists the shop calls, confirmed by decide(), in a fixed order', () => {
    const model = compile({ entry: path.join(SHOP, 'policy.ts'), targets: [] }).model;
    assert.ok(model !== undefined);
    assert.deepEqual(
      accessMatrix(model).map((e) => `${edgeKey(e)}${e.plaintext ? ' (plaintext)' : ''}`),
      [
        'shop/checkout → data/postgres:sql',
        'shop/frontend → shop/checkout:http',
        'identity:istio-system/istio-ingressgateway-service-account → shop/frontend:http',
        'shop/checkout → shop/payments:grpc',
        'namespace:monitoring → shop/payments:metrics',
      ],
    );
  });
});

describe('diff locality of the emitted files', () => {
  const build = (files: Record<string, string>): Map<string, string> => {
    const dir = tempProject(files);
    const result = compile({ entry: path.join(dir, 'policy.ts'), targets: [...targets.values()] });
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    const out = new Map<string, string>();
    for (const [target, rendered] of result.outputs) for (const [file, text] of rendered) out.set(`${target}/${file}`, text);
    return out;
  };
  const changes = (a: Map<string, string>, b: Map<string, string>) => ({
    added: [...b.keys()].filter((f) => !a.has(f)),
    removed: [...a.keys()].filter((f) => !b.has(f)),
    modified: [...b.keys()].filter((f) => a.has(f) && a.get(f) !== b.get(f)),
  });
  /** A kustomization.yaml changes only by listing the files that came and went. */
  const assertKustomizations = (a: Map<string, string>, b: Map<string, string>, added: string[], removed: string[]) => {
    for (const target of targets.keys()) {
      const file = `${target}/kustomization.yaml`;
      const resources = (m: Map<string, string>) => new Set((parse(m.get(file) ?? '') as { resources: string[] }).resources);
      const expected = new Set(resources(a));
      for (const f of removed) if (f.startsWith(`${target}/`)) expected.delete(f.slice(target.length + 1));
      for (const f of added) if (f.startsWith(`${target}/`) && !f.startsWith(`${target}/patches/`)) expected.add(f.slice(target.length + 1));
      assert.deepEqual([...resources(b)].sort(), [...expected].sort(), file);
    }
  };
  const original = build(shopFiles());

  it('changing one rule changes only files of its destination, for every target', () => {
    const files = shopFiles();
    files['shop.ts'] = (files['shop.ts'] ?? '').replace(
      "methods: ['POST'], paths: ['/checkout', '/checkout/*']",
      "methods: ['POST', 'PUT'], paths: ['/checkout', '/checkout/*']",
    );
    const changed = build(files);
    const { added, removed, modified } = changes(original, changed);
    const touched = [...added, ...removed, ...modified].filter((f) => !f.endsWith('/kustomization.yaml'));
    assert.ok(touched.some((f) => f.startsWith('istio/')) && touched.some((f) => f.startsWith('linkerd/')), touched.join(', '));
    // One file per destination service: the checkout's, in each target.
    assert.deepEqual(touched.sort(), ['istio-ambient/shop/checkout.yaml', 'istio/shop/checkout.yaml', 'linkerd/shop/checkout.yaml']);
    assertKustomizations(original, changed, added, removed);
  });

  it('adding a service (and a rule to it) only adds files', () => {
    const files = shopFiles();
    files['shop.ts'] = (files['shop.ts'] ?? '')
      .replace(
        'export const shopServices = [frontend, checkout, payments];',
        "export const reviews = service(shop, 'reviews', { ports: { http: { port: 8080, protocol: 'http' } } });\n\nexport const shopServices = [frontend, checkout, payments, reviews];",
      )
      .replace('  deny(anyone)', "  allow(frontend).to(reviews, { ports: ['http'], methods: ['GET'] }),\n  deny(anyone)");
    const changed = build(files);
    const { added, removed, modified } = changes(original, changed);
    assert.deepEqual(removed, []);
    assert.deepEqual(
      modified.filter((f) => !f.endsWith('/kustomization.yaml')),
      [],
    );
    assert.ok(added.some((f) => f.startsWith('istio/')) && added.some((f) => f.startsWith('linkerd/')), added.join(', '));
    // The ambient target also labels the new service to use its namespace's waypoint (a Service patch).
    for (const file of added)
      assert.match(file, /^((istio|linkerd|istio-ambient)\/shop\/reviews\.yaml|istio-ambient\/patches\/shop-service-reviews\.yaml)$/, file);
    assertKustomizations(original, changed, added, removed);
  });
});

describe('the Linkerd proxy admin port in the review (model.ts, 9.)', () => {
  const api = svc('shop', 'api', { http: { port: 8080, protocol: 'http' } });
  const web = svc('shop', 'web', { http: { port: 8080, protocol: 'http' } });
  const grant = rule('allow', [{ kind: 'service', service: 'shop/web' }], 'shop/api', ['http']);
  const scraping = (...scrapedBy: ScraperModel[]) => model([api, web], [grant], { linkerd: { proxyAdmin: { scrapedBy } } });
  const prometheus: ScraperModel = { kind: 'identity', namespace: 'linkerd-viz', serviceAccount: 'prometheus' };
  const agents: ScraperModel = { kind: 'ipBlock', cidr: '10.9.0.0/16' };

  it('the access matrix lists each scraper GET /metrics on every governed workload, and nothing without proxyAdmin', () => {
    const edges = accessMatrix(scraping(prometheus, agents)).filter((e) => e.port === PROXY_ADMIN_PORT_NAME);
    assert.deepEqual(
      edges.map((e) => `${edgeKey(e)} ${describeLimits(e.limits, e.protocol)}${e.plaintext ? ' (plaintext)' : ''}`),
      [
        'identity:linkerd-viz/prometheus → shop/api:linkerd-admin GET /metrics',
        'ip:10.9.0.0/16 → shop/api:linkerd-admin GET /metrics (plaintext)',
        'identity:linkerd-viz/prometheus → shop/web:linkerd-admin GET /metrics',
        'ip:10.9.0.0/16 → shop/web:linkerd-admin GET /metrics (plaintext)',
      ],
    );
    assert.ok(edges.every((e) => e.portNumber === LINKERD_PROXY_ADMIN_PORT));
    assert.deepEqual(
      accessMatrix(model([api, web], [grant])).map((e) => edgeKey(e)),
      ['shop/web → shop/api:http'],
    );
  });

  it('policyc diff shows a scraper added and one removed as calls granted and revoked on the admin port', () => {
    const diff = diffModels(scraping(prometheus), scraping(agents), { base: 'old', head: 'new', targets: [] });
    assert.deepEqual(
      diff.granted.map((c) => c.call),
      ['ip:10.9.0.0/16 → shop/api:linkerd-admin', 'ip:10.9.0.0/16 → shop/web:linkerd-admin'],
    );
    assert.deepEqual(
      diff.revoked.map((c) => c.call),
      ['identity:linkerd-viz/prometheus → shop/api:linkerd-admin', 'identity:linkerd-viz/prometheus → shop/web:linkerd-admin'],
    );
    assert.ok(diff.granted.every((c) => c.gained > 0 && c.newlyPlaintext));
    assert.deepEqual(diffModels(scraping(prometheus), scraping(prometheus), { base: 'a', head: 'b', targets: [] }).granted, []);
  });
});
