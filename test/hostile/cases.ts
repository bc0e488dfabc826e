/**
 * Hostile policies: each one tries to escape the evaluator, change the compiler's behaviour, or slip a value
 * past the checks. A case is the base policy below with some lines replaced; `MARKER` stands for a file the
 * attack tries to create, and every attack that reaches anything tries to read `POLICYC_CANARY` from the
 * environment. `expect` is what `policyc build` must answer: its exit code and, for each diagnostic, the code
 * and the line of policy.ts it points at (`exit: 0` with no diagnostics means: built, byte-identical to the base).
 * Cases are built in-process through `compile()` (the evaluator child is still spawned for each); those with
 * `cli` set are built by the real CLI in a child process: together they cover what only that process shows (its
 * rights, its environment, the previous output folder it writes into, its exit after `import()`).
 */

/** The base policy, by line number (1-based). Line 5 is free for an attack. */
export const BASE_LINES: readonly string[] = [
  "import { allow, deny, mesh, namespace, service, ipBlocks, identity, neverReaches, reaches, type DefaultAction, type HttpMethod, type MtlsMode } from 'policyc';",
  'declare const module: any, require: any, process: any;',
  "const shop = namespace('shop');",
  "const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });",
  '// (attack)',
  "const api = service(shop, 'api', { serviceAccount: 'api-sa', selector: { app: 'api' }, ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });",
  'export default mesh({',
  "  trustDomain: 'cluster.local', rootNamespace: 'istio-system', defaultAction: 'deny',",
  '  services: [web, api],',
  '  rules: [',
  "    allow(web).to(api, { ports: ['http'], methods: ['GET'], paths: ['/v1/*'] }),",
  "    allow(identity('ops', 'deployer')).to(api, { ports: ['db'] }),",
  "    deny(ipBlocks('10.0.0.0/8')).to(api),",
  '  ],',
  "  assertions: [neverReaches(ipBlocks('10.0.0.0/8'), api), reaches(web, api, { port: 'http', method: 'GET' })],",
  '});',
];

export interface HostileCase {
  readonly name: string;
  /** Replacement lines, by 1-based line number. */
  readonly lines: Readonly<Record<number, string>>;
  readonly expect: { readonly exit: 0 | 1; readonly diagnostics: readonly (readonly [code: string, line: number])[] };
  /** `--eval-timeout` for the build (cases that loop use a short one). */
  readonly evalTimeoutMs?: number;
  /** Why this case must run as a real `policyc build` process rather than in-process. */
  readonly cli?: string;
}

/** What an escape does once it holds `process`: write the marker with the canary in it. */
const PAYLOAD = `.mainModule.require('fs').writeFileSync(MARKER, process.env.POLICYC_CANARY)`;
const attack = (code: string): Readonly<Record<number, string>> => ({ 5: code });
const threw = (line = 5) => ({ exit: 1, diagnostics: [['PC2001', line]] }) as const;
const built = { exit: 0, diagnostics: [] } as const;
const timedOut = { exit: 1, diagnostics: [['PC2003', 1]] } as const;
/** `--eval-timeout` of the cases that loop: the loop spins until the bound, so each millisecond is CPU spent. */
const LOOP_TIMEOUT_MS = 500;

export const CASES: readonly HostileCase[] = [
  // Escapes through every object the old evaluator handed in: code generation is off in the policy realm, and
  // the constructor chains of its objects end in that realm's Function.
  {
    name: 'escape through the context global',
    lines: attack(`(globalThis as any).constructor.constructor('return process')()${PAYLOAD};`),
    expect: threw(),
    cli: 'an escape would hold the policyc process itself: its rights (the marker) and its environment (the secret)',
  },
  { name: 'escape through a DSL builder', lines: attack(`(service as any).constructor.constructor('return process')()${PAYLOAD};`), expect: threw() },
  { name: 'escape through a declaration', lines: attack(`(web as any).ports.constructor.constructor('return process')()${PAYLOAD};`), expect: threw() },
  { name: 'escape through a rule builder', lines: attack(`(allow(web) as any).to.constructor.constructor('return process')()${PAYLOAD};`), expect: threw() },
  { name: 'escape through module', lines: attack(`module.constructor.constructor('return process')()${PAYLOAD};`), expect: threw() },
  { name: 'escape through require', lines: attack(`require.constructor.constructor('return process')()${PAYLOAD};`), expect: threw() },
  { name: 'escape through an async function constructor', lines: attack(`(async () => 1).constructor('return process')()${PAYLOAD};`), expect: threw() },
  { name: 'escape through eval', lines: attack(`(0, eval)('process')${PAYLOAD};`), expect: threw() },
  {
    name: 'escape through an error stack (call sites)',
    lines: attack(
      `(Error as any).prepareStackTrace = (_: unknown, s: any[]) => s; (new Error() as any).stack[0].getFunction().constructor('return process')()${PAYLOAD};`,
    ),
    expect: threw(),
  },
  {
    name: 'require of a Node module',
    lines: attack(`require('fs').writeFileSync(MARKER, process.env.POLICYC_CANARY);`),
    expect: { exit: 1, diagnostics: [['PC2002', 5]] },
  },
  {
    name: 'require of child_process',
    lines: attack(`require('node:child_process').execSync('touch ' + MARKER);`),
    expect: { exit: 1, diagnostics: [['PC2002', 5]] },
  },
  {
    name: 'import() of a Node module',
    lines: attack(`const spec: string = 'node:fs'; void import(spec).then((fs: any) => fs.writeFileSync(MARKER, process.env.POLICYC_CANARY));`),
    expect: built,
    cli: 'import() settles after the CLI has written into the previous output folder, and must neither crash its exit nor change that folder',
  },
  {
    name: 'Node globals',
    lines: attack(`(globalThis as any).process.env.POLICYC_CANARY; (globalThis as any).setTimeout(() => 0, 0);`),
    expect: threw(),
  },
  { name: 'the clock', lines: attack(`const now = new ((new Date(0)) as any).constructor(); void now;`), expect: { exit: 1, diagnostics: [['PC2005', 5]] } },

  // Pollution: the realm's intrinsics and the DSL are frozen, so these change nothing (or throw).
  {
    name: 'Object.prototype property',
    lines: attack(`(Object.prototype as any).mtls = 'DISABLE'; (Object.prototype as any).defaultAction = 'allow';`),
    expect: built,
  },
  { name: 'Object.prototype getter', lines: attack(`Object.defineProperty(Object.prototype, 'mtls', { get: () => 'DISABLE' });`), expect: threw() },
  {
    name: 'Array.prototype.push and forEach',
    lines: attack(`Array.prototype.push = function () { return 0; }; Array.prototype.forEach = function () {};`),
    expect: built,
  },
  { name: 'Array iterator', lines: attack(`(Array.prototype as any)[Symbol.iterator] = function* () {};`), expect: built },
  {
    name: 'Function.prototype.call and apply',
    lines: attack(`Function.prototype.call = function () {}; Function.prototype.apply = function () {};`),
    expect: built,
  },
  {
    name: 'JSON, Object.keys and Map',
    lines: attack(`JSON.stringify = () => '{}'; Object.keys = () => []; Map.prototype.get = () => undefined;`),
    expect: built,
  },
  {
    name: 'global bindings',
    lines: attack(`(globalThis as any).Object = null; (globalThis as any).JSON = null; (globalThis as any).Array = null;`),
    expect: built,
  },
  {
    name: 'the DSL and its constants',
    lines: attack(`(service as any).call = null; (mesh as any).kind = 'x'; (ipBlocks as any).apply = null;`),
    expect: built,
  },
  { name: 'stack trace hooks', lines: attack(`(Error as any).captureStackTrace = () => {}; (Error as any).stackTraceLimit = 0;`), expect: built },
  { name: 'a cycle through a declaration', lines: attack(`(web as any).self = web;`), expect: built },

  // Code that runs after the policy's own code: getters, proxies, thrown values, stack hooks, promises.
  { name: 'throwing getter on ports', lines: attack(`Object.defineProperty(web, 'ports', { get() { throw new Error('boom'); } });`), expect: threw() },
  {
    name: 'looping getter on ports',
    lines: attack(`Object.defineProperty(web, 'ports', { get() { for (;;) {} } });`),
    expect: timedOut,
    evalTimeoutMs: LOOP_TIMEOUT_MS,
  },
  {
    name: 'thrown object with a looping message getter',
    lines: attack(`throw { get message(): string { for (;;) {} } };`),
    expect: timedOut,
    evalTimeoutMs: LOOP_TIMEOUT_MS,
  },
  { name: 'thrown proxy', lines: attack(`throw new Proxy({}, { get() { for (;;) {} } });`), expect: timedOut, evalTimeoutMs: LOOP_TIMEOUT_MS },
  {
    name: 'proxy as the services list',
    lines: { 9: '  services: new Proxy([web, api], { get() { for (;;) {} } }),' },
    expect: timedOut,
    evalTimeoutMs: LOOP_TIMEOUT_MS,
  },
  { name: 'proxy with throwing ownKeys', lines: attack(`(web as any).extra = new Proxy({}, { ownKeys() { throw new Error('keys'); } });`), expect: threw() },
  {
    name: 'looping toString on a name',
    lines: { 4: "const web = service(shop, { toString() { for (;;) {} } } as any, { ports: { http: { port: 8080, protocol: 'http' } } });" },
    expect: { exit: 1, diagnostics: [['PC2007', 4]] },
  },
  { name: 'looping prepareStackTrace', lines: attack(`(Error as any).prepareStackTrace = () => { for (;;) {} }; throw new Error('x');`), expect: threw() },
  {
    name: 'promise loop',
    lines: attack(`(function spin(): void { void Promise.resolve().then(spin); })();`),
    expect: timedOut,
    evalTimeoutMs: LOOP_TIMEOUT_MS,
  },
  { name: 'endless loop', lines: attack(`for (;;) {}`), expect: timedOut, evalTimeoutMs: LOOP_TIMEOUT_MS },
  { name: 'stack overflow', lines: attack(`const down = (n: number): number => down(n + 1) + 1; down(0);`), expect: threw() },

  // Sizes.
  {
    name: 'deep nesting',
    lines: attack(`let deep: any = {}; for (let i = 0; i < 100000; i++) deep = { a: deep }; (web as any).extra = deep;`),
    expect: { exit: 1, diagnostics: [['PC2009', 1]] },
  },
  { name: 'huge array', lines: { 9: '  services: new Array(10_000_000).fill(web),' }, expect: { exit: 1, diagnostics: [['PC2009', 1]] } },
  {
    name: '10 MB name',
    lines: { 4: "const web = service(shop, 'w'.repeat(10_000_000), { ports: { http: { port: 8080, protocol: 'http' } } });" },
    expect: { exit: 1, diagnostics: [['PC2007', 4]] },
  },
  {
    name: 'memory exhaustion',
    lines: attack(`const hog: unknown[] = []; for (;;) hog.push(new Array(10_000_000).fill(0.5));`),
    expect: { exit: 1, diagnostics: [['PC2008', 1]] },
    evalTimeoutMs: 120_000,
  },

  // Casts: every closed vocabulary and every field's type, each at its declaration's line.
  {
    name: "'Deny' as DefaultAction",
    lines: { 8: "  trustDomain: 'cluster.local', rootNamespace: 'istio-system', defaultAction: 'Deny' as DefaultAction," },
    expect: { exit: 1, diagnostics: [['PC2007', 7]] },
  },
  {
    name: 'mesh fields of the wrong type',
    lines: { 8: "  trustDomain: 42 as any, rootNamespace: null as any, mtls: 'strict' as MtlsMode," },
    expect: { exit: 1, diagnostics: [['PC2007', 7]] },
  },
  {
    name: 'cast values in services and namespaces',
    lines: {
      4: "const web = service(shop, 'web', { ports: { http: { port: '8080' as any, protocol: 'http' } } });",
      5: "const extra = namespace('extra', { mtls: 'strict' as MtlsMode });",
      6: "const api = service(shop, 'api', { serviceAccount: 7 as any, ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });",
      8: "  trustDomain: 'cluster.local', rootNamespace: 'istio-system', defaultAction: 'deny', namespaces: [extra],",
    },
    expect: {
      exit: 1,
      diagnostics: [
        ['PC2007', 4],
        ['PC2007', 5],
        ['PC2007', 6],
      ],
    },
  },
  {
    name: "protocol: 'htp', a NaN port and selector: { app: null }",
    lines: {
      4: "const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'htp' as any } } });",
      6: "const api = service(shop, 'api', { selector: { app: null as any }, ports: { http: { port: NaN, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });",
    },
    expect: {
      exit: 1,
      diagnostics: [
        ['PC2007', 4],
        ['PC2007', 6],
      ],
    },
  },
  {
    name: "'*' as HttpMethod, ipBlocks(10 as any) and other casts in rules and assertions",
    lines: {
      11: "    allow(web).to(api, { ports: ['http'], methods: ['*' as HttpMethod], paths: ['/v1/*'] }),",
      12: "    allow(identity(5 as any, 'deployer')).to(api, { ports: ['db'] }),",
      13: '    deny(ipBlocks(10 as any)).to(api),',
      15: "  assertions: [neverReaches(ipBlocks('10.0.0.0/8'), api, { method: 'get' as HttpMethod }), reaches(web, api, { path: 5 as any })],",
    },
    expect: {
      exit: 1,
      diagnostics: [
        ['PC2007', 11],
        ['PC2007', 12],
        ['PC2007', 13],
        ['PC2007', 15],
      ],
    },
  },
  {
    name: 'a forged rule',
    lines: { 13: "    { ...deny(ipBlocks('10.0.0.0/8')).to(api), action: 'DENY' } as any," },
    expect: { exit: 1, diagnostics: [['PC2007', 13]] },
  },
  {
    name: 'values not made by the builders',
    lines: { 9: '  services: [web, api, (() => 1) as any, null as any],' },
    expect: { exit: 1, diagnostics: [['PC2006', 7]] },
  },

  // Injection: every string that reaches a manifest is checked before anything renders it.
  {
    name: 'YAML injection through every string field',
    lines: {
      3: "const shop = namespace('shop\\n---\\nkind: Secret');",
      4: "const web = service(shop, 'web\\nkind: Secret', { serviceAccount: 'sa\\n- x', ports: { 'http\\n- x': { port: 8080, protocol: 'http' } } });",
      6: "const api = service(namespace('shop'), 'api', { selector: { 'app\\n- x': 'api', tier: 'a\\n---' }, ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });",
      11: "    allow(web).to(api, { ports: ['http'], methods: ['GET'], paths: ['/v1/*\\n- /admin'] }),",
      12: "    allow(identity('ops\\n', 'deployer: x')).to(api, { ports: ['db'] }),",
      13: "    deny(ipBlocks('10.0.0.0/8\\n- 0.0.0.0/0')).to(api),",
    },
    expect: {
      exit: 1,
      diagnostics: [
        ['PC3006', 3],
        ['PC3006', 4],
        ['PC3004', 4],
        ['PC3007', 4],
        ['PC3007', 6],
        ['PC3016', 11],
        ['PC3006', 12],
        ['PC3015', 13],
      ],
    },
  },
  {
    name: 'YAML injection through the mesh settings',
    lines: { 8: "  trustDomain: 'cluster.local\\n---', rootNamespace: 'istio-system\\nkind: Secret', defaultAction: 'deny'," },
    expect: {
      exit: 1,
      diagnostics: [
        ['PC3021', 7],
        ['PC3006', 7],
      ],
    },
  },
];

/** The policy text of a case. */
export function policyOf(lines: Readonly<Record<number, string>>, marker: string): string {
  return `${BASE_LINES.map((line, i) => lines[i + 1] ?? line)
    .join('\n')
    .replace(/MARKER/g, JSON.stringify(marker))}\n`;
}
