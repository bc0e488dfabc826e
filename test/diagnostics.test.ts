/**
 * One test per diagnostic code: GIVEN a policy that has exactly that problem, WHEN `policyc build` runs,
 * THEN the code is reported at the marked line and column (`/*@*​/` marks the spot), the exit status is
 * what the catalog promises, and nothing is written.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { catalog } from '../diagnostics/catalog';
import { validateEmitted } from '../compiler/check-emitted';
import { istioTarget } from '../targets/istio';
import { runCli, tempProject } from './helpers';

const MARK = '/*@*/';

const head = `import { allow, deny, anyone, authenticated, identity, ipBlocks, mesh, namespace, service } from 'policyc';
const shop = namespace('shop');
`;
const requestHead = `import { allow, exact, jwtIssuer, mesh, namespace, prefix, requestIdentity, service } from 'policyc';
const shop = namespace('shop');
`;
const web = `export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });\n`;
const api = `export const api = service(shop, 'api', { ports: { http: { port: 8080, protocol: 'http' } } });\n`;

interface Case {
  readonly code: string;
  readonly files: Record<string, string>;
  readonly exit?: number;
  readonly args?: readonly string[];
}

const cases: Case[] = [
  { code: 'PC1001', files: {}, args: ['build', 'missing.ts'], exit: 2 },
  { code: 'PC1002', files: { 'policy.ts': `${head}${web}export default mesh({ services: [web], rules: [allow(web).to(web, { ports: [${MARK}'htp'] })] });` } },
  { code: 'PC2001', files: { 'policy.ts': `${head}throw ${MARK}new Error('boom');\nexport default mesh({ services: [], rules: [] });` } },
  {
    code: 'PC2002',
    files: { 'policy.ts': `${head}// @ts-ignore\nimport * as fs from ${MARK}'fs';\nexport default mesh({ services: [], rules: [] });\nvoid fs;` },
  },
  {
    code: 'PC2003',
    files: { 'policy.ts': `${MARK}${head}while (true) {}\nexport default mesh({ services: [], rules: [] });` },
    args: ['build', '--eval-timeout', '300'],
  },
  { code: 'PC2004', files: { 'policy.ts': `${MARK}export const nothing = 1;\n` } },
  { code: 'PC2005', files: { 'policy.ts': `${head}const stamp = Date.${MARK}now();\nexport default mesh({ services: [], rules: [] });\nvoid stamp;` } },
  { code: 'PC2006', files: { 'policy.ts': `${head}export default ${MARK}mesh({ services: [{ kind: 'service' } as never, 'web' as never], rules: [] });` } },
  {
    code: 'PC3001',
    files: {
      'policy.ts': `${head}${web}export const web2 = ${MARK}service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });\nexport default mesh({ services: [web, web2], rules: [] });`,
    },
  },
  {
    code: 'PC3002',
    files: {
      'policy.ts': `${head}${web}export const canary = ${MARK}service(shop, 'canary', { selector: { app: 'web' }, ports: { http: { port: 8080, protocol: 'http' } } });\nexport default mesh({ services: [web, canary], rules: [] });`,
    },
  },
  {
    code: 'PC3003',
    files: {
      'policy.ts': `${head}export const s = ${MARK}service(shop, 's', { ports: { a: { port: 80, protocol: 'http' }, b: { port: 80, protocol: 'tcp' } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  {
    code: 'PC3004',
    files: {
      'policy.ts': `${head}export const s = ${MARK}service(shop, 's', { ports: { Web_Port: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  {
    code: 'PC3005',
    files: {
      'policy.ts': `${head}export const s = ${MARK}service(shop, 's', { ports: { http: { port: 70000, protocol: 'http' } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  {
    code: 'PC3006',
    files: {
      'policy.ts': `${head}export const s = ${MARK}service(shop, 'Web', { ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  {
    // A kept object name that Kubernetes would refuse.
    code: 'PC3006',
    files: { 'policy.ts': `${head}${web}export default mesh({ services: [web], rules: [allow(web).${MARK}to(web, { name: 'Web Viewer' })] });` },
  },
  {
    // One kept name given to the policies of two destinations of a namespace.
    code: 'PC3006',
    files: {
      'policy.ts': `${head}${web}${api}export default mesh({ services: [web, api], rules: [allow(web).to(api, { name: 'viewer' }), allow(api).${MARK}to(web, { name: 'viewer' })] });`,
    },
  },
  {
    code: 'PC3007',
    files: {
      'policy.ts': `${head}export const s = ${MARK}service(shop, 's', { selector: { app: 'a*' }, ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  {
    code: 'PC3008',
    files: {
      'policy.ts': `${head}${web}${api}const scope = { ports: ['db'], methods: ['GET'] } as never;\nexport default mesh({ services: [web, api], rules: [allow(api).${MARK}to(web, scope)] });`,
    },
  },
  {
    code: 'PC3009',
    files: {
      'policy.ts': `${head}${web}${api}const scope = { ports: ['nope'] } as never;\nexport default mesh({ services: [web, api], rules: [allow(api).${MARK}to(web, scope)] });`,
    },
  },
  {
    code: 'PC3010',
    files: { 'policy.ts': `${head}${web}${api}export default mesh({ services: [web], rules: [allow(api).${MARK}to(web, { ports: ['http'] })] });` },
  },
  {
    code: 'PC3011',
    files: {
      'policy.ts': `${head}${api}export default mesh({ mtls: 'PERMISSIVE', services: [api], rules: [deny(shop).${MARK}to(api, { ports: ['http'] })] });`,
    },
  },
  {
    code: 'PC3012',
    files: {
      'policy.ts': `${head}export const g = service(shop, 'g', { ports: { grpc: { port: 9090, protocol: 'grpc' } } });\n${api}export default mesh({ services: [g, api], rules: [allow(api).${MARK}to(g, { ports: ['grpc'], methods: ['GET'] })] });`,
    },
    exit: 0,
  },
  {
    code: 'PC3013',
    files: {
      'policy.ts': `${head}${web}${api}export default mesh({ services: [web, api], rules: [allow(shop).to(web, { ports: ['http'] }), allow(api).${MARK}to(web, { ports: ['http'] })] });`,
    },
    exit: 0,
  },
  {
    code: 'PC3014',
    files: { 'policy.ts': `${head}${web}${api}export default mesh({ services: [web, api], rules: [allow(api).${MARK}to(web, { ports: [] })] });` },
  },
  {
    code: 'PC3015',
    files: {
      'policy.ts': `${head}${web}export default mesh({ services: [web], rules: [allow(ipBlocks('10.0.0.1/8')).${MARK}to(web, { ports: ['http'] })] });`,
    },
  },
  {
    code: 'PC3016',
    files: {
      'policy.ts': `${head}${web}${api}export default mesh({ services: [web, api], rules: [allow(api).${MARK}to(web, { ports: ['http'], paths: ['/a/*/b'] })] });`,
    },
  },
  {
    code: 'PC3017',
    files: {
      'policy.ts': `${head}const shop2 = ${MARK}namespace('shop', { mtls: 'PERMISSIVE' });\n${web}export const s = service(shop2, 's', { ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [web, s], rules: [] });`,
    },
  },
  {
    code: 'PC3018',
    files: {
      'policy.ts': `${head}${web}${api}export default mesh({ defaultAction: 'allow', services: [web, api], rules: [allow(api).${MARK}to(web, { ports: ['http'] })] });`,
    },
    exit: 0,
  },
  {
    code: 'PC3019',
    files: {
      'policy.ts': `${head}const root = namespace('istio-system');\nexport const s = ${MARK}service(root, 's', { ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  {
    code: 'PC3020',
    files: {
      'policy.ts': `${head}${web}${api}export default mesh({ mtls: 'DISABLE', services: [web, api], rules: [allow(api).${MARK}to(web, { ports: ['http'] })] });`,
    },
    exit: 0,
  },
  { code: 'PC3021', files: { 'policy.ts': `${head}${web}export default ${MARK}mesh({ trustDomain: 'Bad Domain', services: [web], rules: [] });` } },
  {
    code: 'PC3050',
    files: {
      'policy.ts': `${head}export const s = ${MARK}service(shop, 's', { ports: { db: { port: 5432, protocol: 'tcp', probes: { readiness: { path: '/healthz' } } } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  {
    code: 'PC3051',
    files: {
      'policy.ts': `${head}export const s = ${MARK}service(shop, 's', { ports: { http: { port: 8080, protocol: 'http', probes: { liveness: { path: '/health*' } } } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  {
    code: 'PC3052',
    files: {
      'policy.ts': `${head}export const s = ${MARK}service(shop, 's', { ports: { http: { port: 8080, protocol: 'http', probes: { liveness: { tcp: true } } } } });\nexport default mesh({ services: [s], rules: [] });`,
    },
  },
  // Header conditions and request identities: a cast (\`as\`) gets past the type checker, never past the validator.
  {
    code: 'PC3030',
    files: {
      'policy.ts': `${requestHead}${web}${api}export default mesh({ services: [web, api], rules: [allow(api).${MARK}to(web, { ports: ['http'], headers: { ['X-Token' as 'x-token']: exact('a') } })] });`,
    },
  },
  {
    code: 'PC3031',
    files: {
      'policy.ts': `${requestHead}${web}${api}export default mesh({ services: [web, api], rules: [allow(api).${MARK}to(web, { ports: ['http'], headers: { 'x-env': prefix('prod-*') } })] });`,
    },
  },
  {
    code: 'PC3032',
    files: {
      'policy.ts': `${requestHead}${web}const idp = ${MARK}jwtIssuer({ issuer: 'https://idp.example', jwksUri: 'ftp://idp.example/keys' });
export default mesh({ services: [web], rules: [allow(requestIdentity(idp)).to(web, { ports: ['http'] })] });`,
    },
  },
  {
    code: 'PC3033',
    files: {
      'policy.ts': `${requestHead}${web}const idp = jwtIssuer({ issuer: 'https://idp.example', jwksUri: 'https://idp.example/keys' });
const idp2 = ${MARK}jwtIssuer({ issuer: 'https://idp.example', jwksUri: 'https://idp.example/other-keys' });
export default mesh({ services: [web], rules: [allow(requestIdentity(idp)).to(web, { ports: ['http'] }), allow(requestIdentity(idp2)).to(web, { ports: ['http'], paths: ['/a'] })] });`,
    },
  },
  {
    code: 'PC3034',
    files: {
      'policy.ts': `${requestHead}${web}const idp = jwtIssuer({ issuer: 'https://idp.example', jwksUri: 'https://idp.example/keys' });
export default mesh({ services: [web], rules: [allow(requestIdentity(idp, { subject: 'team-*' })).${MARK}to(web, { ports: ['http'] })] });`,
    },
  },
  { code: 'PC5001', files: { 'policy.ts': `${head}export default mesh({ services: [], rules: [] });` }, args: ['build', '--target', 'consul'], exit: 2 },
  {
    code: 'PC5002',
    files: { 'policy.ts': `${head}export default mesh({ services: [], rules: [] });`, manifests: 'a file where the output folder should be' },
    exit: 2,
  },
];

/** Line and column (1-based) of the marker, once the marker is removed. */
function markedPosition(files: Record<string, string>): { file: string; line: number; column: number; text: Record<string, string> } | undefined {
  for (const [file, text] of Object.entries(files)) {
    const at = text.indexOf(MARK);
    if (at === -1) continue;
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    return { file, line, column, text: { ...files, [file]: text.replace(MARK, '') } };
  }
  return undefined;
}

describe('every diagnostic code', () => {
  for (const { code, files, exit, args } of cases)
    it(`${code} is reported where the problem is`, () => {
      // GIVEN a policy with exactly this problem
      const marked = markedPosition(files);
      const dir = tempProject(marked?.text ?? files);
      const before = fs.existsSync(path.join(dir, 'manifests'));
      // WHEN it is built
      const run = runCli([...(args ?? ['build']), '--format', 'json'], dir);
      const { diagnostics } = JSON.parse(run.stdout) as { diagnostics: { code: string; span?: { file: string; line: number; column: number } }[] };
      // THEN the code is there, at the marked spot
      const found = diagnostics.filter((d) => d.code === code);
      assert.ok(found.length > 0, `expected ${code} in ${run.stdout}`);
      if (marked !== undefined) {
        const where = found.map((d) => d.span && `${d.span.file}:${d.span.line}:${d.span.column}`);
        assert.ok(
          where.includes(`${marked.file}:${marked.line}:${marked.column}`),
          `${code} at ${where.join(', ')}, expected ${marked.file}:${marked.line}:${marked.column}`,
        );
      }
      const severity = Object.values(catalog).find((e) => e.code === code)?.severity;
      assert.equal(run.exit, exit ?? (severity === 'error' ? 1 : 0));
      // AND nothing is written when the build fails
      if (run.exit !== 0 && !before) assert.equal(fs.existsSync(path.join(dir, 'manifests')), false);
    });

  it('covers every code in the catalog but the internal ones', () => {
    const tested = new Set(cases.map((c) => c.code));
    // PC4001 and PC5003 are policyc bugs (tested through validateEmitted); PC4002-PC4004 are verify's (test/verify.test.ts);
    // PC41xx are the Linkerd target's (test/linkerd/), PC42xx the Istio ambient target's (test/istio-ambient.test.ts); PC5003-PC5012 (usage and the output folder) are tested in
    // test/cli.test.ts and test/output-folder.test.ts; PC60xx are import's
    // (test/import*.test.ts); the others are listed with the test file that covers them.
    const testedElsewhere: Readonly<Record<string, string>> = {
      PC2007: 'test/evaluate.test.ts, test/hostile/',
      PC2008: 'test/hostile/',
      PC2009: 'test/hostile/',
      PC2010: 'test/evaluate.test.ts',
      PC5020: 'test/resolve-import.test.ts',
      PC5021: 'test/init.test.ts',
      PC3040: 'test/sources.test.ts',
      PC3041: 'test/sources.test.ts',
      PC3042: 'test/sources.test.ts',
      PC4010: 'test/sources.test.ts',
      PC3058: 'test/posture.test.ts',
      PC3060: 'test/peers.test.ts',
      PC3061: 'test/peers.test.ts',
    };
    const elsewhere = (code: string) =>
      ['PC4001', 'PC4002', 'PC4003', 'PC4004'].includes(code) ||
      code in testedElsewhere ||
      code.startsWith('PC41') ||
      code.startsWith('PC42') ||
      code.startsWith('PC60') ||
      (code >= 'PC5003' && code <= 'PC5012');
    const missing = Object.values(catalog)
      .map((e) => e.code)
      .filter((code) => !tested.has(code) && !elsewhere(code));
    assert.deepEqual(missing, []);
  });

  it('GIVEN one service listed twice in services WHEN checked THEN PC3001 says to remove an entry, not to merge declarations', () => {
    const dir = tempProject({ 'policy.ts': `${head}${web}export default mesh({ services: [web, web], rules: [] });` });
    const run = runCli(['check', '--format', 'json'], dir);
    const { diagnostics } = JSON.parse(run.stdout) as { diagnostics: { code: string; message: string }[] };
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['PC3001'],
    );
    assert.match(diagnostics[0]?.message ?? '', /listed twice in the mesh's `services`\. Remove one/);
    assert.equal(run.exit, 1);
  });

  it('a duplicate service is the only error: rules refer to the first declaration', () => {
    const dir = tempProject({
      'policy.ts': `${head}${web}${api}export const web2 = service(shop, 'web', { ports: { other: { port: 9000, protocol: 'tcp' } } });\nexport default mesh({ services: [web, api, web2], rules: [allow(api).to(web, { ports: ['http'] })] });`,
    });
    const run = runCli(['build', '--format', 'json'], dir);
    const { diagnostics } = JSON.parse(run.stdout) as { diagnostics: { code: string }[] };
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ['PC3001'],
    );
    assert.equal(run.exit, 1);
  });

  it('PC4001: an emitted object that fails its real CRD is reported, not written', () => {
    const broken = {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'x', namespace: 'shop' },
      spec: { action: 'ALLOW', rules: [{ to: [{ operation: { ports: ['8080'], verbs: ['GET'] } }] }] },
    };
    const found = validateEmitted(istioTarget, [broken]);
    assert.equal(found[0]?.code, 'PC4001');
    assert.match(found[0]?.message ?? '', /AuthorizationPolicy shop\/x fails its CRD/);
  });

  it('has unique codes and ids', () => {
    const codes = Object.values(catalog).map((e) => e.code);
    assert.equal(new Set(codes).size, codes.length);
  });
});
