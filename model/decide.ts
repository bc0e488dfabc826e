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
  tokenIssuersAt,
  pathMatches,
  servicesById,
  type HttpMethod,
  type PolicyModel,
  type RequestIdentitySourceModel,
  type RuleModel,
  type ServiceModel,
  type SourceLocation,
  type SourceModel,
} from './model';
import { portNumbered, rulesByDestination, sameIdentity, serviceIdentity, sourceIdentity, type WorkloadIdentity } from './resolve';

/** Who is calling. */
export type Client =
  /** A declared service (its pods use its service account). */
  | { readonly kind: 'service'; readonly service: string; readonly ip: string; readonly tls: boolean }
  /** A workload outside the model with a mesh identity. */
  | { readonly kind: 'identity'; readonly namespace: string; readonly serviceAccount: string; readonly ip: string; readonly tls: boolean }
  /** A client outside the mesh: no sidecar, no certificate. */
  | { readonly kind: 'plaintext'; readonly ip: string };

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
}

/** The identity a client presents: none for a plaintext client or one that does not use mTLS. */
export function presentedIdentity(client: Client, services: ReadonlyMap<string, ServiceModel>): WorkloadIdentity | undefined {
  if (client.kind === 'plaintext' || !client.tls) return undefined;
  if (client.kind === 'identity') return { namespace: client.namespace, serviceAccount: client.serviceAccount };
  const svc = services.get(client.service);
  return svc === undefined ? undefined : serviceIdentity(svc);
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
  identity: WorkloadIdentity | undefined,
  ip: string,
  token: RequestToken | undefined,
  services: ReadonlyMap<string, ServiceModel>,
): boolean {
  switch (source.kind) {
    case 'anyone':
      return true;
    case 'authenticated':
      return identity !== undefined;
    case 'namespace':
      return identity?.namespace === source.namespace;
    case 'identity':
    case 'service':
      return sameIdentity(identity, sourceIdentity(source, services));
    case 'ipBlock':
      return ipInCidr(ip, source.cidr);
    case 'requestIdentity':
      return requestIdentityMatches(source, token);
    default:
      return source satisfies never;
  }
}

/** Each model's rules by destination, grouped once: the verifier decides thousands of requests per model. */
const groupedRules = new WeakMap<PolicyModel, ReadonlyMap<string, readonly RuleModel[]>>();

function rulesTo(model: PolicyModel, destination: string): readonly RuleModel[] {
  let grouped = groupedRules.get(model);
  if (grouped === undefined) {
    grouped = rulesByDestination(model.rules);
    groupedRules.set(model, grouped);
  }
  return grouped.get(destination) ?? [];
}

/**
 * Steps 1–4 of model.ts: mTLS, deny rules, the port's effective defaultAction (port, service, namespace, mesh),
 * allow rules; then audit, which turns a denial by the rules or the defaultAction into "would be denied (audit)".
 */
export function decide(model: PolicyModel, request: Request, services: ReadonlyMap<string, ServiceModel> = servicesById(model)): Decision {
  const destination = services.get(request.destination);
  const enforced = decideEnforced(model, request, services);
  // mTLS refusals and 401s for bad tokens are not authorization: they stay refused in audit (model.ts steps 4, 6).
  if (enforced.allowed || enforced.beyondAudit === true || destination === undefined || effectiveEnforcement(model, destination) === 'enforce') {
    return { allowed: enforced.allowed, reason: enforced.reason, rules: enforced.rules };
  }
  return { allowed: true, audited: true, reason: `would be denied (audit): ${enforced.reason}`, rules: enforced.rules };
}

function decideEnforced(model: PolicyModel, request: Request, services: ReadonlyMap<string, ServiceModel>): Decision & { readonly beyondAudit?: true } {
  const destination = services.get(request.destination);
  const port = destination === undefined ? undefined : portNumbered(destination, request.port);
  if (destination === undefined || port === undefined) {
    return { allowed: false, beyondAudit: true, reason: `${request.destination}:${request.port} is not a declared port`, rules: [] };
  }
  const mode = effectiveMtls(model, destination, port);
  const plaintext = request.client.kind === 'plaintext' || !request.client.tls || !hasPeerIdentity(mode);
  if (plaintext && !acceptsPlaintext(mode)) {
    return { allowed: false, beyondAudit: true, reason: `port ${port.name} is STRICT: a plaintext client is refused by mTLS`, rules: [] };
  }
  const identity = plaintext ? undefined : presentedIdentity(request.client, services);
  const http = isHttpProtocol(port.protocol);
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
    rule.sources.some((s) => sourceMatches(s, identity, request.client.ip, readToken, services)) &&
    (rule.headers === undefined || (http && rule.headers.every((h) => headerMatches(h.match, headerValue(request.headers, h.name))))) &&
    (rule.methods === undefined || (http && request.method !== undefined && rule.methods.includes(request.method))) &&
    (rule.paths === undefined || (http && request.path !== undefined && rule.paths.some((p) => pathMatches(p, request.path as string))));
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
