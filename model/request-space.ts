/**
 * The request space: the finite set of requests that tells apart everything that can decide a request.
 *
 * It is built per destination port, never as one global cross product. A request to port p of destination d
 * is decided (by the model, and by a mesh from its objects) only by the values that the rules of d and the
 * objects that apply to d's pods name. Each such value is one contributor of `DistinguishingValues`: the
 * model's rules and assertions about d, and each simulator's objects for d's workload and port (see
 * `verify/simulator.ts`). The space of (d, p) is the cross product, over each request dimension, of:
 * - callers: every named identity (the declared services that run as it stand for it), a probe identity in
 *   each named namespace and in d's own, an unnamed declared service in each of those namespaces and one in
 *   a namespace nothing names, an outsider identity, each named foreign SPIFFE ID and a probe identity of
 *   each named foreign trust domain in each of those namespaces, and a plaintext client;
 * - addresses: one inside and one just outside every named block (remote blocks too), and one that no block
 *   holds; for remote blocks, also plaintext clients behind proxies whose X-Forwarded-For carries each such
 *   address at each trusted-proxy depth of the model's gateways, honestly and forged;
 * - methods and paths (HTTP ports): every named value, near-misses of each path (`/api` vs `/api/`, `/apix`,
 *   a deeper path), a method and a path nothing names.
 * Two requests that agree on every comparison with the named values are decided alike by every contributor,
 * so one representative per class is enough; the near-misses are there because the contributors compare
 * differently (a string prefix against a path-segment prefix).
 *
 * A new request dimension (a header, a JWT claim, a SPIFFE id, the original client address) is one more
 * field of `DistinguishingValues`, filled by each contributor that can tell its values apart, and one more
 * loop in `destinationRequests` over the named values plus a value nothing names.
 */
import { headerValue, requestIdentityMatches, type Client, type Request, type RequestToken } from './decide';
import {
  HTTP_METHODS,
  headerMatches,
  isHttpProtocol,
  isProxyAdminPort,
  LINKERD_PROXY_ADMIN_PORT,
  PROXY_ADMIN_METRICS_PATH,
  probeNetworksOf,
  tokenIssuersAt,
  type CallerModel,
  type HttpMethod,
  type PolicyModel,
  type PortModel,
  type RuleModel,
  type ServiceModel,
} from './model';
import { ipInCidr, parseCidr } from './cidr';
import { GRPC_METHOD, kubernetesSpiffeId, parseSpiffeId, rulesTo, serviceIdentity, sourceIdentity, type WorkloadIdentity } from './resolve';
import { compareStrings } from './compare';
import { isNormalPath, percentEncodedVariant } from './path';

/** A client IP no rule names: TEST-NET-1. */
export const DEFAULT_IP = '192.0.2.10';
export const OUTSIDER = { namespace: 'policyc-outside', serviceAccount: 'policyc-outsider' };
export const PROBE_ACCOUNT = 'policyc-probe';
const GRPC_PATH = /^\/[^/]+\/[^/]+$/;
/** The pod's own loopback traffic: no other workload calls from it, so it is not a client to probe. */
const LOOPBACK = /^(127\.|::1$|0:0:0:0:0:0:0:1$)/;

/** A path value a contributor compares request paths with. */
export interface PathValue {
  readonly kind: 'exact' | 'prefix' | 'suffix';
  readonly value: string;
}

/**
 * What one contributor (the model's rules, or one mesh's objects) can tell apart for one destination port.
 * Every field is optional: a contributor names what it compares with, nothing else.
 */
export interface DistinguishingValues {
  /** Exact workload identities. */
  readonly identities?: readonly WorkloadIdentity[];
  /** Namespaces whose identities are told apart from other namespaces' as a whole. */
  readonly namespaces?: readonly string[];
  /** Exact SPIFFE IDs (any trust domain; a Kubernetes ID of the mesh's own trust domain is that identity). */
  readonly spiffeIds?: readonly string[];
  /** Trust domains whose identities are told apart as a whole: a probe identity in each probed namespace of each. */
  readonly trustDomains?: readonly string[];
  /** Address blocks (`a.b.c.d/n`, IPv6, or a bare address). */
  readonly cidrs?: readonly string[];
  /**
   * Blocks the original client address is compared with (a gateway's `remoteIpBlocks`): probed as the connection's
   * address and as the entry of X-Forwarded-For that each trusted-proxy depth of the model's gateways reads.
   */
  readonly remoteCidrs?: readonly string[];
  readonly methods?: readonly string[];
  readonly paths?: readonly PathValue[];
  /**
   * Why values are told apart in a way that cannot be listed (a wildcard in the middle of a principal, a
   * regular expression): then every declared service, a probe identity in every namespace, and every method
   * are probed.
   */
  readonly unlisted?: readonly string[];
  /**
   * Why methods or paths are told apart in a way that cannot be listed (a method wildcard, a path regular
   * expression): then every method is probed. Callers are not: such a comparison reads the request, never its
   * caller, so it is kept apart from `unlisted` (which probes every declared service, the space's largest cost).
   */
  readonly unlistedOperations?: readonly string[];
}

/** An address inside a CIDR (its network address + 1 when there is room), and one just outside it. */
export function addressesAround(cidr: string): string[] {
  const parsed = parseCidr(cidr);
  if (parsed === undefined) return [];
  const bytes = [...parsed.bytes];
  const width = bytes.length * 8;
  const inside = [...bytes];
  if (parsed.prefix < width) inside[inside.length - 1] = (inside[inside.length - 1] ?? 0) | 1;
  const outside = [...bytes];
  if (parsed.prefix > 0) {
    const bit = parsed.prefix - 1;
    const index = Math.floor(bit / 8);
    outside[index] = (outside[index] ?? 0) ^ (0x80 >> (bit % 8));
  }
  const text = (b: number[]) =>
    b.length === 4 ? b.join('.') : Array.from({ length: 8 }, (_, i) => (((b[i * 2] ?? 0) << 8) | (b[i * 2 + 1] ?? 0)).toString(16)).join(':');
  return [text(inside), ...(parsed.prefix > 0 ? [text(outside)] : [])];
}

/** A proxy address in front of a gateway: TEST-NET-2, named by no rule. */
export const PROXY_IP = '198.51.100.7';

export interface Operation {
  readonly method?: HttpMethod;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly token?: RequestToken;
}

/**
 * Request paths at and around each path value: the value, near-misses on both sides, and a path nothing names;
 * off gRPC, variants that normalize into the value or out of it (model/path.ts): a mesh that matches the raw
 * path must not let them past a rule (gRPC servers dispatch on the exact path: no variants there).
 */
function pathProbes(paths: Iterable<PathValue>, grpc: boolean): Set<string> {
  const probes = new Set<string>(['/', '/policyc-unmatched']);
  for (const p of paths) {
    if (p.kind === 'suffix') {
      probes.add(`/policyc${p.value}`);
      probes.add(`/policyc${p.value}x`);
      continue;
    }
    if (!grpc) {
      const inside = p.kind === 'prefix' ? `${p.value}a/b` : p.value;
      const encoded = percentEncodedVariant(inside);
      if (encoded !== undefined) probes.add(encoded);
      probes.add(`/policyc-unmatched/..${inside}`);
      probes.add(`${p.value}${p.value.endsWith('/') ? '' : '/'}../policyc-unmatched`);
    }
    probes.add(p.value);
    probes.add(`${p.value}x`);
    if (p.kind === 'prefix') {
      probes.add(`${p.value}a/b`);
      if (p.value.endsWith('/') && p.value.length > 1) probes.add(p.value.slice(0, -1));
      // A whole segment below a prefix written without a slash: string and path-segment prefixes agree on it.
      else if (!p.value.endsWith('/')) probes.add(`${p.value}/a`);
    }
    if (p.value.length > 1) probes.add(p.value.slice(0, -1));
  }
  return probes;
}

/** A gRPC call's path is always /<package.Service>/<Method>: other shapes are not requests a gRPC client sends. */
function grpcShaped(paths: Iterable<string>): string[] {
  return [
    ...new Set(
      [...paths]
        .map((p) => (p.endsWith('/') ? `${p}Call` : p))
        .concat('/policyc.Probe/Call')
        .filter((p) => GRPC_PATH.test(p)),
    ),
  ];
}

/** Methods and paths that exercise every rule's edges on a port: each value, near-misses, and something unmatched. */
export function operationsFor(models: readonly PolicyModel[], destination: string, port: PortModel): Operation[] {
  if (!isHttpProtocol(port.protocol)) return [{}];
  const grpc = port.protocol === 'grpc';
  const methods = new Set<HttpMethod>(grpc ? [GRPC_METHOD] : ['GET', 'POST', 'DELETE']);
  const paths: PathValue[] = [];
  for (const rule of models.flatMap((m) => rulesTo(m, destination))) {
    if (!grpc) for (const m of rule.methods ?? []) methods.add(m);
    paths.push(...(rule.paths ?? []));
  }
  // Every client is probed on the probe paths: nobody but the kubelet gets them unless a rule says so.
  for (const probe of port.probes ?? []) if (probe.kind === 'http') paths.push({ kind: 'exact', value: probe.path });
  // The proxy admin port's scrapers get GET /metrics (model.ts, 9.).
  // The port number is checked first: the service lookup is a scan, and this runs once per edge of a review.
  if (port.port === LINKERD_PROXY_ADMIN_PORT && models.some((m) => m.services.some((s) => s.id === destination && isProxyAdminPort(m, s, port.port))))
    paths.push({ kind: 'exact', value: PROXY_ADMIN_METRICS_PATH });
  const probes = pathProbes(paths, grpc);
  const shaped = grpc ? grpcShaped(probes) : [...probes];
  const conditions = models.length === 1 && models[0] !== undefined ? requestConditions(models[0], destination) : mergedConditions(models, destination);
  return [...methods].sort().flatMap((method) => [...new Set(shaped)].sort().flatMap((path) => conditions.map((c) => ({ method, path, ...c }))));
}

/** The request conditions of several models (a semantic diff's before and after), without repeats. */
function mergedConditions(models: readonly PolicyModel[], destination: string): RequestConditions[] {
  const all = models.flatMap((m) => requestConditions(m, destination));
  return [...new Map(all.map((c) => [JSON.stringify(c), c])).values()];
}

/** The values one caller (a rule's source or an assertion's `from`) is compared with, added to `into`. */
function addCallerValues(
  caller: CallerModel,
  services: ReadonlyMap<string, ServiceModel>,
  into: { identities: WorkloadIdentity[]; namespaces: string[]; spiffeIds: string[]; trustDomains: string[]; cidrs: string[]; remoteCidrs: string[] },
): void {
  switch (caller.kind) {
    case 'service':
    case 'identity': {
      const identity = sourceIdentity(caller, services);
      if (identity !== undefined) into.identities.push(identity);
      return;
    }
    case 'namespace':
    case 'outside':
      return void into.namespaces.push(caller.namespace);
    case 'spiffe':
      return void into.spiffeIds.push(caller.id);
    case 'trustDomain':
      return void into.trustDomains.push(caller.trustDomain);
    case 'ipBlock':
      return void into.cidrs.push(caller.cidr);
    case 'ipBlocks':
      return void into.cidrs.push(...caller.cidrs);
    case 'both':
      into.cidrs.push(...caller.cidrs);
      return addCallerValues(caller.identity, services, into);
    case 'remoteIpBlock':
      return void into.remoteCidrs.push(caller.cidr);
    case 'anyone':
    case 'authenticated':
    case 'plaintext':
      return;
    default:
      return caller satisfies never;
  }
}

/** What the model's rules of one destination port, and the assertions about it, tell apart. */
export function modelValues(model: PolicyModel, destination: ServiceModel, port: PortModel, services: ReadonlyMap<string, ServiceModel>): DistinguishingValues {
  const values = {
    identities: [] as WorkloadIdentity[],
    namespaces: [] as string[],
    spiffeIds: [] as string[],
    trustDomains: [] as string[],
    cidrs: [] as string[],
    remoteCidrs: [] as string[],
  };
  const methods: string[] = [];
  const paths: PathValue[] = [];
  for (const rule of rulesTo(model, destination.id)) {
    if (!rule.ports.includes(port.name)) continue;
    // A request identity is the token's, a request condition (`requestConditions`), not the caller's.
    for (const source of rule.sources) if (source.kind !== 'requestIdentity') addCallerValues(source, services, values);
    methods.push(...(rule.methods ?? []));
    paths.push(...(rule.paths ?? []));
  }
  // The port's probes (model.ts, 6.): the kubelet's GET on each probe path, which a client from the probe
  // networks may also get from a mesh that authorizes probes by network.
  for (const probe of port.probes ?? []) {
    if (probe.kind !== 'http') continue;
    methods.push('GET');
    paths.push({ kind: 'exact', value: probe.path });
    for (const cidr of probeNetworksOf(model.mesh)) if (!coversEverything(cidr)) values.cidrs.push(cidr);
  }
  // The proxy admin port (model.ts, 9.): its scrapers and GET /metrics; its probes are the port's own, above.
  if (isProxyAdminPort(model, destination, port.port)) {
    for (const scraper of model.mesh.linkerd?.proxyAdmin?.scrapedBy ?? []) addCallerValues(scraper, services, values);
    methods.push('GET');
    paths.push({ kind: 'exact', value: PROXY_ADMIN_METRICS_PATH });
    return { ...values, methods, paths };
  }
  for (const assertion of model.assertions ?? []) {
    if (assertion.to.kind === 'service' ? assertion.to.service !== destination.id : assertion.to.namespace !== destination.namespace) continue;
    addCallerValues(assertion.from, services, values);
    if (assertion.method !== undefined) methods.push(assertion.method);
    if (assertion.path !== undefined) paths.push({ kind: 'exact', value: assertion.path });
  }
  return { ...values, methods, paths };
}

/** The declared services of a model by identity and by namespace, indexed once per model. */
interface Callers {
  readonly byIdentity: ReadonlyMap<string, readonly ServiceModel[]>;
  readonly byNamespace: ReadonlyMap<string, readonly ServiceModel[]>;
  readonly namespaces: readonly string[];
  /** The trusted-proxy depths (`numTrustedProxies` > 0) of the model's gateways, ascending. */
  readonly proxyDepths: readonly number[];
}

const callerIndex = new WeakMap<PolicyModel, Callers>();
const identityKey = (id: WorkloadIdentity): string => `${id.namespace}/${id.serviceAccount}`;

function callersOf(model: PolicyModel): Callers {
  let callers = callerIndex.get(model);
  if (callers === undefined) {
    const byIdentity = new Map<string, ServiceModel[]>();
    const byNamespace = new Map<string, ServiceModel[]>();
    for (const service of model.services) {
      const key = identityKey(serviceIdentity(service));
      byIdentity.set(key, [...(byIdentity.get(key) ?? []), service]);
      byNamespace.set(service.namespace, [...(byNamespace.get(service.namespace) ?? []), service]);
    }
    const namespaces = [...new Set([...model.namespaces.map((n) => n.name), ...byNamespace.keys()])].sort(compareStrings);
    const proxyDepths = [
      ...new Set(model.services.flatMap((s) => (s.gateway !== undefined && s.gateway.numTrustedProxies > 0 ? [s.gateway.numTrustedProxies] : []))),
    ].sort((a, b) => a - b);
    callers = { byIdentity, byNamespace, namespaces, proxyDepths };
    callerIndex.set(model, callers);
  }
  return callers;
}

/**
 * One address per class of addresses the blocks tell apart: candidates inside and just outside every block
 * and one no block holds, keeping the first of each set of blocks that holds it. Blocks nest or are
 * disjoint, so the candidates reach every class: inside a block, between a block and the blocks nested in
 * it (the address just outside a nested block), and outside them all.
 */
function addressClasses(cidrs: ReadonlySet<string>): string[] {
  const blocks = [...cidrs].sort(compareStrings);
  const candidates = [DEFAULT_IP, ...blocks.flatMap(addressesAround)].filter((ip) => !LOOPBACK.test(ip));
  const seen = new Map<string, string>();
  for (const ip of candidates) {
    const signature = blocks.map((b) => (ipInCidr(ip, b) ? '1' : '0')).join('');
    if (!seen.has(signature)) seen.set(signature, ip);
  }
  return [...seen.values()].sort(compareStrings);
}

/** Whether `prefix` holds `path` as whole segments (trailing slashes ignored), as route matching compares. */
function segmentPrefix(prefix: string, path: string): boolean {
  const p = prefix.replace(/\/+$/, '');
  const q = path.replace(/\/+$/, '');
  return q.startsWith(p) && (q.length === p.length || q[p.length] === '/');
}

/**
 * One path per class of paths the values tell apart, under every way a contributor compares a path with a
 * value (equal, string prefix, whole-segment prefix, suffix): two probe paths that compare alike with every
 * value are decided alike, so the first one stands for both.
 */
function pathClasses(probes: Iterable<string>, values: readonly PathValue[]): string[] {
  const texts = [...new Set(values.map((v) => v.value))];
  const seen = new Map<string, string>();
  for (const path of [...probes].sort(compareStrings)) {
    // A path not in normal form is compared after a normalization that differs between contributors: its own class.
    if (!isNormalPath(path)) {
      seen.set(path, path);
      continue;
    }
    const signature = texts.map((v) => `${+(path === v)}${+path.startsWith(v)}${+segmentPrefix(v, path)}${+path.endsWith(v)}`).join('');
    if (!seen.has(signature)) seen.set(signature, path);
  }
  return [...seen.values()];
}

/** The clients of one destination port: one per class of callers × addresses the contributors can tell apart. */
export function clientsFor(model: PolicyModel, destination: ServiceModel, values: readonly DistinguishingValues[]): Client[] {
  const callers = callersOf(model);
  const unlisted = values.some((v) => (v.unlisted ?? []).length > 0);
  const cidrs = new Set<string>();
  const remoteCidrs = new Set<string>();
  const namespaces = new Set<string>([destination.namespace]);
  const identities = new Map<string, WorkloadIdentity>();
  const spiffeIds = new Set<string>();
  const trustDomains = new Set<string>();
  for (const v of values) {
    for (const cidr of v.cidrs ?? []) cidrs.add(cidr);
    for (const cidr of v.remoteCidrs ?? []) remoteCidrs.add(cidr);
    for (const ns of v.namespaces ?? []) namespaces.add(ns);
    for (const id of v.identities ?? []) identities.set(identityKey(id), id);
    for (const id of v.spiffeIds ?? []) spiffeIds.add(id);
    for (const td of v.trustDomains ?? []) trustDomains.add(td);
  }
  // A SPIFFE ID of a Kubernetes workload of the mesh's trust domain is that identity; any other is a foreign
  // client, and its trust domain one whose namespaces are probed.
  const foreign = new Set<string>();
  for (const id of spiffeIds) {
    const peer = parseSpiffeId(id);
    if (peer === undefined) continue;
    if (peer.trustDomain === model.mesh.trustDomain && peer.namespace !== undefined && peer.serviceAccount !== undefined) {
      identities.set(`${peer.namespace}/${peer.serviceAccount}`, { namespace: peer.namespace, serviceAccount: peer.serviceAccount });
    } else {
      foreign.add(id);
      trustDomains.add(peer.trustDomain);
    }
  }
  trustDomains.delete(model.mesh.trustDomain);
  // The connection's address is compared with the remote blocks too (no X-Forwarded-For, or too short a one).
  const ips = addressClasses(new Set([...cidrs, ...remoteCidrs]));
  if (unlisted) for (const ns of callers.namespaces) namespaces.add(ns);
  const services = new Map<string, ServiceModel>();
  const named = new Map<string, WorkloadIdentity>();
  for (const [key, id] of identities) {
    namespaces.add(id.namespace);
    const running = callers.byIdentity.get(key);
    // A declared service that runs as a named identity is that caller as the model and a reviewer name it.
    if (running === undefined) named.set(key, id);
    else for (const s of running) services.set(s.id, s);
  }
  for (const ns of namespaces) {
    const declared = callers.byNamespace.get(ns) ?? [];
    if (unlisted) for (const s of declared) services.set(s.id, s);
    // The class of every identity of the namespace that nothing names: an unnamed declared service of it, or,
    // when it has none (or everything is probed), a probe identity. Both present the namespace and an
    // account nothing names, which is all a contributor can compare.
    const unnamed = declared.find((s) => !identities.has(identityKey(serviceIdentity(s))));
    if (unnamed !== undefined) services.set(unnamed.id, unnamed);
    if ((unnamed === undefined || unlisted) && ns !== OUTSIDER.namespace) named.set(`${ns}/${PROBE_ACCOUNT}`, { namespace: ns, serviceAccount: PROBE_ACCOUNT });
  }
  // A declared service of a namespace nothing names: the class of every such caller.
  const elsewhere = callers.namespaces.find((ns) => !namespaces.has(ns));
  const stranger = elsewhere === undefined ? undefined : callers.byNamespace.get(elsewhere)?.[0];
  if (stranger !== undefined) services.set(stranger.id, stranger);
  named.set(identityKey(OUTSIDER), OUTSIDER);
  // Each other trust domain: a probe in every probed namespace and the outsider's, so a namespace source is
  // seen to stay in the mesh's trust domain.
  for (const td of trustDomains) {
    for (const ns of [...namespaces, OUTSIDER.namespace]) foreign.add(kubernetesSpiffeId(td, ns, PROBE_ACCOUNT));
  }

  const clients: Client[] = [];
  const serviceIds = [...services.keys()].sort(compareStrings);
  const identityKeys = [...named.keys()].sort(compareStrings);
  const foreignIds = [...foreign].sort(compareStrings);
  for (const ip of [...ips].sort(compareStrings)) {
    for (const service of serviceIds) clients.push({ kind: 'service', service, ip, tls: true });
    for (const key of identityKeys) {
      const identity = named.get(key) as WorkloadIdentity;
      clients.push({ kind: 'identity', namespace: identity.namespace, serviceAccount: identity.serviceAccount, ip, tls: true });
    }
    for (const id of foreignIds) clients.push({ kind: 'spiffe', id, ip, tls: true });
    clients.push({ kind: 'plaintext', ip });
  }
  // Through a gateway: plaintext clients behind proxies whose X-Forwarded-For puts the original address in and out
  // of the remote blocks at every trusted-proxy depth the model's gateways declare.
  if (remoteCidrs.size > 0) {
    for (const depth of callers.proxyDepths) {
      for (const remote of addressClasses(new Set([...cidrs, ...remoteCidrs]))) {
        // The original client, then depth - 1 trusted proxies; the last trusted proxy is the connection's address.
        const forwardedFor = [remote, ...Array.from({ length: depth - 1 }, () => PROXY_IP)];
        clients.push({ kind: 'plaintext', ip: PROXY_IP, forwardedFor });
        // A client that forges X-Forwarded-For: one entry too many, the forged one leftmost.
        clients.push({ kind: 'plaintext', ip: PROXY_IP, forwardedFor: [remote, DEFAULT_IP, ...forwardedFor.slice(1)] });
      }
    }
  }
  return clients;
}

/** A subject no request identity names, and an issuer no policy declares. */
export const PROBE_SUBJECT = 'policyc-probe-subject';
export const UNKNOWN_ISSUER = 'https://policyc-unknown-issuer.example';

/**
 * Header sets that probe every header condition of the rules to a destination: none; every named header at a
 * satisfying value; then one header at a time at each edge (absent, empty, the value, one character more, one
 * less); the satisfying set with upper-cased names (names compare case-insensitively); and every combination of
 * up to four named headers, each at a value that satisfies one of its conditions.
 */
function headerVariants(rules: readonly RuleModel[]): (Readonly<Record<string, string>> | undefined)[] {
  const probes = new Map<string, Set<string>>();
  const satisfying = new Map<string, string>();
  /** Per header, a value some condition on it holds for. */
  const witness = new Map<string, string>();
  for (const rule of rules) {
    for (const { name, match } of rule.headers ?? []) {
      const values = probes.get(name) ?? new Set<string>(['']);
      const value = match.kind === 'present' ? 'policyc' : match.value;
      values.add(value).add(`${value}x`);
      if (value.length > 1) values.add(value.slice(0, -1));
      probes.set(name, values);
      // The satisfying set satisfies allow rules; a header only deny rules name stays out of it.
      if (!satisfying.has(name) && rule.action === 'allow') satisfying.set(name, value);
      if (!witness.has(name)) witness.set(name, value);
    }
  }
  if (probes.size === 0) return [undefined];
  const base = Object.fromEntries([...satisfying].sort());
  const variants: (Readonly<Record<string, string>> | undefined)[] = [undefined, base];
  for (const [name, values] of [...probes].sort()) {
    const { [name]: _dropped, ...without } = base;
    variants.push(without);
    for (const value of [...values].sort()) variants.push({ ...base, [name]: value });
  }
  variants.push(Object.fromEntries(Object.entries(base).map(([name, value]) => [name.toUpperCase(), value])));
  // Every subset of up to four named headers, each at a value one of its conditions holds for: a mesh that splits
  // its routes by combinations of headers (Linkerd, targets/linkerd/routes.ts) is probed on each combination.
  const names = [...witness.keys()].sort();
  if (names.length <= 4)
    for (let mask = 1; mask < 2 ** names.length - 1; mask++)
      variants.push(Object.fromEntries(names.filter((_, i) => (mask >> i) & 1).map((n) => [n, witness.get(n) ?? ''])));
  const unique = new Map(variants.map((v) => [JSON.stringify(v ?? null), v]));
  return [...unique.values()];
}

/**
 * Tokens that probe every request identity of the rules to a destination: none; an invalid token of each issuer;
 * a valid token of another issuer; for each request identity a token that matches it, then one with another
 * subject, one per claim left out and one per claim with another value.
 */
function tokenVariants(model: PolicyModel, rules: readonly RuleModel[], destination: string): (RequestToken | undefined)[] {
  const issuers = tokenIssuersAt({ rules }, destination);
  if (issuers.length === 0) return [undefined];
  const tokens: (RequestToken | undefined)[] = [undefined];
  const others = [UNKNOWN_ISSUER, ...(model.jwtIssuers ?? []).map((i) => i.issuer).filter((i) => !issuers.includes(i))];
  for (const issuer of others) tokens.push({ kind: 'valid', issuer, subject: PROBE_SUBJECT, claims: {} });
  for (const issuer of issuers) {
    tokens.push({ kind: 'invalid', issuer }, { kind: 'valid', issuer, subject: PROBE_SUBJECT, claims: {} });
  }
  for (const rule of rules) {
    for (const source of rule.sources) {
      if (source.kind !== 'requestIdentity') continue;
      const claims = source.claims ?? {};
      const subject = source.subject ?? PROBE_SUBJECT;
      tokens.push({ kind: 'valid', issuer: source.issuer, subject, claims });
      if (source.subject !== undefined) tokens.push({ kind: 'valid', issuer: source.issuer, subject: `${subject}x`, claims });
      for (const name of Object.keys(claims)) {
        const { [name]: value, ...without } = claims;
        tokens.push({ kind: 'valid', issuer: source.issuer, subject, claims: without });
        tokens.push({ kind: 'valid', issuer: source.issuer, subject, claims: { ...claims, [name]: `${value ?? ''}x` } });
      }
    }
  }
  const unique = new Map(tokens.map((t) => [JSON.stringify(t ?? null), t]));
  return [...unique.values()];
}

/** The headers and token of a request, as the model's rules to its destination tell them apart. */
export interface RequestConditions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly token?: RequestToken;
}

/** Header sets × tokens: all pairs when few, else each header set with a matching token and each token with the satisfying headers. */
export function requestConditions(model: PolicyModel, destination: string): RequestConditions[] {
  const rules = rulesTo(model, destination);
  const headers = headerVariants(rules);
  const tokens = tokenVariants(model, rules, destination);
  const pair = (h: Readonly<Record<string, string>> | undefined, t: RequestToken | undefined) => ({
    ...(h === undefined ? {} : { headers: h }),
    ...(t === undefined ? {} : { token: t }),
  });
  if (headers.length * tokens.length <= 64) return headers.flatMap((h) => tokens.map((t) => pair(h, t)));
  const baseHeaders = headers[1];
  const identities = rules.flatMap((r) => r.sources).filter((s) => s.kind === 'requestIdentity');
  const matchingTokens = tokens.filter((t) => identities.some((s) => requestIdentityMatches(s, t)));
  return [
    ...headers.flatMap((h) => [undefined, ...matchingTokens].map((t) => pair(h, t))),
    ...[undefined, baseHeaders].flatMap((h) => tokens.map((t) => pair(h, t))),
  ];
}

/**
 * The model's key for a request's headers and token on one port, the third part of its decision beside
 * `clientKey` and `operationKey` (model/decide.ts): whether the token is refused (401) before any rule and why, else for
 * each rule on the port whether one of its request-identity sources admits the token (a rule admits a request
 * when one of its sources does: its other sources are in `clientKey`, which reads no token) and whether its
 * header conditions hold. Two requests whose three keys agree are decided alike.
 */
export function requestConditionsKey(model: PolicyModel, destination: ServiceModel, port: PortModel, conditions: RequestConditions): string {
  const http = isHttpProtocol(port.protocol);
  const rules = rulesTo(model, destination.id);
  const issuers = http ? tokenIssuersAt({ rules }, destination.id) : [];
  const token = conditions.token;
  // Refused as invalid or as another issuer's (two reasons, each probed: a mesh may refuse only one of them).
  if (token !== undefined && issuers.length > 0 && token.kind === 'invalid') return '401 invalid';
  if (token !== undefined && issuers.length > 0 && !issuers.includes(token.issuer)) return '401 issuer';
  const read = issuers.length > 0 ? token : undefined;
  let key = '';
  for (const rule of rules) {
    if (!rule.ports.includes(port.name)) continue;
    const admitted = rule.sources.some((s) => s.kind === 'requestIdentity' && requestIdentityMatches(s, read));
    const headers = rule.headers === undefined || (http && rule.headers.every((h) => headerMatches(h.match, headerValue(conditions.headers, h.name))));
    key += `${+admitted}${+headers}`;
  }
  return key;
}

/** The methods and paths of one destination port: named ones, near-misses, and ones nothing names. */
export function operationsOf(port: PortModel, values: readonly DistinguishingValues[], conditions: readonly RequestConditions[] = [{}]): Operation[] {
  if (!isHttpProtocol(port.protocol)) return [{}];
  const grpc = port.protocol === 'grpc';
  const named = new Set<string>();
  const paths: PathValue[] = [];
  for (const v of values) {
    for (const m of v.methods ?? []) named.add(m);
    paths.push(...(v.paths ?? []));
  }
  const every = values.some((v) => (v.unlisted ?? []).length > 0 || (v.unlistedOperations ?? []).length > 0);
  const methods = new Set<HttpMethod>(grpc ? [GRPC_METHOD] : ['GET']);
  if (!grpc) {
    for (const m of HTTP_METHODS) if (every || named.has(m)) methods.add(m);
    // One method nothing names stands for all of them.
    const unnamed = HTTP_METHODS.find((m) => !named.has(m) && m !== 'GET');
    if (unnamed !== undefined) methods.add(unnamed);
  }
  const probes = pathProbes(paths, grpc);
  const classes = pathClasses(grpc ? grpcShaped(probes) : probes, paths);
  return [...methods].sort(compareStrings).flatMap((method) => classes.flatMap((path) => conditions.map((c) => ({ method, path, ...c }))));
}

/**
 * The requests of one destination port, streamed: every class of caller × address × method × path that
 * one of the contributors (`values`, the model's among them) can tell apart.
 */
export function* destinationRequests(
  model: PolicyModel,
  destination: ServiceModel,
  port: PortModel,
  values: readonly DistinguishingValues[],
): Generator<Request> {
  const clients = clientsFor(model, destination, values);
  for (const operation of operationsOf(port, values, requestConditions(model, destination.id))) {
    for (const client of clients) yield { client, destination: destination.id, port: port.port, ...operation };
  }
  yield* kubeletRequests(model, destination, port);
}

/** The kubelet running each probe of one port, from the probe networks (model.ts, 6.). */
export function* kubeletRequests(model: PolicyModel, destination: ServiceModel, port: PortModel): Generator<Request> {
  for (const probe of port.probes ?? []) {
    const client: Client = { kind: 'kubelet', ip: kubeletAddress(model) };
    yield { client, destination: destination.id, port: port.port, ...(probe.kind === 'http' ? { method: 'GET' as const, path: probe.path } : {}) };
  }
}

/**
 * The model's own request space over every destination, each port told apart by the values of all the
 * model's rules (not only its own): the widest space the model alone can name, for a proof whose other
 * side cannot say what it distinguishes (the import proof, which adds the original manifests' values as
 * `extra`). `policyc verify` uses `destinationRequests` with the simulators' values instead.
 */
export function requestSpace(model: PolicyModel, extra: readonly DistinguishingValues[] = []): Request[] {
  const services = new Map(model.services.map((s) => [s.id, s] as const));
  const requests: Request[] = [];
  const global: DistinguishingValues[] = [];
  for (const service of model.services) for (const port of service.ports) global.push(modelValues(model, service, port, services));
  const identities = global.flatMap((v) => v.identities ?? []);
  const namespaces = [...callersOf(model).namespaces, ...global.flatMap((v) => v.namespaces ?? [])];
  const everyService: DistinguishingValues = {
    identities: [...identities, ...model.services.map(serviceIdentity)],
    namespaces,
    spiffeIds: global.flatMap((v) => v.spiffeIds ?? []),
    trustDomains: global.flatMap((v) => v.trustDomains ?? []),
    cidrs: global.flatMap((v) => v.cidrs ?? []),
    remoteCidrs: global.flatMap((v) => v.remoteCidrs ?? []),
  };
  for (const service of model.services) {
    for (const port of service.ports) {
      const own = modelValues(model, service, port, services);
      requests.push(...destinationRequests(model, service, port, [own, everyService, ...extra]));
    }
  }
  return requests;
}

/** The kubelet's address in the request space: inside the first probe network. */
export function kubeletAddress(model: Pick<PolicyModel, 'mesh'>): string {
  const first = probeNetworksOf(model.mesh)[0];
  // A /0 network holds every address: the default client address then (its "+1" address would be ::1, localhost).
  return first === undefined || coversEverything(first) ? DEFAULT_IP : (addressesAround(first)[0] ?? DEFAULT_IP);
}

function coversEverything(cidr: string): boolean {
  return parseCidr(cidr)?.prefix === 0;
}
