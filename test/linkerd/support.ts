/**
 * Test support for the Linkerd target: hand-built models, a model oracle (the semantics comment of
 * compiler/model.ts), and a small simulator of how Linkerd decides a request from the emitted
 * objects (doc §3–§6, route ranking as in linkerd2-proxy). Comparing the two on a grid of requests
 * checks that the target grants exactly the model's access.
 */
import {
  effectiveMtls,
  pathMatches,
  type HttpMethod,
  type MtlsMode,
  type PathMatch,
  type PolicyModel,
  type PortModel,
  type Protocol,
  type RuleModel,
  type ServiceModel,
  type SourceModel,
} from '../../compiler/model';
import type { KubernetesObject, TargetOutput } from '../../targets/contract';
import { linkerdTarget } from '../../targets/linkerd';
import { containsCidr, parseCidr } from '../../targets/linkerd/cidr';

export function svc(
  namespace: string,
  name: string,
  ports: Record<string, { port: number; protocol: Protocol; mtls?: MtlsMode }>,
  options: { serviceAccount?: string; mtls?: MtlsMode; selector?: Record<string, string> } = {},
): ServiceModel {
  const portList: PortModel[] = Object.entries(ports)
    .map(([portName, p]) => ({ name: portName, port: p.port, protocol: p.protocol, ...(p.mtls === undefined ? {} : { mtls: p.mtls }) }))
    .sort((a, b) => a.port - b.port);
  return {
    id: `${namespace}/${name}`,
    namespace,
    name,
    serviceAccount: options.serviceAccount ?? name,
    selector: options.selector ?? { app: name },
    ports: portList,
    ...(options.mtls === undefined ? {} : { mtls: options.mtls }),
  };
}

let ruleCounter = 0;
export function rule(
  action: 'allow' | 'deny',
  sources: SourceModel[],
  destination: string,
  ports: string[],
  options: { methods?: HttpMethod[]; paths?: PathMatch[]; id?: string } = {},
): RuleModel {
  return {
    id: options.id ?? `r${++ruleCounter}`,
    action,
    sources,
    destination,
    ports,
    ...(options.methods === undefined ? {} : { methods: options.methods }),
    ...(options.paths === undefined ? {} : { paths: options.paths }),
  };
}

export const exact = (value: string): PathMatch => ({ kind: 'exact', value });
export const prefix = (value: string): PathMatch => ({ kind: 'prefix', value });

export function model(
  services: ServiceModel[],
  rules: RuleModel[],
  mesh: Partial<PolicyModel['mesh']> = {},
  namespaces?: PolicyModel['namespaces'],
): PolicyModel {
  const names = [...new Set(services.map((s) => s.namespace))].sort();
  return {
    version: 1,
    entry: 'policy/mesh.ts',
    mesh: { trustDomain: 'cluster.local', mtls: 'STRICT', defaultAction: 'deny', rootNamespace: 'istio-system', ...mesh },
    namespaces: namespaces ?? names.map((name) => ({ name })),
    services: [...services].sort((a, b) => (a.id < b.id ? -1 : 1)),
    rules,
  };
}

export function compile(m: PolicyModel): TargetOutput {
  return linkerdTarget.compile(m, { spanOf: () => undefined });
}

export function ofKind(output: TargetOutput, kind: string): KubernetesObject[] {
  return output.objects.filter((o) => o.kind === kind);
}

export function spec(o: KubernetesObject): Record<string, any> {
  return o['spec'] as Record<string, any>;
}

export function codes(output: TargetOutput): string[] {
  return output.diagnostics.map((d) => d.code);
}

export function errors(output: TargetOutput): string[] {
  return output.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`);
}

export interface Client {
  readonly label: string;
  /** `<ns>/<sa>`; absent for a plaintext client. */
  readonly identity?: string;
  readonly ip: string;
}

export interface Request {
  readonly method: string;
  readonly path: string;
}

function ipIn(ip: string, cidr: string): boolean {
  const a = parseCidr(ip);
  const c = parseCidr(cidr);
  return a !== undefined && c !== undefined && containsCidr(c, a);
}

/** What the model says (compiler/model.ts semantics). */
export function modelAllows(m: PolicyModel, service: ServiceModel, port: PortModel, client: Client, request: Request): boolean {
  const mode = effectiveMtls(m, service, port);
  const identity = mode === 'DISABLE' ? undefined : client.identity;
  if (mode === 'STRICT' && identity === undefined) return false;
  const byId = new Map(m.services.map((s) => [s.id, s]));
  const sourceMatches = (source: SourceModel): boolean => {
    switch (source.kind) {
      case 'anyone':
        return true;
      case 'authenticated':
        return identity !== undefined;
      case 'ipBlock':
        return ipIn(client.ip, source.cidr);
      case 'namespace':
        return identity !== undefined && identity.split('/')[0] === source.namespace;
      case 'identity':
        return identity === `${source.namespace}/${source.serviceAccount}`;
      case 'service': {
        const s = byId.get(source.service);
        return s !== undefined && identity === `${s.namespace}/${s.serviceAccount}`;
      }
    }
  };
  const matches = (r: RuleModel): boolean =>
    r.destination === service.id &&
    r.ports.includes(port.name) &&
    (r.methods === undefined || r.methods.includes(request.method as HttpMethod)) &&
    (r.paths === undefined || r.paths.some((p) => pathMatches(p, request.path))) &&
    r.sources.some(sourceMatches);
  if (m.rules.some((r) => r.action === 'deny' && matches(r))) return false;
  if (m.mesh.defaultAction === 'allow') return true;
  return m.rules.some((r) => r.action === 'allow' && matches(r));
}

type Rank = readonly number[];

function compareRank(a: Rank, b: Rank): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function httpMatchRank(match: Record<string, any>, request: Request): Rank | undefined {
  if (match['method'] !== undefined && match['method'] !== request.method) return undefined;
  const path = match['path'] as { type: string; value: string } | undefined;
  let length = 0;
  if (path !== undefined) {
    if (path.type === 'Exact') {
      if (path.value !== request.path) return undefined;
      length = path.value.length;
    } else if (path.type === 'RegularExpression') {
      const found = new RegExp(path.value).exec(request.path);
      if (found === null || found.index !== 0 || found[0].length !== request.path.length) return undefined;
      length = request.path.length;
    } else if (path.type === 'PathPrefix') {
      if (path.value === '/') length = 1;
      else {
        const p = path.value.replace(/\/+$/, '');
        const trimmed = request.path.replace(/\/+$/, '');
        if (!trimmed.startsWith(p)) return undefined;
        const rest = trimmed.slice(p.length);
        if (rest !== '' && !rest.startsWith('/')) return undefined;
        length = p.length;
      }
    } else throw new Error(`path match without type: ${JSON.stringify(path)}`);
  }
  // Ranking: path length, (no headers, no query params), then whether a method is matched.
  return [length, 0, 0, match['method'] === undefined ? 0 : 1];
}

function grpcMatchRank(match: Record<string, any>, request: Request): Rank | undefined {
  if (request.method !== 'POST') return undefined;
  const parts = request.path.split('/');
  if (parts[0] !== '' || parts.length < 3) return undefined;
  const m = (match['method'] ?? {}) as { service?: string; method?: string };
  if (m.service !== undefined && m.service !== parts[1]) return undefined;
  if (m.method !== undefined && m.method !== parts[2]) return undefined;
  return [m.service?.length ?? 0, m.method?.length ?? 0];
}

function clientPasses(objects: readonly KubernetesObject[], namespace: string, policy: KubernetesObject, client: Client, trustDomain: string): boolean {
  const refs = spec(policy)['requiredAuthenticationRefs'] as { kind: string; name: string }[];
  return refs.every((ref) => {
    const target = objects.find((o) => o.kind === ref.kind && o.metadata.name === ref.name && o.metadata.namespace === namespace);
    if (target === undefined) return false; // a missing authentication makes the policy invalid (ignored)
    if (ref.kind === 'MeshTLSAuthentication') {
      if (client.identity === undefined) return false;
      const [ns, sa] = client.identity.split('/');
      const id = `${sa}.${ns}.serviceaccount.identity.linkerd.${trustDomain}`;
      return (spec(target)['identities'] as string[]).some((p) =>
        p === '*' ? true : p.startsWith('*.') ? id.endsWith(p.slice(1)) : p === id,
      );
    }
    if (ref.kind === 'NetworkAuthentication') {
      return (spec(target)['networks'] as { cidr: string; except?: string[] }[]).some(
        (n) => ipIn(client.ip, n.cidr) && !(n.except ?? []).some((e) => ipIn(client.ip, e)),
      );
    }
    return false;
  });
}

/** What Linkerd does with the emitted objects. Throws when two routes tie (age would decide). */
export function linkerdAllows(
  objects: readonly KubernetesObject[],
  service: ServiceModel,
  port: PortModel,
  client: Client,
  request: Request,
  trustDomain = 'cluster.local',
): boolean {
  const ns = service.namespace;
  const server = objects.find(
    (o) => o.kind === 'Server' && o.metadata.namespace === ns && spec(o)['port'] === port.port && JSON.stringify(spec(o)['podSelector']['matchLabels']) === JSON.stringify(service.selector),
  );
  if (server === undefined) throw new Error(`no Server for ${service.id}:${port.name}`);
  const serverName = server.metadata.name;
  const protocol = spec(server)['proxyProtocol'] as string;
  const routeKind = protocol === 'gRPC' ? 'GRPCRoute' : 'HTTPRoute';
  const routes =
    protocol === 'opaque'
      ? []
      : objects.filter(
          (o) => o.kind === routeKind && o.metadata.namespace === ns && (spec(o)['parentRefs'] as { name: string; kind: string }[]).some((p) => p.kind === 'Server' && p.name === serverName),
        );
  const policies = objects.filter((o) => o.kind === 'AuthorizationPolicy' && o.metadata.namespace === ns);
  const targeting = (kind: string, name: string): KubernetesObject[] =>
    policies.filter((p) => spec(p)['targetRef']['kind'] === kind && spec(p)['targetRef']['name'] === name);
  const access = spec(server)['accessPolicy'] as string;
  const fallback =
    access === 'all-unauthenticated' || access === 'audit' ? true : access === 'all-authenticated' ? client.identity !== undefined : false;
  const serverLevel = (): boolean => fallback || targeting('Server', serverName).some((p) => clientPasses(objects, ns, p, client, trustDomain));
  if (routes.length === 0) return serverLevel();
  let best: { rank: Rank; route: KubernetesObject } | undefined;
  let tie = false;
  for (const route of routes) {
    let routeBest: Rank | undefined;
    for (const r of spec(route)['rules'] as Record<string, any>[]) {
      const matches = (r['matches'] ?? []) as Record<string, any>[];
      const ranks = matches.length === 0 ? [[0, 0, 0, 0]] : matches.map((mm) => (routeKind === 'GRPCRoute' ? grpcMatchRank(mm, request) : httpMatchRank(mm, request)));
      for (const rank of ranks) if (rank !== undefined && (routeBest === undefined || compareRank(rank, routeBest) > 0)) routeBest = rank;
    }
    if (routeBest === undefined) continue;
    if (best === undefined || compareRank(routeBest, best.rank) > 0) {
      best = { rank: routeBest, route };
      tie = false;
    } else if (compareRank(routeBest, best.rank) === 0) tie = true;
  }
  if (best === undefined) return false; // 404
  if (tie) throw new Error(`routes tie for ${request.method} ${request.path}: the older route would win`);
  return serverLevel() || targeting(routeKind, best.route.metadata.name).some((p) => clientPasses(objects, ns, p, client, trustDomain));
}

/** Every (client, request) where the emitted objects and the model disagree. */
export function disagreements(
  m: PolicyModel,
  output: TargetOutput,
  service: ServiceModel,
  portName: string,
  clients: readonly Client[],
  requests: readonly Request[],
): string[] {
  const port = service.ports.find((p) => p.name === portName);
  if (port === undefined) throw new Error(`no port ${portName}`);
  const out: string[] = [];
  for (const client of clients)
    for (const request of requests) {
      const want = modelAllows(m, service, port, client, request);
      const got = linkerdAllows(output.objects, service, port, client, request, m.mesh.trustDomain);
      if (want !== got) out.push(`${client.label} ${request.method} ${request.path}: model ${want ? 'allows' : 'denies'}, Linkerd ${got ? 'allows' : 'denies'}`);
    }
  return out;
}

export function requests(methods: readonly string[], paths: readonly string[]): Request[] {
  return methods.flatMap((method) => paths.map((path) => ({ method, path })));
}
