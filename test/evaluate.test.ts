/**
 * Evaluation is hermetic and maps every declaration back to its TypeScript source, across files.
 */
import { describe, it, jest } from '@jest/globals';
import * as assert from 'node:assert/strict';
import childProcess = require('node:child_process');
import * as path from 'node:path';
import { buildModel } from '../compiler/build-model';
import { compile } from '../compiler/compile';
import { evaluate } from '../compiler/evaluate';
import { PROGRESS_PREFIX } from '../compiler/evaluator/child';
import { OpaqueValue } from '../compiler/evaluator/policy-schema';
import { SourceStore } from '../compiler/sources';
import { checkAssertions, describeFailure, type AssertionFailure } from '../verify/assertions';
import { tempProject } from './helpers';

const build = (files: Record<string, string>) => {
  const dir = tempProject(files);
  return compile({ entry: path.join(dir, 'policy.ts'), targets: [], evaluationTimeoutMs: 30_000 });
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

describe('the isolation boundary', () => {
  it('GIVEN policy code that walks the constructor chain of the global and of DSL objects THEN it stays in the policy realm, where code generation is off', () => {
    const probe = (expression: string) =>
      `(() => { try { const F = ${expression}; return F('return 1')() === 1 ? 'escaped' : 'other'; } catch (e) { return F_REALM(e); } })()`;
    const result = build({
      'policy.ts': [
        `import { mesh, namespace, service } from 'policyc';`,
        // An EvalError thrown by the policy realm's own Function: that realm has code generation from strings off.
        `const F_REALM = (e: unknown) => (e instanceof EvalError ? 'contained' : 'unexpected');`,
        `const names = [${probe('(globalThis as any).constructor.constructor')}, ${probe('(service as any).constructor')}, ${probe('(namespace("a") as any).constructor.constructor')}];`,
        `const shop = namespace('shop');`,
        `export default mesh({ services: names.map((n, i) => service(shop, n + '-' + i, { ports: { http: { port: 80, protocol: 'http' } } })), rules: [] });`,
      ].join('\n'),
    });
    assert.deepEqual(
      result.model?.services.map((s) => s.name),
      ['contained-0', 'contained-1', 'contained-2'],
    );
  });

  it('GIVEN policy code that pollutes the intrinsics THEN the model is the same as without the pollution', () => {
    const policy = (pollution: string) => ({
      'policy.ts': `import { mesh, namespace, service, allow, deny, ipBlocks } from 'policyc';\n${pollution}\nconst shop = namespace('shop');\nconst web = service(shop, 'web', { ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [web], rules: [allow(web).to(web), deny(ipBlocks('10.0.0.0/8')).to(web)] });\n`,
    });
    const clean = build(policy(''));
    const polluted = build(
      policy(
        `try { (Object.prototype as any).mtls = 'DISABLE'; Array.prototype.push = () => 0; Array.prototype.forEach = () => undefined; (Array.prototype as any).map = () => []; } catch {}`,
      ),
    );
    assert.deepEqual(clean.diagnostics, []);
    assert.deepEqual(polluted.diagnostics, []);
    assert.equal(polluted.model?.rules.length, 2);
    // Locations differ by the pollution's line; everything else must not.
    const withoutLocations = (model: unknown) => JSON.stringify(model, (key, value: unknown) => (key === 'location' ? undefined : value));
    assert.equal(withoutLocations(polluted.model), withoutLocations(clean.model));
  });

  it('GIVEN an assertion about ipBlocks with two CIDRs WHEN a rule allows the second THEN the assertion fails (every CIDR is kept)', () => {
    const result = build({
      'policy.ts': `import { allow, ipBlocks, mesh, namespace, neverReaches, service } from 'policyc';\nconst web = service(namespace('shop'), 'web', { ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({\n  mtls: 'PERMISSIVE',\n  services: [web],\n  rules: [allow(ipBlocks('192.168.0.0/16')).to(web)],\n  assertions: [neverReaches(ipBlocks('10.0.0.0/8', '192.168.0.0/16'), web)],\n});\n`,
    });
    assert.deepEqual(result.diagnostics, []);
    const model = result.model;
    assert.ok(model !== undefined);
    assert.deepEqual(model.assertions?.[0]?.from, { kind: 'ipBlocks', cidrs: ['10.0.0.0/8', '192.168.0.0/16'] });
    const failures = checkAssertions(model, []);
    assert.equal(failures.length, 1);
    assert.match(describeFailure(failures[0] as AssertionFailure), /192\.168\./);
  });

  it('GIVEN an evaluator that dies without an answer THEN the build reports PC2010 at the module it was evaluating', () => {
    const dir = tempProject({
      'policy.ts': `import { mesh } from 'policyc';\nimport './other';\nexport default mesh({ services: [], rules: [] });\n`,
      'other.ts': `export {};\n`,
    });
    const spy = jest.spyOn(childProcess, 'spawnSync').mockReturnValue({
      pid: 1,
      output: [],
      stdout: Buffer.from(''),
      stderr: Buffer.from(`${PROGRESS_PREFIX}0\n${PROGRESS_PREFIX}1\n`),
      status: null,
      signal: 'SIGSEGV',
    });
    try {
      const store = new SourceStore(dir);
      const result = evaluate(path.join(dir, 'policy.ts'), store, { timeoutMs: 1000 });
      assert.deepEqual(
        result.diagnostics.map((d) => [d.code, d.span?.file]),
        [['PC2010', path.join(dir, 'other.ts')]],
      );
    } finally {
      spy.mockRestore();
    }
  });
});

describe('values out of policy code are checked before use', () => {
  const site = (line: number) => ({ file: 'policyc-module-0', line, column: 1 });
  const shop = { kind: 'namespace', name: 'shop', site: site(1) };
  const web = {
    kind: 'service',
    namespace: shop,
    name: 'web',
    serviceAccount: 'web',
    selector: { app: 'web' },
    ports: { http: { port: 80, protocol: 'http' } },
    site: site(2),
  };
  const rule = { kind: 'rule', action: 'allow', from: [web], to: web, ports: ['http'], site: site(3) };
  const assertion = { kind: 'assertion', expect: 'reaches', from: web, to: web, site: site(4) };
  const meshOf = (parts: Record<string, unknown> = {}) => ({
    kind: 'mesh',
    trustDomain: 'cluster.local',
    mtls: 'STRICT',
    defaultAction: 'deny',
    rootNamespace: 'istio-system',
    namespaces: [shop],
    services: [web],
    rules: [rule],
    assertions: [assertion],
    site: site(5),
    ...parts,
  });
  const dir = tempProject({ 'policy.ts': 'line 1\nline 2\nline 3\nline 4\nline 5\n' });
  const entry = path.join(dir, 'policy.ts');
  const store = new SourceStore(dir);
  const locate = (value: unknown) => {
    const s = value as { line?: unknown } | undefined;
    return typeof s?.line === 'number' ? store.locationAt(entry, s.line, 1) : undefined;
  };
  const huge = 'x'.repeat(10_000_000);

  const cases: [string, Record<string, unknown>, number][] = [
    ["defaultAction 'Deny'", meshOf({ defaultAction: 'Deny' }), 5],
    ["mtls 'strict'", meshOf({ mtls: 'strict' }), 5],
    ['a numeric trust domain', meshOf({ trustDomain: 5 }), 5],
    ['a null root namespace', meshOf({ rootNamespace: null }), 5],
    ['services that are not a list', meshOf({ services: { 0: web } }), 5],
    ['a numeric namespace name', meshOf({ namespaces: [{ ...shop, name: 5 }] }), 1],
    ["a namespace mtls 'x'", meshOf({ namespaces: [{ ...shop, mtls: 'x' }] }), 1],
    ['an object as a service name', meshOf({ services: [{ ...web, name: {} }], rules: [], assertions: [] }), 2],
    ['a 10 MB service name', meshOf({ services: [{ ...web, name: huge }], rules: [], assertions: [] }), 2],
    ['a numeric service account', meshOf({ services: [{ ...web, serviceAccount: 5 }], rules: [], assertions: [] }), 2],
    ['a null label value', meshOf({ services: [{ ...web, selector: { app: null } }], rules: [], assertions: [] }), 2],
    ['a 10 MB label key', meshOf({ services: [{ ...web, selector: { [huge]: 'a' } }], rules: [], assertions: [] }), 2],
    ['a string port number', meshOf({ services: [{ ...web, ports: { http: { port: '80', protocol: 'http' } } }], rules: [], assertions: [] }), 2],
    ['a fractional port number', meshOf({ services: [{ ...web, ports: { http: { port: 80.5, protocol: 'http' } } }], rules: [], assertions: [] }), 2],
    [
      'a NaN port number',
      meshOf({ services: [{ ...web, ports: { http: { port: new OpaqueValue('number NaN'), protocol: 'http' } } }], rules: [], assertions: [] }),
      2,
    ],
    ["protocol 'htp'", meshOf({ services: [{ ...web, ports: { http: { port: 80, protocol: 'htp' } } }], rules: [], assertions: [] }), 2],
    ["a port mtls 'x'", meshOf({ services: [{ ...web, ports: { http: { port: 80, protocol: 'http', mtls: 'x' } } }], rules: [], assertions: [] }), 2],
    ['a null port', meshOf({ services: [{ ...web, ports: { http: null } }], rules: [], assertions: [] }), 2],
    ["action 'ALLOW'", meshOf({ rules: [{ ...rule, action: 'ALLOW' }] }), 3],
    ['a number as a source', meshOf({ rules: [{ ...rule, from: [5] }] }), 3],
    ['an unknown source kind', meshOf({ rules: [{ ...rule, from: [{ kind: 'everyone' }] }] }), 3],
    ['ipBlocks(10)', meshOf({ rules: [{ ...rule, from: [{ kind: 'ipBlocks', cidrs: [10], site: site(1) }] }] }), 1],
    ['a numeric identity namespace', meshOf({ rules: [{ ...rule, from: [{ kind: 'identity', namespace: 5, serviceAccount: 'a' }] }] }), 3],
    ['a string as a destination', meshOf({ rules: [{ ...rule, to: 'web' }] }), 3],
    ['a numeric port name', meshOf({ rules: [{ ...rule, ports: [1] }] }), 3],
    ["method '*'", meshOf({ rules: [{ ...rule, methods: ['*'] }] }), 3],
    ['a numeric path', meshOf({ rules: [{ ...rule, paths: [5] }] }), 3],
    ["expect 'always'", meshOf({ assertions: [{ ...assertion, expect: 'always' }] }), 4],
    ['an unknown caller kind', meshOf({ assertions: [{ ...assertion, from: { kind: 'robot' } }] }), 4],
    ["method 'get'", meshOf({ assertions: [{ ...assertion, method: 'get' }] }), 4],
    ['a numeric assertion path', meshOf({ assertions: [{ ...assertion, path: 7 }] }), 4],
    ['a function as a port name', meshOf({ assertions: [{ ...assertion, port: new OpaqueValue('function') }] }), 4],
  ];
  it.each(cases)('GIVEN %s THEN one short PC2007 at the declaration', (_name, exported, line) => {
    const result = buildModel(exported, entry, store, locate);
    assert.deepEqual(
      result.diagnostics.map((d) => [d.code, d.span?.line]),
      [['PC2007', line]],
    );
    assert.ok((result.diagnostics[0]?.message.length ?? 0) < 400, result.diagnostics[0]?.message);
  });

  it('GIVEN valid values THEN the model is built', () => {
    const result = buildModel(meshOf(), entry, store, locate);
    assert.deepEqual(result.diagnostics, []);
    assert.equal(result.model?.rules.length, 1);
  });
});
