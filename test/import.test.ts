/**
 * `policyc import` and `policyc verify --against`: real Istio manifests in, typed policy out, proven equivalent.
 * The CLI runs in-process; the type-check worker runs from dist/ (run `npx tsc -p .` first).
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { compiledFile } from '../compiler/package-files';
import { readTree, REPO, runCli, SHARED, tempProject } from './helpers';
import { roundTrip, roundTripFailure } from './fuzz/import-round-trip';
import { importablePolicyModelArbitrary } from './fuzz/random-model';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'import');
const EXAMPLES = path.join(SHARED, 'mesh-examples');
const BOOKINFO = [path.join(EXAMPLES, 'istio-authz-http'), path.join(FIXTURES, 'istio-authz-http', 'bookinfo.yaml')];

interface JsonReport {
  readonly files: string[];
  readonly partial: boolean;
  readonly notImported: { code: string; message: string; span?: { file: string; line: number } }[];
  readonly equivalence: { equivalent: boolean; checked: number; differences: string[] } | null;
  readonly diagnostics: { code: string; severity: string; message: string; span?: { file: string; line: number; column: number } }[];
}

function importJson(args: readonly string[], cwd: string): { exit: number; report: JsonReport; stderr: string } {
  const run = runCli(['import', ...args, '--format', 'json'], cwd);
  return { exit: run.exit, report: JSON.parse(run.stdout) as JsonReport, stderr: run.stderr };
}

describe('policyc import', () => {
  it('GIVEN the Bookinfo policies and workloads WHEN imported THEN the files are the hand-written expected ones and the build decides as the cluster', () => {
    const dir = tempProject({});
    const run = runCli(['import', ...BOOKINFO, '-o', path.join(dir, 'policy')], dir);
    const expected = readTree(path.join(FIXTURES, 'istio-authz-http', 'expected'));
    const written = readTree(path.join(dir, 'policy'));
    assert.deepEqual([...written.keys()].sort(), [...expected.keys()].sort());
    for (const [file, text] of expected) assert.equal(written.get(file), text, file);
    assert.match(run.stdout, /equivalent: \d+ requests decided the same/);
    // The gateway policy governs a pod that is not a sidecar workload: listed, so the import is partial (exit 1).
    assert.match(run.stdout, /not imported \(1, kept as comments\):\n {2}AuthorizationPolicy default\/bookinfo-gateway-viewer/);
    assert.equal(run.exit, 1);
    assert.equal(runCli(['import', ...BOOKINFO, '-o', path.join(dir, 'again'), '--allow-partial'], dir).exit, 0);
  });

  it('GIVEN the imported Bookinfo policy WHEN built and verified --against the original manifests THEN the build succeeds and every request is decided the same', () => {
    const dir = tempProject({});
    runCli(['import', ...BOOKINFO, '-o', 'policy', '--allow-partial'], dir);
    const build = runCli(['build', 'policy/policy.ts', '--out', 'manifests'], dir);
    assert.equal(build.exit, 0, build.stderr);
    const names = [...readTree(path.join(dir, 'manifests', 'istio')).values()].join('\n');
    // The cluster's object names are kept, so applying the build replaces the old policies instead of adding to them.
    for (const name of ['allow-nothing', 'details-viewer', 'productpage-viewer', 'ratings-viewer', 'reviews-viewer'])
      assert.match(names, new RegExp(`name: ${name}\n`));
    const verify = runCli(['verify', 'policy/policy.ts', '--target', 'istio', '--against', ...BOOKINFO], dir);
    assert.equal(verify.exit, 0, verify.stderr);
    assert.match(verify.stdout, /\(istio\): equivalent, \d+ requests decided the same/);
  });

  it('GIVEN an imported policy with one rule removed WHEN verified --against the original THEN each difference names the request, both verdicts and the deciding objects (PC6007)', () => {
    const dir = tempProject({});
    runCli(['import', ...BOOKINFO, '-o', 'policy', '--allow-partial'], dir);
    const file = path.join(dir, 'policy', 'default.ts');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("  allow(reviews).to(ratings, { methods: ['GET'], name: 'ratings-viewer' }),\n", ''));
    const run = runCli(['verify', 'policy/policy.ts', '--target', 'istio', '--against', ...BOOKINFO, '--format', 'json'], dir);
    const { diagnostics } = JSON.parse(run.stdout) as JsonReport;
    const differences = diagnostics.filter((d) => d.code === 'PC6007');
    assert.ok(differences.length > 0);
    assert.ok(
      differences.some((d) =>
        /^istio: default\/reviews \(192\.0\.2\.10\) → default\/ratings:9080 GET \/: the original manifests: ALLOWED \(AuthorizationPolicy default\/ratings-viewer.*policyc's output: denied/.test(
          d.message,
        ),
      ),
      differences.map((d) => d.message).join('\n'),
    );
    assert.equal(run.exit, 1);
  });

  it('GIVEN a DENY with a header condition WHEN imported THEN the condition is a comment at its service, listed in the JSON report, and the exit is 1 unless --allow-partial', () => {
    const dir = tempProject({});
    const inputs = [path.join(EXAMPLES, 'istio-authz-deny'), path.join(FIXTURES, 'istio-authz-deny')];
    const partial = importJson([...inputs, '-o', 'policy'], dir);
    assert.equal(partial.exit, 1);
    assert.equal(partial.report.partial, true);
    const lost = partial.report.notImported.find((d) => d.message.includes('request.headers[x-token]'));
    assert.equal(lost?.code, 'PC6005');
    assert.equal(
      lost?.span?.file,
      '../' +
        path
          .relative(path.dirname(dir), path.join(EXAMPLES, 'istio-authz-deny', '02-deny-get-unless-admin.yaml'))
          .split(path.sep)
          .join('/'),
    );
    assert.equal(lost?.span?.line, 4);
    const source = fs.readFileSync(path.join(dir, 'policy', 'foo.ts'), 'utf8');
    // The comment stands just before the rule that came from the same object.
    assert.match(
      source,
      /\/\/ Not imported from AuthorizationPolicy foo\/deny-method-get: `when` conditions[^\n]*\n( {2}\/\/ [^\n]*\n)* {2}\/\*\* From AuthorizationPolicy foo\/deny-method-get\. \*\/\n {2}deny\(anyone\)\.to\(httpbin, \{ methods: \['GET'\], name: 'deny-method-get' \}\),/,
    );
    assert.equal(partial.report.equivalence?.equivalent, true);
    assert.equal(importJson([...inputs, '-o', 'policy', '--allow-partial'], dir).exit, 0);
  });

  it('GIVEN malformed YAML, a ConfigMap, an unknown version, a nameless object and a replaced object WHEN imported THEN each gets a diagnostic at its file and line, never a stack trace', () => {
    const dir = tempProject({
      'bad.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n',
      'mixed.yaml': [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: foo}',
        'apiVersion: security.istio.io/v2\nkind: AuthorizationPolicy\nmetadata: {name: future, namespace: foo}',
        'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {namespace: foo}\nspec: {}',
        'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: foo}\nspec: {mtls: {mode: STRICT}}',
        'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: foo}\nspec: {mtls: {mode: PERMISSIVE}}',
      ].join('\n---\n'),
    });
    const { exit, report, stderr } = importJson(['bad.yaml', 'mixed.yaml', '-o', 'policy'], dir);
    const at = (code: string) => report.diagnostics.filter((d) => d.code === code).map((d) => `${d.span?.file}:${d.span?.line}`);
    assert.deepEqual(at('PC6001'), ['bad.yaml:4']);
    assert.deepEqual(at('PC6002'), ['mixed.yaml:1']);
    assert.deepEqual(at('PC6003'), ['mixed.yaml:5']);
    assert.deepEqual(at('PC6004'), ['mixed.yaml:9']);
    assert.deepEqual(at('PC6009'), ['mixed.yaml:19']);
    assert.match(report.diagnostics.find((d) => d.code === 'PC6003')?.message ?? '', /security\.istio\.io\/v1, security\.istio\.io\/v1beta1/);
    assert.equal(exit, 1);
    assert.doesNotMatch(stderr, /\n\s+at /);
    assert.equal(fs.existsSync(path.join(dir, 'policy')), false);
  });

  it('GIVEN a policy that selects no workload and no workload objects WHEN imported THEN PC6006 is at the selector and PC6008 says what to pass', () => {
    const dir = tempProject({
      'ap.yaml':
        'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: viewer, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  rules: [{}]\n',
    });
    const { exit, report } = importJson(['ap.yaml'], dir);
    const noWorkload = report.diagnostics.find((d) => d.code === 'PC6006');
    assert.equal(`${noWorkload?.span?.file}:${noWorkload?.span?.line}`, 'ap.yaml:5');
    assert.ok(report.diagnostics.some((d) => d.code === 'PC6008' && d.message.includes('kubectl get deployments,services')));
    assert.equal(exit, 1);
    assert.equal(runCli(['import', 'missing.yaml'], dir).exit, 2);
  });

  it('GIVEN `kubectl get -o yaml` output (a List) on standard input WHEN imported with - THEN its items are read and the import is equivalent', () => {
    const dir = tempProject({});
    const items = ['istio-authz-td-migration'].flatMap((c) => [
      ...fs.readdirSync(path.join(EXAMPLES, c)).map((f) => path.join(EXAMPLES, c, f)),
      path.join(FIXTURES, c, 'workloads.yaml'),
    ]);
    const { parseAllDocuments } = require('yaml') as typeof import('yaml');
    const list = { apiVersion: 'v1', kind: 'List', items: items.flatMap((f) => parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJS() as unknown)) };
    const run = spawnSync(process.execPath, [compiledFile('cli/main.js'), 'import', '-', '-o', 'policy'], {
      cwd: dir,
      input: JSON.stringify(list),
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /wrote 3 files to policy: default\.ts, sleep-allow\.ts, policy\.ts/);
    assert.match(run.stdout, /^equivalent: /m);
    assert.match(
      fs.readFileSync(path.join(dir, 'policy', 'default.ts'), 'utf8'),
      /allow\(sleepAllowSleep\)\.to\(httpbin, \{ methods: \['GET'\], name: 'service-httpbin\.default\.svc\.cluster\.local' \}\)/,
    );
  });

  it('GIVEN a fresh process WHEN it builds a policy THEN ts-morph is never loaded; WHEN it imports THEN it is', () => {
    const dir = tempProject({});
    const probe = (args: readonly string[]) =>
      spawnSync(
        process.execPath,
        [
          '-e',
          `const { main } = require(${JSON.stringify(compiledFile('cli/main.js'))});
           const io = { stdout: () => {}, stderr: () => {}, cwd: ${JSON.stringify(dir)}, color: false };
           const exit = main(${JSON.stringify(args)}, io);
           process.stdout.write(JSON.stringify({ exit, tsMorph: Object.keys(require.cache).some((k) => k.includes('${path.sep}ts-morph${path.sep}')) }));`,
        ],
        { encoding: 'utf8' },
      );
    const build = JSON.parse(probe(['build', path.join(REPO, 'examples', 'simple', 'policy.ts'), '--out', path.join(dir, 'out')]).stdout) as {
      exit: number;
      tsMorph: boolean;
    };
    assert.deepEqual(build, { exit: 0, tsMorph: false });
    const imported = JSON.parse(probe(['import', ...BOOKINFO, '-o', path.join(dir, 'policy'), '--allow-partial']).stdout) as { exit: number; tsMorph: boolean };
    assert.deepEqual(imported, { exit: 0, tsMorph: true });
  });

  it('GIVEN random models WHEN built for Istio, imported and built again THEN the second build decides every request as the first', () => {
    const root = tempProject({});
    let compared = 0;
    fc.assert(
      fc.property(importablePolicyModelArbitrary, (model) => {
        const result = roundTrip(model, path.join(root, String(compared++)));
        assert.equal(roundTripFailure(result), undefined);
      }),
      { numRuns: 4, seed: 11 },
    );
  });
});

describe('policyc import of Linkerd with its own control-plane namespace (linkerd.md §9)', () => {
  it('GIVEN identities of control plane linkerd-prod in trust domain prod.example WHEN imported THEN the policy says both and the build decides as the cluster', () => {
    const name = 'linkerd-blog-grpc-routes';
    const dir = tempProject({});
    const manifests = path.join(dir, 'manifests');
    fs.mkdirSync(manifests);
    for (const file of fs.readdirSync(path.join(EXAMPLES, name)))
      fs.writeFileSync(
        path.join(manifests, file),
        fs.readFileSync(path.join(EXAMPLES, name, file), 'utf8').replaceAll('.identity.linkerd.cluster.local', '.identity.linkerd-prod.prod.example'),
      );
    const { exit, report, stderr } = importJson([manifests, path.join(FIXTURES, name), '-o', 'policy'], dir);
    assert.equal(exit, 0, stderr);
    assert.deepEqual(report.notImported, []);
    assert.equal(report.equivalence?.equivalent, true);
    assert.ok((report.equivalence?.checked ?? 0) > 0);
    const entry = fs.readFileSync(path.join(dir, 'policy', 'policy.ts'), 'utf8');
    assert.match(entry, /trustDomain: 'prod\.example',/);
    assert.match(entry, /linkerd: \{ controlPlaneNamespace: 'linkerd-prod' \},/);
    // The callers are the workloads, not identity strings: the suffix was read, not kept as text.
    assert.doesNotMatch([...readTree(path.join(dir, 'policy')).values()].join('\n'), /serviceaccount\.identity/);
  });
});
