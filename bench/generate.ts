/**
 * Synthetic policy repositories for the benchmark (issue 5): N services over ceil(N/50) namespace files
 * `ns-XX.ts` that import each other, about 10 rules per service, mixed mTLS modes, an entry `policy.ts`,
 * a `tsconfig.json` for plain `tsc --noEmit` (strict, `policyc` mapped to this repository's
 * `dist/dsl/index.d.ts`), and `model.json`: the same policy as policyc's mesh-neutral model (services and
 * explicit rules, sorted like compiler/build-model.ts), for the cdk8s comparison program.
 *
 * The output depends only on N and the seed. Rules only reference services of the same or of earlier
 * namespaces, so the imports between namespace files form no cycle.
 *
 * Usage: node dist/bench/generate.js --services 1000 [--out bench/out/gen-1000] [--seed 1]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HttpMethod, PolicyModel, RuleModel, SourceModel } from '../model/model';
import { DSL_DECLARATIONS, policyCompilerOptions } from '../compiler/typecheck-options';

export const SERVICES_PER_NAMESPACE = 50;
export const RULES_PER_SERVICE = 10;

/** Where `policyc`'s declarations are: `<repo>/dist/dsl/index.d.ts` (this file runs from `<repo>/dist/bench/`). */
export const REPO_ROOT = path.resolve(__dirname, '../..');

type Mtls = 'STRICT' | 'PERMISSIVE';
type Protocol = 'http' | 'grpc' | 'tcp';

interface GenPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly mtls?: Mtls;
}

interface GenService {
  readonly index: number;
  readonly ident: string; // TypeScript identifier
  readonly name: string;
  readonly ns: number;
  readonly ports: readonly GenPort[];
  readonly mtls?: Mtls;
}

interface GenNamespace {
  readonly index: number;
  readonly ident: string;
  readonly name: string;
  readonly file: string; // without .ts
  readonly mtls?: Mtls;
}

type GenSource =
  | { readonly kind: 'service'; readonly service: GenService }
  | { readonly kind: 'namespace'; readonly ns: GenNamespace }
  | { readonly kind: 'identity'; readonly namespace: string; readonly serviceAccount: string }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'anyone' }
  | { readonly kind: 'ipBlocks'; readonly cidrs: readonly string[] };

interface GenRule {
  readonly action: 'allow' | 'deny';
  readonly from: readonly GenSource[];
  readonly to: GenService;
  readonly ports?: readonly string[];
  readonly methods?: readonly HttpMethod[];
  readonly paths?: readonly string[];
}

/** The model the generator writes beside the policy (compiler/model.ts without rule ids or locations), for the cdk8s baseline. */
export type BenchRule = Omit<RuleModel, 'id' | 'location'>;
export type BenchSource = SourceModel;
export type BenchModel = Omit<PolicyModel, 'rules'> & { readonly rules: readonly BenchRule[] };

export interface GeneratedRepo {
  readonly dir: string;
  readonly entry: string;
  readonly tsconfig: string;
  readonly modelFile: string;
  readonly files: readonly string[];
  readonly services: number;
  readonly rules: number;
  readonly namespaces: number;
}

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const HTTP_PATHS = ['/api/v1/*', '/api/v2/*', '/healthz', '/orders/*', '/carts/*', '/users/*', '/search', '/static/*', '/admin/*', '/v1/items/*'];
const HTTP_METHOD_SETS: readonly (readonly HttpMethod[])[] = [['GET'], ['GET', 'POST'], ['POST'], ['GET', 'HEAD'], ['PUT', 'DELETE'], ['GET', 'POST', 'PATCH']];
const GATEWAY = { namespace: 'istio-system', serviceAccount: 'istio-ingressgateway-service-account' };

/**
 * One policy for every target: in Istio ambient, plaintext clients (IP blocks, anyone) of a PERMISSIVE port skip
 * the waypoint, so a rule matching them by method or path is an error there (PC4203, targets/istio-ambient). Such
 * allows match by port only; such denies are left out when an L4 allow admits plaintext clients on that service.
 */
function ambientCompatible(rules: readonly GenRule[], dest: GenService, namespaces: readonly GenNamespace[]): GenRule[] {
  const plaintext = new Set(dest.ports.filter((p) => (p.mtls ?? dest.mtls ?? namespaces[dest.ns]?.mtls ?? 'STRICT') === 'PERMISSIVE').map((p) => p.name));
  const matchesPlaintext = (r: GenRule): boolean =>
    (r.ports ?? dest.ports.map((p) => p.name)).some((p) => plaintext.has(p)) && r.from.some((s) => s.kind === 'anyone' || s.kind === 'ipBlocks');
  const l7 = (r: GenRule): boolean => r.methods !== undefined || r.paths !== undefined;
  const ported = rules.map((r): GenRule =>
    r.action === 'allow' && l7(r) && matchesPlaintext(r)
      ? { action: r.action, from: r.from, to: r.to, ...(r.ports === undefined ? {} : { ports: r.ports }) }
      : r,
  );
  const l4Allow = ported.some((r) => r.action === 'allow' && !l7(r) && matchesPlaintext(r));
  return ported.filter((r) => !(r.action === 'deny' && l7(r) && matchesPlaintext(r) && l4Allow));
}

export function generate(services: number, outDir: string, seed = 1): GeneratedRepo {
  if (!Number.isInteger(services) || services < 2) throw new Error(`--services must be an integer >= 2, got ${services}`);
  const random = prng(seed * 1_000_003 + services);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (p: number): boolean => random() < p;

  const nsCount = Math.ceil(services / SERVICES_PER_NAMESPACE);
  const nsDigits = Math.max(2, String(nsCount - 1).length);
  const svcDigits = Math.max(4, String(services - 1).length);
  const namespaces: GenNamespace[] = [];
  for (let k = 0; k < nsCount; k++) {
    const id = String(k).padStart(nsDigits, '0');
    // Namespace-level mTLS: every fourth namespace is PERMISSIVE (a mesh migration in progress).
    namespaces.push({ index: k, ident: `ns${id}`, name: `ns-${id}`, file: `ns-${id}`, ...(k % 4 === 3 ? { mtls: 'PERMISSIVE' as const } : {}) });
  }

  const all: GenService[] = [];
  for (let i = 0; i < services; i++) {
    const id = String(i).padStart(svcDigits, '0');
    const ns = Math.floor(i / SERVICES_PER_NAMESPACE);
    const kind = random();
    const metricsMtls: Mtls | undefined = chance(0.2) ? 'PERMISSIVE' : undefined;
    const metrics: GenPort = { name: 'metrics', port: 9102, protocol: 'http', ...(metricsMtls === undefined ? {} : { mtls: metricsMtls }) };
    const ports: GenPort[] =
      kind < 0.5
        ? [{ name: 'http', port: 8080, protocol: 'http' }, metrics]
        : kind < 0.8
          ? [{ name: 'http', port: 8080, protocol: 'http' }, { name: 'grpc', port: 9090, protocol: 'grpc' }, metrics]
          : [{ name: 'sql', port: 5432, protocol: 'tcp' }, metrics];
    // Service-level mTLS: a few PERMISSIVE services in STRICT namespaces, a few STRICT ones in PERMISSIVE namespaces.
    const nsMtls = namespaces[ns]?.mtls;
    const mtls: Mtls | undefined = nsMtls === 'PERMISSIVE' ? (chance(0.1) ? 'STRICT' : undefined) : chance(0.05) ? 'PERMISSIVE' : undefined;
    all.push({ index: i, ident: `svc${id}`, name: `svc-${id}`, ns, ports, ...(mtls === undefined ? {} : { mtls }) });
  }
  const byNs: GenService[][] = namespaces.map(() => []);
  for (const svc of all) byNs[svc.ns]?.push(svc);

  // Rules live in the destination's file; sources come from the same namespace or earlier ones.
  // Rules live in the destination's file; sources come from the same namespace or earlier ones. Sources are
  // chosen per port the way teams write them (namespaces scrape metrics, services and gateways call the APIs),
  // and never twice for one destination, so few rules shadow each other.
  const rulesByNs: GenRule[][] = namespaces.map(() => []);
  for (const dest of all) {
    const local = byNs[dest.ns] ?? [];
    const used = new Set<string>();
    const fresh = (key: string): boolean => (used.has(key) ? false : (used.add(key), true));
    /** A caller of an API port: a service (same namespace or an earlier one), an IP block or the ingress gateway. */
    const caller = (): GenSource | undefined => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const r = random();
        if (r < 0.8) {
          const svc = r < 0.4 || dest.ns === 0 ? pick(local) : pick(byNs[Math.floor(random() * dest.ns)] ?? local);
          if (svc !== dest && fresh(svc.ident)) return { kind: 'service', service: svc };
        } else if (r < 0.93) {
          const cidr = `10.${dest.ns % 256}.${Math.floor(random() * 256)}.0/24`;
          const extra = `192.168.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`;
          if (fresh(cidr)) return { kind: 'ipBlocks', cidrs: chance(0.3) ? [cidr, extra] : [cidr] };
        } else if (fresh('gateway')) {
          return { kind: 'identity', ...GATEWAY };
        }
      }
      return undefined;
    };
    /** A scraper of the metrics port: a namespace (this one or an earlier one). */
    const scraper = (): GenSource | undefined => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const ns = namespaces[chance(0.4) ? dest.ns : Math.floor(random() * (dest.ns + 1))] as GenNamespace;
        if (fresh(ns.ident)) return { kind: 'namespace', ns };
      }
      return undefined;
    };
    const callers = (): GenSource[] => {
      const first = caller();
      const second = chance(0.15) ? caller() : undefined;
      return [first, second].filter((s): s is GenSource => s !== undefined);
    };
    const rules: GenRule[] = [];
    const count = RULES_PER_SERVICE - 2 + Math.floor(random() * 5); // 8..12, about 10
    const portNames = dest.ports.map((p) => p.name);
    const apiPorts = dest.ports.filter((p) => p.name !== 'metrics');
    let denied = false;
    let publicPath = false;
    for (let n = 0; n < count; n++) {
      // A few deny(anyone) with ports and paths (never identity-based denies: on PERMISSIVE ports those are errors).
      if (!denied && chance(0.12)) {
        denied = true;
        rules.push({ action: 'deny', from: [{ kind: 'anyone' }], to: dest, ports: ['metrics'], paths: [pick(['/debug/*', '/admin/*', '/internal/*'])] });
        continue;
      }
      const which = random();
      if (which < 0.12) {
        const from = scraper();
        if (from !== undefined) rules.push({ action: 'allow', from: [from], to: dest, ports: ['metrics'], methods: ['GET'], paths: ['/metrics'] });
        continue;
      }
      const from = callers();
      if (from.length === 0) continue;
      const port = pick(apiPorts);
      if (which < 0.18) {
        rules.push({ action: 'allow', from, to: dest }); // every port
      } else if (port.protocol === 'tcp') {
        rules.push({ action: 'allow', from, to: dest, ports: [port.name] });
      } else if (port.protocol === 'grpc') {
        const pkg = `${dest.ident}.v1.Api`;
        rules.push(
          chance(0.6)
            ? {
                action: 'allow',
                from,
                to: dest,
                ports: ['grpc'],
                methods: ['POST'],
                paths: [chance(0.5) ? `/${pkg}/*` : `/${pkg}/Get${Math.floor(random() * 5)}`],
              }
            : { action: 'allow', from, to: dest, ports: ['grpc'] },
        );
      } else if (!publicPath && chance(0.05)) {
        publicPath = true;
        rules.push({ action: 'allow', from: [{ kind: 'authenticated' }], to: dest, ports: ['http'], methods: ['GET'], paths: ['/public/*'] });
      } else if (chance(0.6)) {
        const paths = chance(0.4) ? [pick(HTTP_PATHS), pick(HTTP_PATHS)] : [pick(HTTP_PATHS)];
        rules.push({ action: 'allow', from, to: dest, ports: [port.name], methods: pick(HTTP_METHOD_SETS), paths: [...new Set(paths)] });
      } else {
        rules.push({ action: 'allow', from, to: dest, ports: chance(0.2) ? portNames.filter((p) => p !== 'sql') : [port.name] });
      }
    }
    rulesByNs[dest.ns]?.push(...ambientCompatible(rules, dest, namespaces));
  }

  // ---------------------------------------------------------------------------------------------------------
  // Sources
  const lit = (values: readonly string[]): string => `[${values.map((v) => `'${v}'`).join(', ')}]`;
  const files: string[] = [];
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const write = (name: string, text: string): void => {
    fs.writeFileSync(path.join(outDir, name), text);
    if (name.endsWith('.ts')) files.push(path.join(outDir, name));
  };

  for (const ns of namespaces) {
    const imports = new Map<number, Set<string>>();
    const need = (fromNs: number, ident: string): string => {
      if (fromNs !== ns.index) {
        const set = imports.get(fromNs) ?? new Set<string>();
        set.add(ident);
        imports.set(fromNs, set);
      }
      return ident;
    };
    const builders = new Set<string>(['namespace', 'service', 'identity']);
    const sourceText = (s: GenSource): string => {
      if (s.kind !== 'service' && s.kind !== 'namespace' && s.kind !== 'identity') builders.add(s.kind);
      switch (s.kind) {
        case 'service':
          return need(s.service.ns, s.service.ident);
        case 'namespace':
          return need(s.ns.index, s.ns.ident);
        case 'identity':
          return 'gateway';
        case 'authenticated':
          return 'authenticated';
        case 'anyone':
          return 'anyone';
        case 'ipBlocks':
          return `ipBlocks(${s.cidrs.map((c) => `'${c}'`).join(', ')})`;
      }
    };
    const body: string[] = [];
    body.push(`export const ${ns.ident} = namespace('${ns.name}'${ns.mtls === undefined ? '' : `, { mtls: '${ns.mtls}' }`});`);
    body.push(`const gateway = identity('${GATEWAY.namespace}', '${GATEWAY.serviceAccount}');`, '');
    const local = byNs[ns.index] ?? [];
    for (const svc of local) {
      const ports = svc.ports
        .map((p) => `${p.name}: { port: ${p.port}, protocol: '${p.protocol}'${p.mtls === undefined ? '' : `, mtls: '${p.mtls}'`} }`)
        .join(', ');
      body.push(
        `export const ${svc.ident} = service(${ns.ident}, '${svc.name}', {${svc.mtls === undefined ? '' : ` mtls: '${svc.mtls}',`} ports: { ${ports} } });`,
      );
    }
    // Typed as AnyService[]: at thousands of services, one union of every service's literal type is too complex for tsc (TS2590).
    body.push('', `export const services: readonly AnyService[] = [${local.map((s) => s.ident).join(', ')}];`, '', 'export const rules = [');
    for (const rule of rulesByNs[ns.index] ?? []) {
      const scope: string[] = [];
      if (rule.ports !== undefined) scope.push(`ports: ${lit(rule.ports)}`);
      if (rule.methods !== undefined) scope.push(`methods: ${lit(rule.methods)}`);
      if (rule.paths !== undefined) scope.push(`paths: ${lit(rule.paths)}`);
      builders.add(rule.action);
      body.push(`  ${rule.action}(${rule.from.map(sourceText).join(', ')}).to(${rule.to.ident}${scope.length === 0 ? '' : `, { ${scope.join(', ')} }`}),`);
    }
    body.push('];', '');
    const header = [
      `/** Generated by bench/generate.ts (services ${services}, seed ${seed}): namespace ${ns.name}. */`,
      `import { ${[...builders].sort().join(', ')}, type AnyService } from 'policyc';`,
      ...[...imports.keys()].sort((a, b) => a - b).map((k) => `import { ${[...(imports.get(k) ?? [])].sort().join(', ')} } from './${namespaces[k]?.file}';`),
      '',
    ];
    write(`${ns.file}.ts`, [...header, ...body].join('\n'));
  }

  const entryLines = [
    `/** Generated by bench/generate.ts (services ${services}, seed ${seed}): the entry. */`,
    `import { mesh } from 'policyc';`,
    ...namespaces.map((ns) => `import * as ${ns.ident} from './${ns.file}';`),
    '',
    'export default mesh({',
    "  trustDomain: 'cluster.local',",
    "  mtls: 'STRICT',",
    "  defaultAction: 'deny',",
    '  everyMeshedNamespaceListed: true,',
    `  services: [${namespaces.map((ns) => `...${ns.ident}.services`).join(', ')}],`,
    `  rules: [${namespaces.map((ns) => `...${ns.ident}.rules`).join(', ')}],`,
    '});',
    '',
  ];
  write('policy.ts', entryLines.join('\n'));

  const tsconfig = {
    // The same options policyc checks with, the DSL mapped by a relative path so `tsc -p` works here.
    compilerOptions: { ...policyCompilerOptions(), paths: { policyc: [path.relative(outDir, DSL_DECLARATIONS).split(path.sep).join('/')] } },
    files: ['policy.ts'],
  };
  write('tsconfig.json', `${JSON.stringify(tsconfig, null, 2)}\n`);

  // ---------------------------------------------------------------------------------------------------------
  // The model, as compiler/build-model.ts builds it (explicit ports, sorted sources, sorted rules).
  const svcId = (s: GenService): string => `${namespaces[s.ns]?.name}/${s.name}`;
  const uniqueSorted = <T>(values: readonly T[]): T[] => {
    const byKey = new Map(values.map((v) => [JSON.stringify(v), v]));
    return [...byKey.keys()].sort(compare).map((k) => byKey.get(k) as T);
  };
  const modelRules: { key: string; rule: BenchRule }[] = [];
  for (const rule of rulesByNs.flat()) {
    const sources: BenchSource[] = [];
    for (const s of rule.from) {
      if (s.kind === 'service') sources.push({ kind: 'service', service: svcId(s.service) });
      else if (s.kind === 'namespace') sources.push({ kind: 'namespace', namespace: s.ns.name });
      else if (s.kind === 'identity') sources.push({ kind: 'identity', namespace: s.namespace, serviceAccount: s.serviceAccount });
      else if (s.kind === 'ipBlocks') for (const cidr of s.cidrs) sources.push({ kind: 'ipBlock', cidr });
      else sources.push({ kind: s.kind });
    }
    const hasL7 = rule.methods !== undefined || rule.paths !== undefined;
    const destPorts = [...rule.to.ports].sort((a, b) => a.port - b.port || compare(a.name, b.name));
    const ports = rule.ports ?? destPorts.filter((p) => !hasL7 || p.protocol !== 'tcp').map((p) => p.name);
    const body: BenchRule = {
      action: rule.action,
      sources: uniqueSorted(sources),
      destination: svcId(rule.to),
      ports: [...new Set(ports)].sort(compare),
      ...(rule.methods === undefined ? {} : { methods: [...new Set(rule.methods)].sort(compare) }),
      ...(rule.paths === undefined
        ? {}
        : {
            paths: uniqueSorted(
              rule.paths.map((p) => (p.endsWith('*') ? { kind: 'prefix' as const, value: p.slice(0, -1) } : { kind: 'exact' as const, value: p })),
            ),
          }),
    };
    modelRules.push({ key: JSON.stringify(body), rule: body });
  }
  modelRules.sort((a, b) => compare(a.rule.destination, b.rule.destination) || compare(a.rule.action, b.rule.action) || compare(a.key, b.key));
  const model: BenchModel = {
    version: 1,
    entry: 'policy.ts',
    mesh: { trustDomain: 'cluster.local', mtls: 'STRICT', defaultAction: 'deny', rootNamespace: 'istio-system', everyMeshedNamespaceListed: true },
    namespaces: namespaces.map((ns) => ({ name: ns.name, ...(ns.mtls === undefined ? {} : { mtls: ns.mtls }) })).sort((a, b) => compare(a.name, b.name)),
    services: all
      .map((s) => ({
        id: svcId(s),
        namespace: namespaces[s.ns]?.name ?? '',
        name: s.name,
        serviceAccount: s.name,
        selector: { app: s.name },
        ports: [...s.ports].sort((a, b) => a.port - b.port || compare(a.name, b.name)),
        ...(s.mtls === undefined ? {} : { mtls: s.mtls }),
      }))
      .sort((a, b) => compare(a.id, b.id)),
    rules: modelRules.map((r) => r.rule),
  };
  write('model.json', `${JSON.stringify(model)}\n`);

  return {
    dir: outDir,
    entry: path.join(outDir, 'policy.ts'),
    tsconfig: path.join(outDir, 'tsconfig.json'),
    modelFile: path.join(outDir, 'model.json'),
    files,
    services,
    rules: modelRules.length,
    namespaces: nsCount,
  };
}

function argValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const n = Number(argValue(argv, '--services') ?? argValue(argv, '-n') ?? '100');
  const seed = Number(argValue(argv, '--seed') ?? '1');
  const out = path.resolve(argValue(argv, '--out') ?? path.join(REPO_ROOT, 'bench/out', `gen-${n}`));
  const repo = generate(n, out, seed);
  process.stdout.write(
    `generated ${repo.services} services, ${repo.rules} rules in ${repo.namespaces} namespace files under ${path.relative(process.cwd(), repo.dir) || '.'}\n`,
  );
}
