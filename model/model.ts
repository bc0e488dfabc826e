/**
 * The mesh-neutral policy model: plain JSON, versioned, every declaration carrying its source location.
 * Targets read only this; the decision function, the verifier and the semantic diff read only this.
 *
 * What a model means (every target must implement exactly this):
 * A request is (client, destination service, destination port, and for HTTP/gRPC ports a method and a
 * path without query). The client is a declared service (identity: its namespace + service account),
 * an undeclared identity (namespace + service account), a workload with another SPIFFE ID (another trust
 * domain, or not a Kubernetes workload), or a plaintext client; every client has an IP, and may carry an
 * X-Forwarded-For list. Every identity is a SPIFFE ID `spiffe://<trust domain>/<path>`; a Kubernetes
 * workload's path is `ns/<namespace>/sa/<service account>`, a declared service's trust domain the mesh's.
 * 1. The port's mTLS mode is `effectiveMtls` (port, else service, else namespace, else mesh); a gateway's
 *    ports are always DISABLE (PeerAuthentication does not apply to gateway pods: callers reach a gateway
 *    without a mesh identity).
 *    STRICT: a plaintext client is refused. DISABLE: no client has an identity (all traffic is plaintext).
 *    PERMISSIVE: mesh clients have their identity, plaintext clients none.
 * 2. A rule matches when one of its sources matches the client, the port is in `ports`, and (only when set)
 *    the method is in `methods` and the path matches one of `paths`. Sources: `service`/`identity` match
 *    that exact identity in the mesh's trust domain; `namespace` any identity in the namespace and in the
 *    mesh's trust domain; `spiffe` that exact SPIFFE ID; `trustDomain` any identity of that trust domain;
 *    `authenticated` any identity; `anyone` every client; `ipBlock` any client whose IP is in the CIDR,
 *    with or without identity; `both` a client its `identity` source matches AND whose IP is in one of its
 *    CIDRs; `remoteIpBlock` (only on a gateway destination) a client whose original IP is in the CIDR: with
 *    the gateway's `numTrustedProxies` N > 0, the N-th address from the right of X-Forwarded-For when the
 *    list has at least N, else the client's IP. A client without identity never matches an identity source.
 * 3. If any deny rule matches: denied. Else, if the port's `effectiveDefaultAction` (port, else service, else
 *    namespace, else mesh: the same precedence as mTLS) is 'allow': allowed. Else allowed only if some allow
 *    rule matches.
 * 4. Audit: when the destination's `effectiveEnforcement` (service, else namespace; default 'enforce') is
 *    'audit', a request step 3 denies is allowed instead ("would be denied (audit)"); the mesh reports it.
 *    Step 1 is not audited: a STRICT port refuses plaintext clients in audit too (mTLS is transport, not
 *    authorization; Istio's dry-run covers AuthorizationPolicies only).
 * Scope: with `scope: 'namespaces'` the model governs only its namespaces (its services' and the declared
 * ones); every other namespace keeps the cluster's defaults and nothing is written there. Inside a governed
 * namespace, the namespace's posture (mTLS mode, defaultAction, enforcement) applies to every workload,
 * declared or not: a namespace is adopted whole. With `scope: 'mesh'` (the default) the mesh's mTLS mode
 * also applies to every namespace the model does not name.
 * 5. Paths are matched as the application sees them: normalized (model/path.ts: percent-encoded unreserved
 *    characters decoded once, a backslash read as '/', dot segments removed; Istio's default `BASE`
 *    normalization). So `/%64ebug/x` and `/metrics/../debug/x` are requests for `/debug/x`, and a rule on
 *    `/debug/*` decides them. A mesh may refuse a request whose path is not in normal form even where the
 *    model allows its normal form (Linkerd matches the raw path, so policyc routes such variants nowhere
 *    rather than let one past a rule): the verifier accepts that refusal, and nothing else.
 * 6. Platform traffic. A port's probes (`PortModel.probes`) are run by the kubelet, a plaintext client from
 *    the node (probe) networks: its GET on an HTTP probe path, or its connection for a TCP probe, succeeds
 *    whatever the mTLS mode and the rules (Istio rewrites probes to its sidecar agent, ambient exempts the
 *    kubelet's address, Linkerd gets a probe route policyc writes). Any other request of the kubelet is a
 *    plaintext client's. Nobody else gets a probe path unless a rule allows it, with one leeway the meshes
 *    force: Linkerd authorizes probes by source network, so a client from `probeNetworks` may also GET a
 *    probe path there (the verifier accepts either answer for exactly those requests; narrow
 *    `probeNetworks` to the nodes' CIDRs to make it moot).
 * Request conditions (HTTP, HTTP/2 and gRPC ports only):
 * 7. Headers: a rule with `headers` matches only when every condition holds; header names compare
 *    case-insensitively (the model keeps them lower-case), values exactly: `exact` equal, `prefix` starts
 *    with, `present` the header is sent (even empty: Istio's presence match).
 * 8. Request identity (end-user JWT): a request carries no token, a valid token (issuer, subject, string
 *    claims) or an invalid one. A destination *validates tokens* when any rule to it has a
 *    `requestIdentity` source; its issuers are the issuers those sources name (`tokenIssuersAt`). On an HTTP
 *    port of such a destination, a request whose token is invalid or from another issuer is refused before
 *    any rule (the mesh answers 401; not audited: it is authentication); a request without a token is not
 *    refused by that alone. A
 *    `requestIdentity` source matches a valid token of its issuer whose subject (when set) and claims (when
 *    set) are equal; it never matches a request without a token, and it does not depend on the peer.
 * 9. Linkerd's proxy admin port (`mesh.linkerd.proxyAdmin`, Linkerd only): every declared workload (not an Istio ingress gateway)
 *    then also has port `LINKERD_PROXY_ADMIN_PORT` (4191, the proxy's own HTTP server, no model port), where a GET
 *    on `/metrics` by a `scrapedBy` source (an identity needs mTLS, a block any client from it) and a GET on
 *    `/live` or `/ready` from the probe networks are allowed, and everything else is denied, whatever the rules,
 *    defaultAction and audit say (it is the proxy's, not the application's). Without `proxyAdmin` the model says
 *    nothing about that port. Only meshes whose proxy has that port are checked on it (Istio's and ambient's
 *    agents serve their stats on ports inbound capture skips, so no policy of theirs reaches them).
 * The validator guarantees `ports` only lists HTTP ports when methods, paths, headers or request identities
 * are set, and that no identity-based deny covers a port that accepts plaintext.
 */
import type { DefaultAction, Enforcement, HttpMethod, MtlsMode, PolicyScope, Protocol } from '../dsl/types';

export type { DefaultAction, Enforcement, HttpMethod, MtlsMode, PolicyScope, Protocol };

/** Warnings accepted where they arise: code → reason. */
export type AcknowledgementsModel = Readonly<Record<string, string>>;

export const MODEL_VERSION = 1;

/** The nine HTTP methods a rule can name (RFC 9110 §9 and PATCH). */
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** A place in the user's policy source. `file` is relative to the project root, with `/` separators. */
export interface SourceLocation {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** 0-based character offset, and length of the span to underline. */
  readonly start: number;
  readonly length: number;
}

export interface MeshSettings {
  readonly trustDomain: string;
  readonly mtls: MtlsMode;
  readonly defaultAction: DefaultAction;
  readonly rootNamespace: string;
  /** Where kubelet probes come from (model.ts, 6.); absent: `DEFAULT_PROBE_NETWORKS`. */
  readonly probeNetworks?: readonly string[];
  /** Absent: 'mesh'. */
  readonly scope?: PolicyScope;
  /** The declared namespaces are every meshed namespace (what Linkerd needs to compile `scope: 'mesh'`). */
  readonly everyMeshedNamespaceListed?: true;
  /** What only a Linkerd mesh has (model.ts, 9.); other targets ignore it, as documented. */
  readonly linkerd?: LinkerdSettings;
  readonly location?: SourceLocation;
}

/** Linkerd's install: its control-plane namespace (in every identity name), and who may use the proxy admin port. */
export interface LinkerdSettings {
  /** Absent: `DEFAULT_LINKERD_CONTROL_PLANE`. */
  readonly controlPlaneNamespace?: string;
  readonly proxyAdmin?: ProxyAdminModel;
}

/** The proxy admin port's grants (model.ts, 9.): who may GET /metrics there. */
export interface ProxyAdminModel {
  /** Sorted, deduplicated; identities (a declared service or an undeclared account) and address blocks. */
  readonly scrapedBy: readonly ScraperModel[];
}

export type ScraperModel =
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'identity'; readonly namespace: string; readonly serviceAccount: string }
  | { readonly kind: 'ipBlock'; readonly cidr: string };

/** Linkerd's default control-plane namespace (linkerd.md §9: identities end in `.identity.<cp>.<td>`). */
export const DEFAULT_LINKERD_CONTROL_PLANE = 'linkerd';

/** The linkerd2-proxy admin server's port (`linkerd-admin`, 4191): /metrics, /live, /ready. */
export const LINKERD_PROXY_ADMIN_PORT = 4191;
/** The proxy's own probe paths on the admin port, which the injector writes into the proxy container's probes. */
export const PROXY_ADMIN_PROBE_PATHS: readonly string[] = ['/live', '/ready'];
export const PROXY_ADMIN_METRICS_PATH = '/metrics';

/** The Linkerd control-plane namespace in force. */
export function linkerdControlPlane(settings: Pick<MeshSettings, 'linkerd'>): string {
  return settings.linkerd?.controlPlaneNamespace ?? DEFAULT_LINKERD_CONTROL_PLANE;
}

/** The admin port's name in the proxy container (`linkerd-admin`). */
export const PROXY_ADMIN_PORT_NAME = 'linkerd-admin';

/**
 * A governed workload's proxy admin port as a port of the request space (model.ts, 9.): HTTP, with the proxy's
 * own liveness and readiness probes, which the injector points at it. Undefined where the model does not govern it.
 */
export function proxyAdminPortOf(model: Pick<PolicyModel, 'mesh'>, service: ServiceModel): PortModel | undefined {
  if (!proxyAdminGoverns(model, service)) return undefined;
  return {
    name: PROXY_ADMIN_PORT_NAME,
    port: LINKERD_PROXY_ADMIN_PORT,
    protocol: 'http',
    probes: [
      { kind: 'http', probe: 'readiness', path: '/ready' },
      { kind: 'http', probe: 'liveness', path: '/live' },
    ],
  };
}

/** The ports a request to the service may name: its declared ports, then its proxy admin port where the model governs it (model.ts, 9.). */
export function requestPortsOf(model: Pick<PolicyModel, 'mesh'>, service: ServiceModel): readonly PortModel[] {
  const admin = proxyAdminPortOf(model, service);
  return admin === undefined ? service.ports : [...service.ports, admin];
}

/** Whether a request to this port number of the service is one to its proxy admin port (model.ts, 9.). */
export function isProxyAdminPort(model: Pick<PolicyModel, 'mesh'>, service: ServiceModel, port: number): boolean {
  return port === LINKERD_PROXY_ADMIN_PORT && proxyAdminGoverns(model, service) && !service.ports.some((p) => p.port === port);
}

/** The services whose Linkerd proxy admin port the model governs (model.ts, 9.): every workload, when `proxyAdmin` is set. */
export function proxyAdminGoverns(model: Pick<PolicyModel, 'mesh'>, service: ServiceModel): boolean {
  // A Gateway API gateway's pods are meshed on Linkerd like any workload (targets/linkerd/gateway.ts), so their proxy has the port too.
  return model.mesh.linkerd?.proxyAdmin !== undefined && service.gateway?.kind !== 'istio-ingress';
}

/** Linkerd's `proxy.probeNetworks` default (shared/docs/linkerd.md §7): every address. */
export const DEFAULT_PROBE_NETWORKS: readonly string[] = ['0.0.0.0/0', '::/0'];

/** The probe networks in force. */
export function probeNetworksOf(settings: Pick<MeshSettings, 'probeNetworks'>): readonly string[] {
  return settings.probeNetworks ?? DEFAULT_PROBE_NETWORKS;
}

/** A kubelet probe of a port: a GET on an exact path, or a TCP connection. */
export type ProbeModel = { readonly kind: 'http'; readonly probe: ProbeKind; readonly path: string } | { readonly kind: 'tcp'; readonly probe: ProbeKind };

export type ProbeKind = 'readiness' | 'liveness' | 'startup';

export interface NamespaceModel {
  readonly name: string;
  readonly mtls?: MtlsMode;
  readonly defaultAction?: DefaultAction;
  readonly enforcement?: Enforcement;
  readonly location?: SourceLocation;
}

export interface PortModel {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly mtls?: MtlsMode;
  /** The kubelet's probes on this port, in readiness, liveness, startup order. */
  readonly probes?: readonly ProbeModel[];
  readonly defaultAction?: DefaultAction;
  /** Warnings about this port that the user accepted (located at the service). */
  readonly acknowledge?: AcknowledgementsModel;
}

/** The probe of `port` that a request is, if any: a GET on an HTTP probe's path, or any request to a TCP-probed port. */
export function probeOf(port: PortModel, method: HttpMethod | undefined, path: string | undefined): ProbeModel | undefined {
  return (port.probes ?? []).find((p) => (p.kind === 'tcp' ? true : method === 'GET' && path === p.path));
}

export interface ServiceModel {
  /** `<namespace>/<name>`: unique in a valid model. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
  readonly selector: Readonly<Record<string, string>>;
  /** Sorted by port number. */
  readonly ports: readonly PortModel[];
  readonly mtls?: MtlsMode;
  readonly defaultAction?: DefaultAction;
  readonly enforcement?: Enforcement;
  /** Present when the workload is a gateway (its own proxy, not a sidecar). */
  readonly gateway?: GatewayModel;
  readonly location?: SourceLocation;
}

/**
 * A gateway: `istio-ingress` is Istio's ingress gateway deployment (`istio: ingressgateway` pods); `gateway-api`
 * the pods a Gateway API `Gateway` deploys. `numTrustedProxies`: how many proxies in front of it append to
 * X-Forwarded-For (0: the connection's address is the original client's).
 */
export interface GatewayModel {
  readonly kind: 'istio-ingress' | 'gateway-api';
  readonly numTrustedProxies: number;
}

/** A source that names callers by identity alone. */
export type IdentitySourceModel =
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'namespace'; readonly namespace: string }
  | { readonly kind: 'identity'; readonly namespace: string; readonly serviceAccount: string }
  | { readonly kind: 'spiffe'; readonly id: string }
  | { readonly kind: 'trustDomain'; readonly trustDomain: string }
  | { readonly kind: 'authenticated' };

export type SourceModel =
  | IdentitySourceModel
  | { readonly kind: 'anyone' }
  | { readonly kind: 'ipBlock'; readonly cidr: string }
  /** An identity that must also come from one of the networks (AND). */
  | { readonly kind: 'both'; readonly identity: IdentitySourceModel; readonly cidrs: readonly string[] }
  | { readonly kind: 'remoteIpBlock'; readonly cidr: string }
  /** An end user's JWT: a valid token of `issuer`, with this subject and these claims when set. */
  | RequestIdentitySourceModel;

export interface RequestIdentitySourceModel {
  readonly kind: 'requestIdentity';
  readonly issuer: string;
  readonly subject?: string;
  /** Claim name → the exact string value the token must carry. Sorted by name. */
  readonly claims?: Readonly<Record<string, string>>;
}

/** A JWT issuer and the keys that verify its tokens (exactly one of `jwksUri` and `jwks`). */
export interface JwtIssuerModel {
  readonly issuer: string;
  readonly jwksUri?: string;
  /** An inline JSON Web Key Set (the JSON text). */
  readonly jwks?: string;
  readonly location?: SourceLocation;
}

/** How a header's value must look: equal, starting with, or merely sent (any value, even empty). */
export type HeaderMatch =
  { readonly kind: 'exact'; readonly value: string } | { readonly kind: 'prefix'; readonly value: string } | { readonly kind: 'present' };

/** One header condition of a rule; `name` is lower-case. */
export interface HeaderCondition {
  readonly name: string;
  readonly match: HeaderMatch;
}

export type PathMatch = { readonly kind: 'exact'; readonly value: string } | { readonly kind: 'prefix'; readonly value: string };

export interface RuleModel {
  /** Stable id derived from the rule's content (not its position), so unrelated edits do not rename it. */
  readonly id: string;
  readonly action: 'allow' | 'deny';
  readonly sources: readonly SourceModel[];
  /** Destination service id. */
  readonly destination: string;
  /** Port names of the destination. Always explicit: the evaluator expands "all ports". */
  readonly ports: readonly string[];
  /** Absent: any method. */
  readonly methods?: readonly HttpMethod[];
  /** Absent: any path. */
  readonly paths?: readonly PathMatch[];
  /** Absent: any headers. Every condition must hold; sorted by name, one per name. */
  readonly headers?: readonly HeaderCondition[];
  /** The mesh object's name the user kept (an imported policy's); absent: targets derive one. */
  readonly name?: string;
  /** Warnings this rule causes that the user accepted. */
  readonly acknowledge?: AcknowledgementsModel;
  readonly location?: SourceLocation;
}

/** Who an assertion is about: a rule source, plaintext clients, or every caller outside a namespace. */
export type CallerModel =
  | Exclude<SourceModel, RequestIdentitySourceModel>
  /** A client whose IP is in any of the blocks (`ipBlocks(a, b, ...)` in an assertion). */
  | { readonly kind: 'ipBlocks'; readonly cidrs: readonly string[] }
  | { readonly kind: 'plaintext' }
  | { readonly kind: 'outside'; readonly namespace: string };

/** A statement about access the user wants proved (`policyc verify`). */
export interface AssertionModel {
  readonly expect: 'reaches' | 'neverReaches';
  readonly from: CallerModel;
  readonly to: { readonly kind: 'service'; readonly service: string } | { readonly kind: 'namespace'; readonly namespace: string };
  /** Port name of the destination service. */
  readonly port?: string;
  readonly method?: HttpMethod;
  /** A concrete request path. */
  readonly path?: string;
  readonly location?: SourceLocation;
}

export interface PolicyModel {
  readonly version: typeof MODEL_VERSION;
  /** The entry file, relative to the project root. */
  readonly entry: string;
  readonly mesh: MeshSettings;
  /** Sorted by name. Every namespace of a service is present. */
  readonly namespaces: readonly NamespaceModel[];
  /** Sorted by id. */
  readonly services: readonly ServiceModel[];
  /** Sorted by (destination, action, id). */
  readonly rules: readonly RuleModel[];
  /** In declaration order; they do not change what targets emit. */
  readonly assertions?: readonly AssertionModel[];
  /** The JWT issuers the rules' request identities name, sorted by issuer. */
  readonly jwtIssuers?: readonly JwtIssuerModel[];
}

/** The mTLS mode in force on one port: port, then service, then namespace, then mesh. */
export function effectiveMtls(model: PolicyModel, service: ServiceModel, port: PortModel): MtlsMode {
  // Istio applies no PeerAuthentication to gateway pods: their callers arrive without a mesh identity.
  if (service.gateway !== undefined) return 'DISABLE';
  return port.mtls ?? service.mtls ?? namespaceMtls(model, service.namespace);
}

/** The mTLS mode a namespace's workloads get unless they override it. */
export function namespaceMtls(model: PolicyModel, namespaceName: string): MtlsMode {
  return model.namespaces.find((ns) => ns.name === namespaceName)?.mtls ?? model.mesh.mtls;
}

/** What a request to the port gets when no rule allows it: port, then service, then namespace, then mesh. */
export function effectiveDefaultAction(model: PolicyModel, service: ServiceModel, port: PortModel): DefaultAction {
  return port.defaultAction ?? service.defaultAction ?? namespaceDefaultAction(model, service.namespace);
}

/** The defaultAction a namespace's workloads get unless they override it. */
export function namespaceDefaultAction(model: PolicyModel, namespaceName: string): DefaultAction {
  return model.namespaces.find((ns) => ns.name === namespaceName)?.defaultAction ?? model.mesh.defaultAction;
}

/** Whether a service's authorization is enforced or audited: service, then namespace; 'enforce' by default. */
export function effectiveEnforcement(model: PolicyModel, service: ServiceModel): Enforcement {
  return service.enforcement ?? namespaceEnforcement(model, service.namespace);
}

/** Whether a namespace's authorization is enforced or audited (its services may override it). */
export function namespaceEnforcement(model: PolicyModel, namespaceName: string): Enforcement {
  return model.namespaces.find((ns) => ns.name === namespaceName)?.enforcement ?? 'enforce';
}

/** Which namespaces the model governs: every one ('mesh') or only its own ('namespaces'). */
export function policyScope(model: PolicyModel): PolicyScope {
  return model.mesh.scope ?? 'mesh';
}

/** Whether the port's protocol carries HTTP requests (so methods and paths can be matched). */
export function isHttpProtocol(protocol: Protocol): boolean {
  return protocol !== 'tcp';
}

/** Whether a port accepts plaintext clients, which carry no identity. */
export function acceptsPlaintext(mode: MtlsMode): boolean {
  return mode !== 'STRICT';
}

/** Whether a port can verify a client identity at all. */
export function hasPeerIdentity(mode: MtlsMode): boolean {
  return mode !== 'DISABLE';
}

/**
 * Services by id, for lookups inside loops over rules. When an id is declared twice (an error the validator
 * reports), the first declaration is the one rules refer to, so the duplicate is the only error.
 */
export function servicesById(model: Pick<PolicyModel, 'services'>): ReadonlyMap<string, ServiceModel> {
  const byId = new Map<string, ServiceModel>();
  for (const service of model.services) if (!byId.has(service.id)) byId.set(service.id, service);
  return byId;
}

/** The user's path pattern (`/a` exact, `/a/*` prefix) as a match. */
export function pathMatchOf(pattern: string): PathMatch {
  return pattern.endsWith('*') ? { kind: 'prefix', value: pattern.slice(0, -1) } : { kind: 'exact', value: pattern };
}

/** A path match as the user writes it: `/a` exact, `/a/*` prefix (the inverse of `pathMatchOf`). */
export function pathText(match: PathMatch): string {
  return match.kind === 'prefix' ? `${match.value}*` : match.value;
}

/** Does the request path (query already stripped) match? */
export function pathMatches(match: PathMatch, path: string): boolean {
  return match.kind === 'exact' ? path === match.value : path.startsWith(match.value);
}

/** Does a request header (absent: undefined) satisfy the match? */
export function headerMatches(match: HeaderMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (match.kind) {
    case 'exact':
      return value === match.value;
    case 'prefix':
      return value.startsWith(match.value);
    case 'present':
      return true;
    default:
      return match satisfies never;
  }
}

/** A header match as the DSL writes it: `exact('v')`, `prefix('v')`, `present`. */
export function headerMatchText(match: HeaderMatch): string {
  return match.kind === 'present' ? 'present' : `${match.kind}(${JSON.stringify(match.value)})`;
}

/** The issuers whose tokens a destination validates: those its rules' request identities name, sorted. */
export function tokenIssuersAt(model: Pick<PolicyModel, 'rules'>, destination: string): string[] {
  const issuers = new Set<string>();
  for (const rule of model.rules) {
    if (rule.destination !== destination) continue;
    for (const source of rule.sources) if (source.kind === 'requestIdentity') issuers.add(source.issuer);
  }
  return [...issuers].sort();
}
