/**
 * The model's own decision function: the executable form of the semantics in model.ts. The verifier
 * compares it with each mesh simulator; `policyc explain` prints its reasons.
 */
import { ipInCidr } from './cidr';
import {
  acceptsPlaintext,
  effectiveDefaultAction,
  effectiveEnforcement,
  effectiveMtls,
  hasPeerIdentity,
  headerMatches,
  isHttpProtocol,
  isProxyAdminPort,
  PROXY_ADMIN_METRICS_PATH,
  PROXY_ADMIN_PROBE_PATHS,
  tokenIssuersAt,
  pathMatches,
  probeNetworksOf,
  probeOf,
  servicesById,
  type HttpMethod,
  type PolicyModel,
  type IdentitySourceModel,
  type PortModel,
  type RequestIdentitySourceModel,
  type RuleModel,
  type ServiceModel,
  type SourceLocation,
  type SourceModel,
} from './model';
import { isNormalPath, normalizePath } from './path';
import { parseSpiffeId, peerIdentity, portNumbered, remoteAddress, rulesTo, serviceIdentity, sourceIdentity, type PeerIdentity } from './resolve';

/** Who is calling. */
export type Client =
  /** A declared service (its pods use its service account). */
  | { readonly kind: 'service'; readonly service: string; readonly ip: string; readonly tls: boolean; readonly forwardedFor?: readonly string[] }
  /** A workload outside the model with a mesh identity. */
  | {
      readonly kind: 'identity';
      readonly namespace: string;
      readonly serviceAccount: string;
      readonly ip: string;
      readonly tls: boolean;
      readonly forwardedFor?: readonly string[];
    }
  /** A workload with another SPIFFE ID: another trust domain's, or not a Kubernetes workload's. */
  | { readonly kind: 'spiffe'; readonly id: string; readonly ip: string; readonly tls: boolean; readonly forwardedFor?: readonly string[] }
  /** A client outside the mesh: no sidecar, no certificate. `forwardedFor`: the X-Forwarded-For addresses it sends. */
  | { readonly kind: 'plaintext'; readonly ip: string; readonly forwardedFor?: readonly string[] }
  /** The node's kubelet running the pod's probes: plaintext, from a node (probe) network (model.ts, 6.). */
  | { readonly kind: 'kubelet'; readonly ip: string; readonly forwardedFor?: undefined };

export interface Request {
  readonly client: Client;
  /** Destination service id. */
  readonly destination: string;
  /** Container port number. */
  readonly port: number;
  /** Only for HTTP, HTTP/2 and gRPC ports. */
  readonly method?: HttpMethod;
  /** Path without query; only for HTTP, HTTP/2 and gRPC ports. */
  readonly path?: string;
  /** Request headers as sent (names in any case; meshes compare them case-insensitively). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The end-user JWT the request carries; absent: none. */
  readonly token?: RequestToken;
}

/** An end-user JWT: `valid` when signed by the issuer's key and unexpired; then its issuer, subject and claims. */
export type RequestToken =
  | { readonly kind: 'valid'; readonly issuer: string; readonly subject: string; readonly claims: Readonly<Record<string, string>> }
  /** A token of `issuer` that fails verification (wrong key, expired). */
  | { readonly kind: 'invalid'; readonly issuer: string };

/** The request's value of a header, its name compared case-insensitively (the model's names are lower-case). */
export function headerValue(headers: Readonly<Record<string, string>> | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

export interface Decision {
  readonly allowed: boolean;
  /** Set when the destination is audited and enforcing would have denied the request (which is allowed and reported). */
  readonly audited?: true;
  /** Why, in words. */
  readonly reason: string;
  /** The rules that decided (the matching deny, or the matching allows). */
  readonly rules: readonly { readonly id: string; readonly action: RuleModel['action']; readonly location?: SourceLocation }[];
  /** A denial a mesh may answer either way (model.ts, 6.: a probe GET from the probe networks), and why. */
  readonly meshMayAllow?: string;
}

/**
 * The identity a client presents: none for a plaintext client or one that does not use mTLS. Declared services and
 * undeclared Kubernetes identities are in the mesh's trust domain.
 */
export function presentedIdentity(client: Client, services: ReadonlyMap<string, ServiceModel>, trustDomain: string): PeerIdentity | undefined {
  if (client.kind === 'plaintext' || client.kind === 'kubelet' || !client.tls) return undefined;
  if (client.kind === 'spiffe') return parseSpiffeId(client.id);
  if (client.kind === 'identity') return peerIdentity(trustDomain, { namespace: client.namespace, serviceAccount: client.serviceAccount });
  const svc = services.get(client.service);
  return svc === undefined ? undefined : peerIdentity(trustDomain, serviceIdentity(svc));
}

/** Where the request came from: the peer's identity and address, and the original client address a gateway sees. */
interface Origin {
  readonly identity: PeerIdentity | undefined;
  readonly ip: string;
  readonly remoteIp: string;
}

function originOf(model: PolicyModel, destination: ServiceModel, client: Client, plaintext: boolean, services: ReadonlyMap<string, ServiceModel>): Origin {
  return {
    identity: plaintext ? undefined : presentedIdentity(client, services, model.mesh.trustDomain),
    ip: client.ip,
    remoteIp: remoteAddress(client.ip, client.forwardedFor, destination.gateway?.numTrustedProxies ?? 0),
  };
}

function identityMatches(
  source: IdentitySourceModel,
  identity: PeerIdentity | undefined,
  trustDomain: string,
  services: ReadonlyMap<string, ServiceModel>,
): boolean {
  if (identity === undefined) return false;
  switch (source.kind) {
    case 'authenticated':
      return true;
    case 'namespace':
      return identity.trustDomain === trustDomain && identity.namespace === source.namespace;
    case 'identity':
    case 'service': {
      const named = sourceIdentity(source, services);
      return (
        named !== undefined &&
        identity.trustDomain === trustDomain &&
        identity.namespace === named.namespace &&
        identity.serviceAccount === named.serviceAccount
      );
    }
    case 'spiffe':
      return identity.spiffeId === source.id;
    case 'trustDomain':
      return identity.trustDomain === source.trustDomain;
    default:
      return source satisfies never;
  }
}

/** Whether a request's token is a valid one of the source's issuer, with its subject and claims when set. */
export function requestIdentityMatches(source: RequestIdentitySourceModel, token: RequestToken | undefined): boolean {
  return (
    token?.kind === 'valid' &&
    token.issuer === source.issuer &&
    (source.subject === undefined || token.subject === source.subject) &&
    Object.entries(source.claims ?? {}).every(([name, value]) => token.claims[name] === value)
  );
}

function sourceMatches(
  source: SourceModel,
  origin: Origin,
  token: RequestToken | undefined,
  trustDomain: string,
  services: ReadonlyMap<string, ServiceModel>,
): boolean {
  switch (source.kind) {
    case 'anyone':
      return true;
    case 'ipBlock':
      return ipInCidr(origin.ip, source.cidr);
    case 'remoteIpBlock':
      return ipInCidr(origin.remoteIp, source.cidr);
    case 'both':
      return identityMatches(source.identity, origin.identity, trustDomain, services) && source.cidrs.some((cidr) => ipInCidr(origin.ip, cidr));
    case 'requestIdentity':
      return requestIdentityMatches(source, token);
    default:
      return identityMatches(source, origin.identity, trustDomain, services);
  }
}

/**
 * What the model sees of a client on one port: whether it is plaintext there, and which rules of the
 * destination on that port it is a source of. Two clients with the same key are decided alike on every
 * request to the port: a rule matches when a source matches the client and its methods and paths the request.
 */
export function clientKey(model: PolicyModel, destination: ServiceModel, port: PortModel, client: Client, services: ReadonlyMap<string, ServiceModel>): string {
  if (isProxyAdminPort(model, destination, port.port)) return proxyAdminClientKey(model, client, services);
  const mode = effectiveMtls(model, destination, port);
  const plaintext = client.kind === 'plaintext' || client.kind === 'kubelet' || !client.tls || !hasPeerIdentity(mode);
  const origin = originOf(model, destination, client, plaintext, services);
  // Whether a probe GET from it is one a mesh may admit (`meshMayAllow`).
  const probing = (port.probes ?? []).some((p) => p.kind === 'http') && probeNetworksOf(model.mesh).some((cidr) => ipInCidr(client.ip, cidr));
  let key = `${client.kind === 'kubelet' ? 'k' : plaintext ? 'p' : 'i'}${probing ? 'n' : '-'}`;
  for (const rule of rulesTo(model, destination.id)) {
    if (rule.ports.includes(port.name)) key += rule.sources.some((s) => sourceMatches(s, origin, undefined, model.mesh.trustDomain, services)) ? '1' : '0';
  }
  return key;
}

/** The mirror of `clientKey`: which rules of the destination on the port a method and path match. */
export function operationKey(model: PolicyModel, destination: ServiceModel, port: PortModel, method: HttpMethod | undefined, path: string | undefined): string {
  if (isProxyAdminPort(model, destination, port.port)) {
    const normalized = path === undefined ? undefined : normalizePath(path);
    const get = method === 'GET';
    return `admin${path === undefined || isNormalPath(path) ? '-' : 'v'}${get && normalized === PROXY_ADMIN_METRICS_PATH ? 'm' : '-'}${get && normalized !== undefined && PROXY_ADMIN_PROBE_PATHS.includes(normalized) ? 'p' : '-'}`;
  }
  const http = isHttpProtocol(port.protocol);
  // Whether it is a probe of the port, and whether its path is in normal form (a variant a mesh may refuse).
  let key = `${probeOf(port, method, path) === undefined ? '-' : 'p'}${path === undefined || isNormalPath(path) ? '-' : 'v'}`;
  const normalized = path === undefined ? undefined : normalizePath(path);
  for (const rule of rulesTo(model, destination.id)) {
    if (!rule.ports.includes(port.name)) continue;
    const methodOk = rule.methods === undefined || (http && method !== undefined && rule.methods.includes(method));
    const pathOk = rule.paths === undefined || (http && normalized !== undefined && rule.paths.some((p) => pathMatches(p, normalized)));
    key += methodOk && pathOk ? '1' : '0';
  }
  return key;
}

/**
 * Steps 1–4 of model.ts: mTLS, deny rules, the port's effective defaultAction (port, service, namespace, mesh),
 * allow rules; then audit, which turns a denial by the rules or the defaultAction into "would be denied (audit)".
 */
export function decide(model: PolicyModel, request: Request, services: ReadonlyMap<string, ServiceModel> = servicesById(model)): Decision {
  const destination = services.get(request.destination);
  if (destination !== undefined && isProxyAdminPort(model, destination, request.port)) return decideProxyAdmin(model, request, services);
  const enforced = decideEnforced(model, request, services);
  // mTLS refusals and 401s for bad tokens are not authorization: they stay refused in audit (model.ts steps 4, 8).
  if (enforced.allowed || enforced.beyondAudit === true || destination === undefined || effectiveEnforcement(model, destination) === 'enforce') {
    return {
      allowed: enforced.allowed,
      reason: enforced.reason,
      rules: enforced.rules,
      ...(enforced.meshMayAllow === undefined ? {} : { meshMayAllow: enforced.meshMayAllow }),
    };
  }
  return { allowed: true, audited: true, reason: `would be denied (audit): ${enforced.reason}`, rules: enforced.rules };
}

function decideEnforced(model: PolicyModel, request: Request, services: ReadonlyMap<string, ServiceModel>): Decision & { readonly beyondAudit?: true } {
  const destination = services.get(request.destination);
  const port = destination === undefined ? undefined : portNumbered(destination, request.port);
  if (destination === undefined || port === undefined) {
    return { allowed: false, beyondAudit: true, reason: `${request.destination}:${request.port} is not a declared port`, rules: [] };
  }
  const probe = probeOf(port, request.method, request.path);
  if (probe !== undefined && request.client.kind === 'kubelet') {
    return {
      allowed: true,
      reason: `the kubelet's ${probe.probe} probe (${probe.kind === 'http' ? `GET ${probe.path}` : 'TCP'}) on port ${port.name}`,
      rules: [],
    };
  }
  const decision = decideByRules(model, request, destination, port, services);
  // Linkerd authorizes HTTP probes by source network: another client from there may get the probe path too (model.ts, 6.).
  if (!decision.allowed && probe?.kind === 'http' && probeNetworksOf(model.mesh).some((cidr) => ipInCidr(request.client.ip, cidr))) {
    return {
      ...decision,
      meshMayAllow: `a GET on the ${probe.probe} probe path from the probe networks, which a mesh that authorizes probes by network admits`,
    };
  }
  return decision;
}

function decideByRules(
  model: PolicyModel,
  request: Request,
  destination: ServiceModel,
  port: PortModel,
  services: ReadonlyMap<string, ServiceModel>,
): Decision & { readonly beyondAudit?: true } {
  const mode = effectiveMtls(model, destination, port);
  const plaintext = request.client.kind === 'plaintext' || request.client.kind === 'kubelet' || !request.client.tls || !hasPeerIdentity(mode);
  if (plaintext && !acceptsPlaintext(mode)) {
    return { allowed: false, beyondAudit: true, reason: `port ${port.name} is STRICT: a plaintext client is refused by mTLS`, rules: [] };
  }
  const origin = originOf(model, destination, request.client, plaintext, services);
  const http = isHttpProtocol(port.protocol);
  // Paths are matched as the application sees them: normalized (model/path.ts).
  const path = request.path === undefined ? undefined : normalizePath(request.path);
  // A destination that validates tokens refuses a bad one on its HTTP ports before any rule; elsewhere a token is not read.
  const rules = rulesTo(model, destination.id);
  const issuers = http ? tokenIssuersAt({ rules }, destination.id) : [];
  const token = request.token;
  if (token !== undefined && issuers.length > 0 && (token.kind === 'invalid' || !issuers.includes(token.issuer))) {
    return {
      allowed: false,
      reason: `${destination.id} validates JWTs of ${issuers.join(', ')}: a request with ${token.kind === 'invalid' ? 'an invalid token' : `a token of another issuer (${token.issuer})`} is refused (401)`,
      rules: [],
      // Token validation is authentication, not authorization: Istio's dry-run covers AuthorizationPolicies only.
      beyondAudit: true,
    };
  }
  const readToken = issuers.length > 0 ? token : undefined;
  const matches = (rule: RuleModel): boolean =>
    rule.ports.includes(port.name) &&
    rule.sources.some((s) => sourceMatches(s, origin, readToken, model.mesh.trustDomain, services)) &&
    (rule.headers === undefined || (http && rule.headers.every((h) => headerMatches(h.match, headerValue(request.headers, h.name))))) &&
    (rule.methods === undefined || (http && request.method !== undefined && rule.methods.includes(request.method))) &&
    (rule.paths === undefined || (http && path !== undefined && rule.paths.some((p) => pathMatches(p, path))));
  const cite = (rule: RuleModel) => ({ id: rule.id, action: rule.action, ...(rule.location === undefined ? {} : { location: rule.location }) });

  const denies = rules.filter((r) => r.action === 'deny' && matches(r));
  if (denies.length > 0) return { allowed: false, reason: 'a deny rule matches', rules: denies.map(cite) };
  if (effectiveDefaultAction(model, destination, port) === 'allow') {
    return { allowed: true, reason: `no deny rule matches and the defaultAction of port ${port.name} is allow`, rules: [] };
  }
  const allows = rules.filter((r) => r.action === 'allow' && matches(r));
  if (allows.length > 0) return { allowed: true, reason: 'an allow rule matches', rules: allows.map(cite) };
  return { allowed: false, reason: 'no allow rule matches (defaultAction deny)', rules: [] };
}

/** Whether a client's identity or address is one of the proxy admin port's scrapers. */
function scraperMatches(model: PolicyModel, client: Client, services: ReadonlyMap<string, ServiceModel>): boolean[] {
  const identity = presentedIdentity(client, services, model.mesh.trustDomain);
  return (model.mesh.linkerd?.proxyAdmin?.scrapedBy ?? []).map((scraper) => {
    if (scraper.kind === 'ipBlock') return ipInCidr(client.ip, scraper.cidr);
    return identityMatches(scraper, identity, model.mesh.trustDomain, services);
  });
}

/** The mirror of `proxyAdminDecision` for one client: plaintext or not, from the probe networks or not, which scrapers it is. */
function proxyAdminClientKey(model: PolicyModel, client: Client, services: ReadonlyMap<string, ServiceModel>): string {
  const probing = probeNetworksOf(model.mesh).some((cidr) => ipInCidr(client.ip, cidr));
  return `admin${probing ? 'n' : '-'}${scraperMatches(model, client, services)
    .map((m) => (m ? '1' : '0'))
    .join('')}`;
}

/**
 * Model.ts, 9.: the proxy admin port. GET /live and /ready from the probe networks (the kubelet probing the proxy),
 * GET /metrics by a scraper; nothing else, whatever the rules, defaultAction and audit say.
 */
function decideProxyAdmin(model: PolicyModel, request: Request, services: ReadonlyMap<string, ServiceModel>): Decision {
  const path = request.path === undefined ? undefined : normalizePath(request.path);
  const get = request.method === 'GET';
  if (get && path !== undefined && PROXY_ADMIN_PROBE_PATHS.includes(path) && probeNetworksOf(model.mesh).some((cidr) => ipInCidr(request.client.ip, cidr)))
    return { allowed: true, reason: `a GET on the proxy's probe path ${path} of its admin port, from the probe networks`, rules: [] };
  if (get && path === PROXY_ADMIN_METRICS_PATH && scraperMatches(model, request.client, services).some((m) => m))
    return { allowed: true, reason: "a scraper's GET /metrics on the proxy admin port (linkerd.proxyAdmin)", rules: [] };
  return {
    allowed: false,
    reason: 'the proxy admin port admits only GET /metrics by its scrapers and GET /live, /ready from the probe networks (linkerd.proxyAdmin)',
    rules: [],
  };
}
