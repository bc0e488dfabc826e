/**
 * The request space of a model: the finite set of requests that tells every rule apart. Every declared
 * service, an unknown identity in every namespace the policy names, each named external identity, an
 * outsider and a plaintext client, each from an address inside and outside every IP block; × every port;
 * × each method and path the rules use, with near-misses. The verifier, the access matrix and the semantic
 * diff all probe with it, so they agree on what "allowed" means.
 */
import { requestIdentityMatches, type Client, type Request, type RequestToken } from './decide';
import { isHttpProtocol, probeNetworksOf, tokenIssuersAt, type CallerModel, type HttpMethod, type PolicyModel, type PortModel, type RuleModel } from './model';
import { parseCidr } from './cidr';
import { GRPC_METHOD, kubernetesSpiffeId, parseSpiffeId } from './resolve';
import { percentEncodedVariant } from './path';

/** A client IP no rule names: TEST-NET-1. */
export const DEFAULT_IP = '192.0.2.10';
export const OUTSIDER = { namespace: 'policyc-outside', serviceAccount: 'policyc-outsider' };
export const PROBE_ACCOUNT = 'policyc-probe';
const GRPC_PATH = /^\/[^/]+\/[^/]+$/;

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

/**
 * Every client kind the model distinguishes, with representative IPs. Identities of other trust domains: each SPIFFE ID
 * the policy names, and for each trust domain it names a probe in every namespace (so a namespace source is seen to
 * stay in the mesh's trust domain). Through gateways: plaintext clients whose X-Forwarded-For puts each remote
 * address in and out of the blocks at every trusted-proxy depth a gateway declares.
 */
function clientsOf(model: PolicyModel): Client[] {
  const clients: Client[] = [];
  const ips = new Set([DEFAULT_IP]);
  const remoteIps = new Set<string>();
  const namespaces = new Set<string>(model.namespaces.map((n) => n.name));
  const identities = new Map<string, { namespace: string; serviceAccount: string }>();
  const spiffeIds = new Set<string>();
  const trustDomains = new Set<string>();
  const callers: CallerModel[] = [
    ...model.rules.flatMap((r) => r.sources.flatMap((s): CallerModel[] => (s.kind === 'both' ? [s, s.identity] : s.kind === 'requestIdentity' ? [] : [s]))),
    ...(model.assertions ?? []).map((a) => a.from),
  ];
  for (const source of callers) {
    if (source.kind === 'ipBlock') for (const ip of addressesAround(source.cidr)) ips.add(ip);
    if (source.kind === 'ipBlocks' || source.kind === 'both') for (const cidr of source.cidrs) for (const ip of addressesAround(cidr)) ips.add(ip);
    if (source.kind === 'remoteIpBlock') for (const ip of addressesAround(source.cidr)) remoteIps.add(ip);
    if (source.kind === 'namespace' || source.kind === 'outside') namespaces.add(source.namespace);
    if (source.kind === 'identity') identities.set(`${source.namespace}/${source.serviceAccount}`, source);
    if (source.kind === 'spiffe') {
      const peer = parseSpiffeId(source.id);
      if (peer !== undefined) {
        spiffeIds.add(source.id);
        trustDomains.add(peer.trustDomain);
      }
    }
    if (source.kind === 'trustDomain') trustDomains.add(source.trustDomain);
  }
  // With probes, clients inside and outside the probe networks (model.ts, 6.).
  if (model.services.some((svc) => svc.ports.some((p) => (p.probes ?? []).length > 0)))
    for (const cidr of probeNetworksOf(model.mesh)) if (!coversEverything(cidr)) for (const ip of addressesAround(cidr)) ips.add(ip);
  for (const ns of namespaces) identities.set(`${ns}/${PROBE_ACCOUNT}`, { namespace: ns, serviceAccount: PROBE_ACCOUNT });
  identities.set(`${OUTSIDER.namespace}/${OUTSIDER.serviceAccount}`, OUTSIDER);
  trustDomains.delete(model.mesh.trustDomain);
  for (const td of trustDomains) {
    for (const ns of [...namespaces, OUTSIDER.namespace]) spiffeIds.add(kubernetesSpiffeId(td, ns, PROBE_ACCOUNT));
  }
  // A SPIFFE ID of the mesh's own workloads is the same client as the identity it names.
  const foreign = [...spiffeIds].filter((id) => {
    const peer = parseSpiffeId(id);
    return !(peer?.trustDomain === model.mesh.trustDomain && peer.namespace !== undefined);
  });
  for (const id of [...spiffeIds].sort()) {
    const peer = parseSpiffeId(id);
    if (peer?.trustDomain === model.mesh.trustDomain && peer.namespace !== undefined && peer.serviceAccount !== undefined) {
      identities.set(`${peer.namespace}/${peer.serviceAccount}`, { namespace: peer.namespace, serviceAccount: peer.serviceAccount });
    }
  }
  for (const ip of [...ips, ...remoteIps].sort()) {
    for (const svc of model.services) clients.push({ kind: 'service', service: svc.id, ip, tls: true });
    for (const id of [...identities.keys()].sort()) {
      const identity = identities.get(id);
      if (identity !== undefined) clients.push({ kind: 'identity', ...identity, ip, tls: true });
    }
    for (const id of foreign.sort()) clients.push({ kind: 'spiffe', id, ip, tls: true });
    clients.push({ kind: 'plaintext', ip });
  }
  const depths = [
    ...new Set(model.services.flatMap((s) => (s.gateway !== undefined && s.gateway.numTrustedProxies > 0 ? [s.gateway.numTrustedProxies] : []))),
  ].sort((a, b) => a - b);
  if (remoteIps.size > 0) {
    for (const depth of depths) {
      for (const remote of [...remoteIps, DEFAULT_IP].sort()) {
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

export interface Operation {
  readonly method?: HttpMethod;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly token?: RequestToken;
}

/** A subject no request identity names, and an issuer no policy declares. */
export const PROBE_SUBJECT = 'policyc-probe-subject';
export const UNKNOWN_ISSUER = 'https://policyc-unknown-issuer.example';

/**
 * Header sets that probe every header condition of the rules to a destination: none; every named header at a
 * satisfying value; then one header at a time at each edge (absent, empty, the value, one character more, one
 * less); and the satisfying set with upper-cased names (names compare case-insensitively).
 */
function headerVariants(rules: readonly RuleModel[]): (Readonly<Record<string, string>> | undefined)[] {
  const probes = new Map<string, Set<string>>();
  const satisfying = new Map<string, string>();
  for (const rule of rules) {
    for (const { name, match } of rule.headers ?? []) {
      const values = probes.get(name) ?? new Set<string>(['']);
      const value = match.kind === 'present' ? 'policyc' : match.value;
      values.add(value).add(`${value}x`);
      if (value.length > 1) values.add(value.slice(0, -1));
      probes.set(name, values);
      // The satisfying set satisfies allow rules; a header only deny rules name stays out of it.
      if (!satisfying.has(name) && rule.action === 'allow') satisfying.set(name, value);
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
  return variants;
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

/** Header sets × tokens: all pairs when few, else each header set with a matching token and each token with the satisfying headers. */
function requestConditions(model: PolicyModel, destination: string): { headers?: Readonly<Record<string, string>>; token?: RequestToken }[] {
  const rules = model.rules.filter((r) => r.destination === destination);
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

/** Methods and paths that exercise every rule's edges on a port: each value, near-misses, and something unmatched. */
export function operationsFor(models: readonly PolicyModel[], destination: string, port: PortModel): Operation[] {
  if (!isHttpProtocol(port.protocol)) return [{}];
  const grpc = port.protocol === 'grpc';
  const methods = new Set<HttpMethod>(grpc ? [GRPC_METHOD] : ['GET', 'POST', 'DELETE']);
  const paths = new Set<string>(['/', '/policyc-unmatched']);
  // Every client is probed on the probe paths: nobody but the kubelet gets them unless a rule says so.
  for (const probe of port.probes ?? []) if (probe.kind === 'http') paths.add(probe.path);
  for (const rule of models.flatMap((m) => m.rules)) {
    if (rule.destination !== destination) continue;
    if (!grpc) for (const m of rule.methods ?? []) methods.add(m);
    for (const p of rule.paths ?? []) {
      paths.add(p.value);
      paths.add(`${p.value}x`);
      if (p.kind === 'prefix') {
        paths.add(`${p.value}a/b`);
        if (p.value.endsWith('/') && p.value.length > 1) paths.add(p.value.slice(0, -1));
      }
      if (p.value.length > 1) paths.add(p.value.slice(0, -1));
      // Variants that normalize to a path of the rule, or out of it (model.ts, 5.): a mesh that matches the
      // raw path must not let them past the rule. gRPC servers dispatch on the exact path: no variants there.
      if (!grpc) {
        const inside = p.kind === 'prefix' ? `${p.value}a/b` : p.value;
        const encoded = percentEncodedVariant(inside);
        if (encoded !== undefined) paths.add(encoded);
        paths.add(`/policyc-unmatched/..${inside}`);
        paths.add(`${p.value}${p.value.endsWith('/') ? '' : '/'}../policyc-unmatched`);
      }
    }
  }
  // A gRPC call's path is always /<package.Service>/<Method>: other shapes are not requests a gRPC client sends.
  const shaped = grpc
    ? [...paths]
        .map((p) => (p.endsWith('/') ? `${p}Call` : p))
        .concat('/policyc.Probe/Call')
        .filter((p) => GRPC_PATH.test(p))
    : [...paths];
  const conditions = models.length === 1 && models[0] !== undefined ? requestConditions(models[0], destination) : mergedConditions(models, destination);
  return [...methods].sort().flatMap((method) => [...new Set(shaped)].sort().flatMap((path) => conditions.map((c) => ({ method, path, ...c }))));
}

/** The request conditions of several models (a semantic diff's before and after), without repeats. */
function mergedConditions(models: readonly PolicyModel[], destination: string): { headers?: Readonly<Record<string, string>>; token?: RequestToken }[] {
  const all = models.flatMap((m) => requestConditions(m, destination));
  return [...new Map(all.map((c) => [JSON.stringify(c), c])).values()];
}

export function requestSpace(model: PolicyModel): Request[] {
  const requests: Request[] = [];
  const clients = clientsOf(model);
  for (const service of model.services) {
    for (const port of service.ports) {
      for (const operation of operationsFor([model], service.id, port)) {
        for (const client of clients) requests.push({ client, destination: service.id, port: port.port, ...operation });
      }
      // The kubelet runs each probe from the probe networks (model.ts, 6.).
      for (const probe of port.probes ?? []) {
        const client: Client = { kind: 'kubelet', ip: kubeletAddress(model) };
        requests.push({ client, destination: service.id, port: port.port, ...(probe.kind === 'http' ? { method: 'GET' as const, path: probe.path } : {}) });
      }
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
