import type {
  Acknowledgements,
  DeclarationSite,
  DefaultAction,
  Enforcement,
  HeaderName,
  HttpMethod,
  MtlsMode,
  PathPattern,
  PolicyScope,
  Protocol,
} from './types';

/**
 * Inside policyc's evaluator, the site reader it hands to the DSL's bundle (a parameter of the bundle's
 * wrapper, so policy code cannot reach it): it captures the caller of `builder` in a private realm and returns
 * the frame's file name, or undefined; `line()` and `column()` then read that frame's position. Only
 * primitives come back, so no call site or object of that realm reaches the DSL's values. Undefined elsewhere.
 */
declare const policycSiteOf: { (builder: Function): string | undefined; line(): number; column(): number } | undefined;

/**
 * Records where the caller of `builder` stands in the policy source. V8 call sites are structured data,
 * so no stack text is parsed. Outside policyc (plain Node) this still works and costs a few microseconds.
 * Inside policyc's evaluator `Error.prepareStackTrace` is frozen (policy code must never see call sites), so
 * the evaluator's site reader is used instead; its frames name synthetic module files (`policyc-module-<n>`).
 */
function declarationSite(builder: Function): DeclarationSite | undefined {
  if (typeof policycSiteOf === 'function') {
    try {
      const file = policycSiteOf(builder);
      return file === undefined ? undefined : { file, line: policycSiteOf.line(), column: policycSiteOf.column() };
    } catch {
      // Only an exhausted stack gets here. V8 makes that error in the calling realm today; should one ever come
      // from the reader's realm, policy code must not catch it (its intrinsics are not frozen): this realm's instead.
      throw new RangeError('Maximum call stack size exceeded');
    }
  }
  // A host that froze the hook without handing a reader: no site rather than a failed assignment.
  if (Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace')?.writable === false) return undefined;
  const holder: { stack?: unknown } = {};
  const previousPrepare = Error.prepareStackTrace;
  const previousLimit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 1;
    Error.prepareStackTrace = (_error, frames) => frames;
    Error.captureStackTrace(holder, builder);
    const frames = holder.stack as NodeJS.CallSite[] | undefined;
    const frame = frames?.[0];
    const file = frame?.getFileName();
    const line = frame?.getLineNumber();
    const column = frame?.getColumnNumber();
    if (file === undefined || file === null || line == null || column == null) return undefined;
    return { file, line, column };
  } finally {
    Error.prepareStackTrace = previousPrepare;
    Error.stackTraceLimit = previousLimit;
  }
}

function withSite<T extends object>(value: T, site: DeclarationSite | undefined): T {
  return site === undefined ? value : { ...value, site };
}

// ---------------------------------------------------------------------------------------------------------------
// Namespaces

/**
 * A Kubernetes namespace. Create with {@link namespace}.
 *
 * @example
 * const shop: Namespace<'shop'> = namespace('shop');
 */
export interface Namespace<TName extends string = string> {
  readonly kind: 'namespace';
  readonly name: TName;
  /** Overrides the mesh-wide mTLS mode for every workload in this namespace. */
  readonly mtls?: MtlsMode;
  /** Overrides the mesh's defaultAction for every workload in this namespace. */
  readonly defaultAction?: DefaultAction;
  /** Audits instead of enforcing authorization in this namespace. */
  readonly enforcement?: Enforcement;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Options of {@link namespace}.
 *
 * @example
 * const options: NamespaceOptions = { mtls: 'PERMISSIVE' };
 */
export interface NamespaceOptions {
  /**
   * mTLS mode of every workload in the namespace, unless a service or port overrides it.
   * @default the mesh's mode
   */
  readonly mtls?: MtlsMode;
  /**
   * What happens to a request no rule allows, for every workload in the namespace unless a service or port overrides it.
   * @default the mesh's defaultAction
   */
  readonly defaultAction?: DefaultAction;
  /**
   * `audit`: requests the policy would deny in this namespace are allowed and reported, not refused (a gradual rollout).
   * @default 'enforce'
   */
  readonly enforcement?: Enforcement;
}

/**
 * Declares a namespace. As a rule source, it stands for every workload identity in that namespace.
 *
 * @example
 * const shop = namespace('shop');
 * const legacy = namespace('legacy', { mtls: 'PERMISSIVE', defaultAction: 'allow' });
 * const adopting = namespace('orders', { mtls: 'PERMISSIVE', enforcement: 'audit' });
 * allow(shop).to(payments, { ports: ['grpc'] });
 */
export function namespace<const TName extends string>(name: TName, options: NamespaceOptions = {}): Namespace<TName> {
  const site = declarationSite(namespace);
  return withSite(
    {
      kind: 'namespace' as const,
      name,
      ...(options.mtls === undefined ? {} : { mtls: options.mtls }),
      ...(options.defaultAction === undefined ? {} : { defaultAction: options.defaultAction }),
      ...(options.enforcement === undefined ? {} : { enforcement: options.enforcement }),
    },
    site,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Services

/**
 * A named port of a service: the container port number the workload listens on, and what it speaks.
 *
 * @example
 * const http: PortSpec = { port: 8080, protocol: 'http' };
 * const metrics: PortSpec = { port: 9102, protocol: 'http', mtls: 'PERMISSIVE' };
 * const health: PortSpec = { port: 8081, protocol: 'http', defaultAction: 'allow', acknowledge: { PC4106: 'kubelet only' } };
 */
export interface PortSpec {
  /** The container (target) port, 1–65535: meshes enforce policy on the port the pod listens on, not the Service port. */
  readonly port: number;
  /** What the port speaks. */
  readonly protocol: Protocol;
  /**
   * mTLS mode of this port only.
   * @default the service's mode
   */
  readonly mtls?: MtlsMode;
  /**
   * The kubelet probes the pod spec runs against this port. The kubelet is a plaintext client from the node
   * (probe) networks: it may GET each HTTP probe path, or connect for a TCP probe, on STRICT ports too, and no
   * other caller gets a probe path unless a rule allows it (see `mesh({ probeNetworks })` for Linkerd).
   * @example
   * const http: PortSpec = { port: 8080, protocol: 'http', probes: { readiness: { path: '/healthz' }, liveness: { path: '/livez' } } };
   * @default no probes
   */
  readonly probes?: PortProbes;
  /**
   * What happens to a request to this port that no rule allows.
   * @default the service's defaultAction
   */
  readonly defaultAction?: DefaultAction;
  /**
   * Warnings about this port that are accepted, by code, each with its reason.
   * @default {}
   */
  readonly acknowledge?: Acknowledgements;
}

/**
 * One kubelet probe: an HTTP GET on an exact path (`httpGet` in the pod spec; HTTP ports only), or a TCP
 * connection (`tcpSocket`).
 *
 * @example
 * const readiness: Probe = { path: '/healthz' };
 * const liveness: Probe = { tcp: true };
 */
export type Probe = { readonly path: `/${string}`; readonly tcp?: never } | { readonly tcp: true; readonly path?: never };

/**
 * The probes of one port, by kind, as in the pod spec.
 *
 * @example
 * const probes: PortProbes = { readiness: { path: '/ready' }, liveness: { path: '/livez' }, startup: { tcp: true } };
 */
export interface PortProbes {
  /** `readinessProbe`. */
  readonly readiness?: Probe;
  /** `livenessProbe`. */
  readonly liveness?: Probe;
  /** `startupProbe`. */
  readonly startup?: Probe;
}

/**
 * A workload (a Deployment's pods) in the mesh. Create with {@link service}.
 *
 * @example
 * const checkout: Service<'checkout', { http: { port: 8080; protocol: 'http' } }> =
 *   service(shop, 'checkout', { ports: { http: { port: 8080, protocol: 'http' } } });
 */
export interface Service<TName extends string = string, TPorts extends Readonly<Record<string, PortSpec>> = Readonly<Record<string, PortSpec>>> {
  readonly kind: 'service';
  readonly namespace: Namespace;
  readonly name: TName;
  /** The Kubernetes service account the pods run as: their mesh identity. */
  readonly serviceAccount: string;
  /** Pod labels that select this workload's pods. */
  readonly selector: Readonly<Record<string, string>>;
  readonly ports: TPorts;
  readonly mtls?: MtlsMode;
  readonly defaultAction?: DefaultAction;
  readonly enforcement?: Enforcement;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Any declared service, whatever its ports.
 *
 * @example
 * const all: readonly AnyService[] = [checkout, payments];
 */
export type AnyService = Service<string, Readonly<Record<string, PortSpec>>>;

/**
 * Options of {@link service}.
 *
 * @example
 * const options: ServiceOptions<{ http: { port: 8080; protocol: 'http' } }> = {
 *   serviceAccount: 'web-sa',
 *   ports: { http: { port: 8080, protocol: 'http' } },
 * };
 */
export interface ServiceOptions<TPorts extends Readonly<Record<string, PortSpec>>> {
  /** Named ports. A rule narrows to ports by these names. */
  readonly ports: TPorts;
  /**
   * The service account the pods run as.
   * @default the service name
   */
  readonly serviceAccount?: string;
  /**
   * Pod labels that select exactly this workload's pods.
   * @default { app: <name> }
   */
  readonly selector?: Readonly<Record<string, string>>;
  /**
   * mTLS mode of every port of this service, unless a port overrides it.
   * @default the namespace's mode
   */
  readonly mtls?: MtlsMode;
  /**
   * What happens to a request to this service that no rule allows, unless a port overrides it.
   * @default the namespace's defaultAction
   */
  readonly defaultAction?: DefaultAction;
  /**
   * `audit`: requests the policy would deny to this service are allowed and reported, not refused.
   * @default the namespace's enforcement
   */
  readonly enforcement?: Enforcement;
}

/**
 * Declares a workload: its namespace, name, identity, pod selector and named ports.
 *
 * @example
 * export const payments = service(shop, 'payments', {
 *   serviceAccount: 'payments-sa',
 *   ports: {
 *     grpc: { port: 9090, protocol: 'grpc' },
 *     metrics: { port: 9102, protocol: 'http', mtls: 'PERMISSIVE' },
 *   },
 * });
 */
export function service<const TName extends string, const TPorts extends Readonly<Record<string, PortSpec>>>(
  inNamespace: Namespace,
  name: TName,
  options: ServiceOptions<TPorts>,
): Service<TName, TPorts> {
  const site = declarationSite(service);
  return withSite(
    {
      kind: 'service' as const,
      namespace: inNamespace,
      name,
      serviceAccount: options.serviceAccount ?? name,
      selector: options.selector ?? { app: name },
      ports: options.ports,
      ...(options.mtls === undefined ? {} : { mtls: options.mtls }),
      ...(options.defaultAction === undefined ? {} : { defaultAction: options.defaultAction }),
      ...(options.enforcement === undefined ? {} : { enforcement: options.enforcement }),
    },
    site,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Gateways

/**
 * Which gateway: `istio-ingress` is Istio's ingress gateway deployment (pods labelled `istio: ingressgateway`, service
 * account `istio-ingressgateway-service-account`); `gateway-api` the pods a Gateway API `Gateway` deploys (labelled
 * `gateway.networking.k8s.io/gateway-name: <name>`, service account `<name>-istio` with Istio's gateway class).
 *
 * @example
 * const kind: GatewayKind = 'istio-ingress';
 */
export type GatewayKind = 'istio-ingress' | 'gateway-api';

/**
 * A gateway: its own proxy, not a sidecar. It can call services and be the destination of rules; PeerAuthentication
 * does not apply to its pods, so its callers never carry a mesh identity. Create with {@link gateway}.
 *
 * @example
 * const ingress: AnyGateway = gateway(istioSystem, 'istio-ingressgateway', { kind: 'istio-ingress', ports: { http: { port: 8080, protocol: 'http' } } });
 */
export interface Gateway<TName extends string = string, TPorts extends Readonly<Record<string, PortSpec>> = Readonly<Record<string, PortSpec>>> extends Service<
  TName,
  TPorts
> {
  readonly gateway: { readonly kind: GatewayKind; readonly numTrustedProxies: number };
}

/**
 * Any declared gateway, whatever its ports.
 *
 * @example
 * const gateways: readonly AnyGateway[] = [ingress];
 */
export type AnyGateway = Gateway<string, Readonly<Record<string, PortSpec>>>;

/**
 * Options of {@link gateway}.
 *
 * @example
 * const options: GatewayOptions<{ http: { port: 8080; protocol: 'http' } }> = { kind: 'gateway-api', numTrustedProxies: 1, ports: { http: { port: 8080, protocol: 'http' } } };
 */
export interface GatewayOptions<TPorts extends Readonly<Record<string, PortSpec>>> {
  readonly kind: GatewayKind;
  /** The ports the gateway's pods listen on. */
  readonly ports: TPorts;
  /**
   * How many proxies (load balancers) in front of the gateway append to X-Forwarded-For; {@link remoteIpBlocks}
   * reads the client address that many entries from the right (Istio `numTrustedProxies`).
   * @default 0
   */
  readonly numTrustedProxies?: number;
  /**
   * The service account the gateway's pods run as.
   * @default 'istio-ingressgateway-service-account' (istio-ingress), '<name>-istio' (gateway-api)
   */
  readonly serviceAccount?: string;
  /**
   * Labels of the gateway's pods.
   * @default { istio: 'ingressgateway' } (istio-ingress), { 'gateway.networking.k8s.io/gateway-name': <name> } (gateway-api)
   */
  readonly selector?: Readonly<Record<string, string>>;
}

/**
 * Declares a gateway: an Istio ingress gateway or a Gateway API gateway's pods.
 *
 * @example
 * const ingress = gateway(namespace('istio-system'), 'istio-ingressgateway', {
 *   kind: 'istio-ingress',
 *   numTrustedProxies: 1,
 *   ports: { http: { port: 8080, protocol: 'http' } },
 * });
 * allow(remoteIpBlocks('203.0.113.0/24')).to(ingress, { ports: ['http'] });
 */
export function gateway<const TName extends string, const TPorts extends Readonly<Record<string, PortSpec>>>(
  inNamespace: Namespace,
  name: TName,
  options: GatewayOptions<TPorts>,
): Gateway<TName, TPorts> {
  const site = declarationSite(gateway);
  const istio = options.kind === 'istio-ingress';
  return withSite(
    {
      kind: 'service' as const,
      namespace: inNamespace,
      name,
      serviceAccount: options.serviceAccount ?? (istio ? 'istio-ingressgateway-service-account' : `${name}-istio`),
      selector: options.selector ?? (istio ? { istio: 'ingressgateway' } : { 'gateway.networking.k8s.io/gateway-name': name }),
      ports: options.ports,
      gateway: { kind: options.kind, numTrustedProxies: options.numTrustedProxies ?? 0 },
    },
    site,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Sources

/**
 * A SPIFFE ID: `spiffe://<trust domain>/<path>`, the identity a workload's certificate carries.
 *
 * @example
 * const billing: SpiffeId = 'spiffe://example.org/ns/billing/sa/billing';
 */
export type SpiffeId = `spiffe://${string}`;

/**
 * Clients whose source IP is in one of the blocks. Create with {@link ipBlocks}.
 *
 * @example
 * const office: IpBlocks = ipBlocks('10.0.0.0/8');
 */
export interface IpBlocks {
  readonly kind: 'ipBlocks';
  readonly cidrs: readonly string[];
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Callers named by identity alone: a declared service or namespace, {@link identity}, {@link spiffe},
 * {@link trustDomain} or {@link authenticated}. The first argument of {@link both}.
 *
 * @example
 * const callers: readonly IdentitySource[] = [checkout, shop, spiffe('spiffe://example.org/vm/billing'), authenticated];
 */
export type IdentitySource = AnyService | Namespace | { readonly kind: 'authenticated' } | IdentityPeer | SpiffePeer | TrustDomainPeer;

/**
 * The original client addresses of requests through a gateway. Create with {@link remoteIpBlocks}; only a rule
 * whose destination is a {@link gateway} accepts it.
 *
 * @example
 * const partners: RemoteIpBlocks = remoteIpBlocks('203.0.113.0/24');
 */
export interface RemoteIpBlocks {
  readonly kind: 'remoteIpBlocks';
  readonly cidrs: readonly string[];
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * A caller that is not one declared service or namespace. Create with {@link anyone}, {@link authenticated},
 * {@link ipBlocks}, {@link identity}, {@link spiffe}, {@link trustDomain}, {@link both} or {@link remoteIpBlocks}.
 *
 * @example
 * const callers: readonly PeerSource[] = [authenticated, ipBlocks('10.0.0.0/8'), identity('ingress', 'gateway')];
 */
export type PeerSource =
  { readonly kind: 'anyone' } | { readonly kind: 'authenticated' } | IpBlocks | IdentityPeer | SpiffePeer | TrustDomainPeer | BothPeer | RemoteIpBlocks;

/**
 * An undeclared Kubernetes identity. Create with {@link identity}.
 *
 * @example
 * const gatewayIdentity: IdentityPeer = identity('istio-system', 'istio-ingressgateway-service-account');
 */
export interface IdentityPeer {
  readonly kind: 'identity';
  readonly namespace: string;
  readonly serviceAccount: string;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * A workload by SPIFFE ID. Create with {@link spiffe}.
 *
 * @example
 * const billing: SpiffePeer = spiffe('spiffe://example.org/vm/billing');
 */
export interface SpiffePeer {
  readonly kind: 'spiffe';
  readonly id: SpiffeId;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Every identity of a trust domain. Create with {@link trustDomain}.
 *
 * @example
 * const old: TrustDomainPeer = trustDomain('old.example.org');
 */
export interface TrustDomainPeer {
  readonly kind: 'trustDomain';
  readonly trustDomain: string;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * An identity that must also come from a network. Create with {@link both}.
 *
 * @example
 * const fromOffice: BothPeer = both(checkout, ipBlocks('10.0.0.0/8'));
 */
export interface BothPeer {
  readonly kind: 'both';
  readonly identity: IdentitySource;
  readonly network: IpBlocks;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Everything a rule can name as its caller: declared services, declared namespaces, and peers.
 *
 * @example
 * const from: readonly Source[] = [checkout, monitoring, authenticated];
 */
export type Source = AnyService | Namespace | PeerSource | RequestIdentity;

/**
 * Any client at all, including plaintext clients outside the mesh. Only meaningful on ports that accept
 * plaintext (`PERMISSIVE` or `DISABLE`); on a `STRICT` port it means any mesh identity.
 *
 * @example
 * deny(anyone).to(payments, { ports: ['metrics'], paths: ['/debug/*'] });
 */
export const anyone: { readonly kind: 'anyone' } = { kind: 'anyone' };

/**
 * Any client that presents a mesh identity (mutual TLS), whatever its namespace or service account.
 *
 * @example
 * allow(authenticated).to(frontend, { ports: ['http'] });
 */
export const authenticated: { readonly kind: 'authenticated' } = { kind: 'authenticated' };

/**
 * Clients whose source IP is in one of these blocks (IPv4 or IPv6 CIDR, or a single address), with or without
 * a mesh identity.
 *
 * @example
 * allow(ipBlocks('10.0.0.0/8', '192.168.1.10')).to(frontend, { ports: ['http'] });
 */
export function ipBlocks(...cidrs: readonly [string, ...string[]]): IpBlocks {
  const site = declarationSite(ipBlocks);
  return withSite({ kind: 'ipBlocks' as const, cidrs }, site);
}

/**
 * A mesh identity that is not declared in this repository: a service account in a namespace.
 *
 * @example
 * const gateway = identity('istio-system', 'istio-ingressgateway-service-account');
 * allow(gateway).to(frontend, { ports: ['http'] });
 */
export function identity(inNamespace: string, serviceAccount: string): IdentityPeer {
  const site = declarationSite(identity);
  return withSite({ kind: 'identity' as const, namespace: inNamespace, serviceAccount }, site);
}

/**
 * A workload by its SPIFFE ID: one outside Kubernetes (a VM), or one in another trust domain. A SPIFFE ID that is
 * not a URI `spiffe://<trust domain>/<path>` is a type error here and an error of `policyc build`.
 *
 * @example
 * allow(spiffe('spiffe://example.org/vm/billing')).to(payments, { ports: ['grpc'] });
 */
export function spiffe(id: SpiffeId): SpiffePeer {
  const site = declarationSite(spiffe);
  return withSite({ kind: 'spiffe' as const, id }, site);
}

/**
 * Every identity of a trust domain, for example the old one during a trust-domain migration.
 *
 * @example
 * allow(trustDomain('old.example.org')).to(payments, { ports: ['grpc'] });
 */
export function trustDomain(name: string): TrustDomainPeer {
  const site = declarationSite(trustDomain);
  return withSite({ kind: 'trustDomain' as const, trustDomain: name }, site);
}

/**
 * Callers that match the identity AND come from one of the networks: both must hold.
 *
 * @example
 * allow(both(checkout, ipBlocks('10.0.0.0/8'))).to(payments, { ports: ['grpc'] });
 */
export function both(identitySource: IdentitySource, network: IpBlocks): BothPeer {
  const site = declarationSite(both);
  return withSite({ kind: 'both' as const, identity: identitySource, network }, site);
}

/**
 * The original client address of a request through a gateway (X-Forwarded-For, read as the gateway's
 * `numTrustedProxies` says), not the address of the last proxy. Only a rule to a {@link gateway} accepts it.
 *
 * @example
 * allow(remoteIpBlocks('203.0.113.0/24')).to(ingress, { ports: ['http'] });
 */
export function remoteIpBlocks(...cidrs: readonly [string, ...string[]]): RemoteIpBlocks {
  const site = declarationSite(remoteIpBlocks);
  return withSite({ kind: 'remoteIpBlocks' as const, cidrs }, site);
}

// ---------------------------------------------------------------------------------------------------------------
// Well-known peers: typed values for the platform's own callers

/**
 * A Prometheus server that scrapes your applications' metrics ports, named by the service account its pods run as.
 * It is an {@link identity}: a rule with it compiles on every target like any identity (Istio `principals`, Linkerd
 * a `ServiceAccount` ref), so Prometheus must run in the mesh (with a sidecar / proxy) to present it. A Prometheus
 * outside the mesh scrapes in plaintext: allow its addresses with {@link ipBlocks} on a PERMISSIVE metrics port.
 * kube-prometheus runs as `monitoring/prometheus-k8s`; Istio's sample addon as `istio-system/prometheus`.
 *
 * @example
 * const scraper = prometheus('monitoring', 'prometheus-k8s');
 * allow(scraper).to(api, { ports: ['metrics'], methods: ['GET'], paths: ['/metrics'] });
 */
export function prometheus(inNamespace: string, serviceAccount: string): IdentityPeer {
  const site = declarationSite(prometheus);
  return withSite({ kind: 'identity' as const, namespace: inNamespace, serviceAccount }, site);
}

/**
 * linkerd-viz's own Prometheus (service account `prometheus` of the linkerd-viz namespace), which scrapes every
 * proxy's admin port. Linkerd only: it is accepted in `mesh({ linkerd: { proxyAdmin: { scrapedBy } } })` and nowhere
 * else (as a rule's source it is a type error), so it never reaches another mesh's output. Create with
 * {@link linkerdVizPrometheus}.
 *
 * @example
 * const viz: LinkerdVizPeer = linkerdVizPrometheus();
 */
export interface LinkerdVizPeer {
  readonly kind: 'linkerdViz';
  readonly component: 'prometheus';
  /** The namespace linkerd-viz is installed in. */
  readonly namespace: string;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * linkerd-viz's Prometheus, the scraper `linkerd viz allow-scrapes` authorizes: identity
 * `prometheus.<namespace>.serviceaccount.identity.<control plane>.<trust domain>`.
 *
 * @example
 * mesh({ linkerd: { proxyAdmin: { scrapedBy: [linkerdVizPrometheus()] } }, services: [], rules: [] });
 * mesh({ linkerd: { proxyAdmin: { scrapedBy: [linkerdVizPrometheus({ namespace: 'viz' })] } }, services: [], rules: [] });
 * @default namespace 'linkerd-viz'
 */
export function linkerdVizPrometheus(options: { readonly namespace?: string } = {}): LinkerdVizPeer {
  const site = declarationSite(linkerdVizPrometheus);
  return withSite({ kind: 'linkerdViz' as const, component: 'prometheus' as const, namespace: options.namespace ?? 'linkerd-viz' }, site);
}

/**
 * Who may scrape the Linkerd proxy admin port: linkerd-viz's Prometheus, another Prometheus by identity
 * ({@link prometheus}, {@link identity}, or a declared service), or a plaintext scraper by address ({@link ipBlocks}).
 *
 * @example
 * const scrapers: readonly ProxyAdminScraper[] = [linkerdVizPrometheus(), prometheus('monitoring', 'prometheus-k8s')];
 */
export type ProxyAdminScraper = AnyService | IdentityPeer | LinkerdVizPeer | IpBlocks;

/**
 * The Linkerd proxy admin port (4191, `linkerd-admin`): the proxy's own metrics (`/metrics`) and probes
 * (`/live`, `/ready`). Declared, policyc writes per namespace what `linkerd viz allow-scrapes` writes: a Server on
 * the admin port of every meshed pod, a route for GET `/metrics` authorized for `scrapedBy`, and a route for GET
 * `/live` and `/ready` authorized for the probe networks; everything else on that port is refused.
 *
 * @example
 * const admin: ProxyAdminOptions = { scrapedBy: [linkerdVizPrometheus()] };
 */
export interface ProxyAdminOptions {
  /** Who may GET `/metrics` on the admin port. */
  readonly scrapedBy: readonly [ProxyAdminScraper, ...ProxyAdminScraper[]];
}

/**
 * Settings only a Linkerd mesh has. Istio and ambient ignore them (their proxies have no such port and their
 * identities no control-plane namespace): a documented no-op, never emitted there.
 *
 * @example
 * const linkerd: LinkerdOptions = { controlPlaneNamespace: 'linkerd', proxyAdmin: { scrapedBy: [linkerdVizPrometheus()] } };
 */
export interface LinkerdOptions {
  /**
   * The namespace Linkerd's control plane is installed in: the `<cp>` of every identity
   * `<sa>.<ns>.serviceaccount.identity.<cp>.<trust domain>`. A DNS label.
   * @default 'linkerd'
   */
  readonly controlPlaneNamespace?: string;
  /**
   * Opens the proxy admin port to its scrapers and the kubelet, which `defaultAction: 'deny'` otherwise closes.
   * @default closed (warning PC4128 under default deny)
   */
  readonly proxyAdmin?: ProxyAdminOptions;
}

// ---------------------------------------------------------------------------------------------------------------
// Request identity (end-user JWT) and header conditions

/**
 * A JWT issuer and the keys that verify its tokens. Create with {@link jwtIssuer}; name it in
 * {@link requestIdentity}.
 *
 * @example
 * const accounts: JwtIssuer = jwtIssuer({ issuer: 'https://accounts.example.com', jwksUri: 'https://accounts.example.com/jwks.json' });
 */
export interface JwtIssuer {
  readonly kind: 'jwtIssuer';
  /** The `iss` claim of the issuer's tokens. */
  readonly issuer: string;
  readonly jwksUri?: string;
  readonly jwks?: string;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Options of {@link jwtIssuer}: the issuer, and where its keys are: a JWKS URL or an inline JWKS (JSON text).
 *
 * @example
 * const options: JwtIssuerOptions = { issuer: 'https://accounts.example.com', jwksUri: 'https://accounts.example.com/jwks.json' };
 */
export type JwtIssuerOptions =
  | { readonly issuer: string; readonly jwksUri: string; readonly jwks?: undefined }
  | { readonly issuer: string; readonly jwks: string; readonly jwksUri?: undefined };

/**
 * Declares a JWT issuer once, with its key set. A destination that a rule names with a {@link requestIdentity} of
 * this issuer validates every token it receives: an invalid token is refused (401) whatever the rules say; a request
 * without a token is not refused by that alone.
 *
 * @example
 * export const accounts = jwtIssuer({ issuer: 'https://accounts.example.com', jwksUri: 'https://accounts.example.com/.well-known/jwks.json' });
 */
export function jwtIssuer(options: JwtIssuerOptions): JwtIssuer {
  const site = declarationSite(jwtIssuer);
  return withSite(
    {
      kind: 'jwtIssuer' as const,
      issuer: options.issuer,
      ...(options.jwksUri === undefined ? {} : { jwksUri: options.jwksUri }),
      ...(options.jwks === undefined ? {} : { jwks: options.jwks }),
    },
    site,
  );
}

/**
 * An end user, by the JWT the request carries (not by the calling workload). Create with {@link requestIdentity}.
 * Only HTTP, HTTP/2 and gRPC ports see it.
 *
 * @example
 * const admins: RequestIdentity = requestIdentity(accounts, { claims: { role: 'admin' } });
 */
export interface RequestIdentity {
  readonly kind: 'requestIdentity';
  readonly issuer: JwtIssuer;
  readonly subject?: string;
  readonly claims?: Readonly<Record<string, string>>;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Requests that carry a valid JWT of `issuer`, with this subject (`sub`) and these claims (string values, equal)
 * when given. A request without a token never matches. Usable in `allow(...)` and `deny(...)`; the rule then
 * applies only to HTTP, HTTP/2 and gRPC ports.
 *
 * @example
 * allow(requestIdentity(accounts)).to(api, { ports: ['http'] });
 * allow(requestIdentity(accounts, { subject: 'alice', claims: { role: 'admin' } })).to(api, { ports: ['http'], paths: ['/admin/*'] });
 */
export function requestIdentity(
  issuer: JwtIssuer,
  options: { readonly subject?: string; readonly claims?: Readonly<Record<string, string>> } = {},
): RequestIdentity {
  const site = declarationSite(requestIdentity);
  return withSite(
    {
      kind: 'requestIdentity' as const,
      issuer,
      ...(options.subject === undefined ? {} : { subject: options.subject }),
      ...(options.claims === undefined ? {} : { claims: options.claims }),
    },
    site,
  );
}

/**
 * A condition on one request header's value. Create with {@link exact}, {@link prefix} or {@link present}.
 *
 * @example
 * const conditions: readonly HeaderCondition[] = [exact('admin'), prefix('prod-'), present];
 */
export type HeaderCondition =
  { readonly kind: 'headerExact'; readonly value: string } | { readonly kind: 'headerPrefix'; readonly value: string } | { readonly kind: 'headerPresent' };

/**
 * Header conditions of a rule: lower-case header name → condition. Every condition must hold.
 *
 * @example
 * const headers: HeaderConditions = { 'x-token': exact('admin'), 'x-env': prefix('prod-'), 'x-debug': present };
 */
export type HeaderConditions = { readonly [name: HeaderName]: HeaderCondition };

/**
 * The header's value is exactly `value` (case-sensitive; no `*`).
 *
 * @example
 * allow(web).to(api, { ports: ['http'], headers: { 'x-token': exact('admin') } });
 */
export function exact(value: string): HeaderCondition {
  return { kind: 'headerExact', value };
}

/**
 * The header's value starts with `value` (non-empty; no `*`).
 *
 * @example
 * allow(web).to(api, { ports: ['http'], headers: { 'x-env': prefix('prod-') } });
 */
export function prefix(value: string): HeaderCondition {
  return { kind: 'headerPrefix', value };
}

/**
 * The header is sent, whatever its value (even empty).
 *
 * @example
 * deny(anyone).to(api, { ports: ['http'], headers: { 'x-debug': present } });
 */
export const present: HeaderCondition = { kind: 'headerPresent' };

// ---------------------------------------------------------------------------------------------------------------
// Rules

/**
 * Whether a rule grants or refuses access.
 *
 * @example
 * const action: RuleAction = 'deny';
 */
export type RuleAction = 'allow' | 'deny';

/**
 * Who may (or may not) call which service, on which ports, methods and paths. Create with {@link allow} or {@link deny}.
 *
 * @example
 * const rule: AccessRule = allow(checkout).to(payments, { ports: ['grpc'], methods: ['POST'] });
 */
export interface AccessRule {
  readonly kind: 'rule';
  readonly action: RuleAction;
  readonly from: readonly Source[];
  readonly to: AnyService;
  /** Port names of the destination; absent means every port (every HTTP port when methods or paths are set). */
  readonly ports?: readonly string[];
  readonly methods?: readonly HttpMethod[];
  readonly paths?: readonly PathPattern[];
  /** Header conditions (lower-case names); every one must hold. */
  readonly headers?: HeaderConditions;
  /** The name of the mesh object the rule is written into, kept from an existing cluster policy (see {@link RuleBuilder}). */
  readonly name?: string;
  /** Warnings this rule causes that are accepted, by code, each with its reason. */
  readonly acknowledge?: Acknowledgements;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * The second half of a rule: `allow(...).to(destination, scope)`.
 *
 * @example
 * const fromCheckout: RuleBuilder = allow(checkout);
 * fromCheckout.to(payments, { ports: ['grpc'] });
 */
export interface RuleBuilder<TDestination extends AnyService = AnyService, THttpOnly extends boolean = boolean> {
  /**
   * Names the destination and, optionally, narrows the rule to some of its ports (by name), HTTP methods, paths and
   * header conditions. Methods, paths and headers (and a {@link requestIdentity} source) are only allowed together
   * with HTTP, HTTP/2 or gRPC ports. `name` keeps the name of the
   * cluster object the rule replaces (an Istio AuthorizationPolicy), so applying the output replaces that object
   * instead of adding one beside it; rules of one destination and action with the same name share that object.
   * `acknowledge` accepts warnings this rule causes, by code, each with its reason (they are then listed, not warned).
   *
   * @example
   * allow(checkout).to(payments, { ports: ['grpc'], methods: ['POST'], paths: ['/payments.v1.Payments/*'] });
   * allow(productpage).to(details, { methods: ['GET'], name: 'details-viewer' });
   * allow(web).to(api, { ports: ['http'], headers: { 'x-token': exact('admin'), 'x-debug': present } });
   * allow(kubelet).to(web, { ports: ['health'], acknowledge: { PC3020: 'probes carry no identity' } });
   */
  to<TTo extends TDestination>(destination: TTo, scope?: HttpScope<TTo> | (true extends THttpOnly ? never : AnyPortScope<TTo>)): AccessRule;
}

/**
 * The scope of a rule that sees HTTP (methods, paths, headers, or a request identity source): HTTP ports only.
 *
 * @example
 * const scope: HttpScope<typeof api> = { ports: ['http'], headers: { 'x-env': prefix('prod-') } };
 */
export interface HttpScope<TTo extends AnyService> {
  readonly ports?: readonly ({
    [K in keyof TTo['ports']]: TTo['ports'][K]['protocol'] extends 'tcp' ? never : K;
  }[keyof TTo['ports']] &
    string)[];
  readonly methods?: readonly HttpMethod[];
  readonly paths?: readonly PathPattern[];
  readonly headers?: HeaderConditions;
  readonly name?: string;
  readonly acknowledge?: Acknowledgements;
}

/**
 * The scope of a rule without HTTP conditions: any of the destination's ports.
 *
 * @example
 * const scope: AnyPortScope<typeof db> = { ports: ['sql'] };
 */
export interface AnyPortScope<TTo extends AnyService> {
  readonly ports?: readonly (keyof TTo['ports'] & string)[];
  readonly methods?: undefined;
  readonly paths?: undefined;
  readonly headers?: undefined;
  readonly name?: string;
  readonly acknowledge?: Acknowledgements;
}

/** Whether a source list names an end user's JWT, which only HTTP ports see. */
type NamesRequestIdentity<TFrom extends readonly Source[]> = RequestIdentity extends TFrom[number]
  ? true
  : TFrom[number] extends RequestIdentity
    ? true
    : false;

/**
 * The destinations a rule with these sources may name: only gateways when one of them is {@link remoteIpBlocks}
 * (the original client address exists only for traffic through a gateway).
 *
 * @example
 * const to: DestinationOf<[RemoteIpBlocks]> = ingress;
 */
export type DestinationOf<TFrom extends readonly Source[]> = true extends { [K in keyof TFrom]: TFrom[K] extends RemoteIpBlocks ? true : false }[number]
  ? AnyGateway
  : AnyService;

function ruleBuilder<TDestination extends AnyService, THttpOnly extends boolean>(
  action: RuleAction,
  from: readonly Source[],
): RuleBuilder<TDestination, THttpOnly> {
  const to: RuleBuilder<TDestination, THttpOnly>['to'] = (destination, scope) => {
    // The rule's site is the `.to(...)` call: several rules may share one `allow(...)`.
    const ruleSite = declarationSite(to);
    return withSite(
      {
        kind: 'rule' as const,
        action,
        from,
        to: destination,
        ...(scope?.ports === undefined ? {} : { ports: scope.ports }),
        ...(scope?.methods === undefined ? {} : { methods: scope.methods }),
        ...(scope?.paths === undefined ? {} : { paths: scope.paths }),
        ...(scope?.headers === undefined ? {} : { headers: scope.headers }),
        ...(scope?.name === undefined ? {} : { name: scope.name }),
        ...(scope?.acknowledge === undefined ? {} : { acknowledge: scope.acknowledge }),
      },
      ruleSite,
    );
  };
  return { to };
}

/**
 * Starts a rule that grants access to the given callers.
 *
 * @example
 * allow(checkout).to(payments, { ports: ['grpc'] });
 * allow(checkout, cart).to(payments);
 * allow(monitoring).to(payments, { ports: ['metrics'], methods: ['GET'], paths: ['/metrics'] });
 */
export function allow<const TFrom extends readonly [Source, ...Source[]]>(...from: TFrom): RuleBuilder<DestinationOf<TFrom>, NamesRequestIdentity<TFrom>> {
  return ruleBuilder('allow', from);
}

/**
 * Starts a rule that refuses access to the given callers, whatever any allow rule says.
 *
 * @example
 * deny(anyone).to(payments, { ports: ['metrics'], paths: ['/debug/*'] });
 */
export function deny<const TFrom extends readonly [Source, ...Source[]]>(...from: TFrom): RuleBuilder<DestinationOf<TFrom>, NamesRequestIdentity<TFrom>> {
  return ruleBuilder('deny', from);
}

// ---------------------------------------------------------------------------------------------------------------
// The mesh

/**
 * The whole policy: mesh settings, the services, and the rules. The default export of the entry file.
 *
 * @example
 * const policy: MeshPolicy = mesh({ services: [checkout, payments], rules: [] });
 */
export interface MeshPolicy {
  readonly kind: 'mesh';
  readonly trustDomain: string;
  readonly mtls: MtlsMode;
  readonly defaultAction: DefaultAction;
  readonly rootNamespace: string;
  readonly probeNetworks: readonly string[];
  readonly scope: PolicyScope;
  readonly everyMeshedNamespaceListed: boolean;
  readonly linkerd: { readonly controlPlaneNamespace: string; readonly proxyAdmin?: ProxyAdminOptions };
  readonly namespaces: readonly Namespace[];
  readonly services: readonly AnyService[];
  readonly rules: readonly AccessRule[];
  readonly assertions: readonly PolicyAssertion[];
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Options of {@link mesh}.
 *
 * @example
 * const options: MeshOptions = { mtls: 'STRICT', defaultAction: 'deny', services: [checkout], rules: [] };
 */
export interface MeshOptions {
  /**
   * The mesh's trust domain, the first part of every workload identity.
   * @default 'cluster.local'
   */
  readonly trustDomain?: string;
  /**
   * mTLS mode of every workload unless a namespace, service or port overrides it.
   * @default 'STRICT'
   */
  readonly mtls?: MtlsMode;
  /**
   * What happens to a request no rule allows.
   * @default 'deny'
   */
  readonly defaultAction?: DefaultAction;
  /**
   * Istio's root namespace, where mesh-wide policy lives.
   * @default 'istio-system'
   */
  readonly rootNamespace?: string;
  /**
   * The networks kubelet probes come from: your nodes' CIDRs. Linkerd authorizes a probe route by source
   * network (it cannot tell the kubelet from another plaintext client), so on Linkerd every client from these
   * networks may GET a declared probe path; Istio rewrites probes to its sidecar agent and ambient exempts the
   * kubelet, so neither uses them. The default is Linkerd's own `proxy.probeNetworks` default: everywhere.
   * @example
   * mesh({ probeNetworks: ['10.0.0.0/16'], services: [], rules: [] })
   * @default ['0.0.0.0/0', '::/0']
   */
  readonly probeNetworks?: readonly string[];
  /**
   * Which namespaces the policy governs: `mesh` (every namespace; mesh-wide objects are written) or `namespaces`
   * (only the declared ones; nothing is written outside them, so namespaces can adopt the policy one at a time).
   * @default 'mesh'
   */
  readonly scope?: PolicyScope;
  /**
   * Linkerd only: states that the declared namespaces (`namespaces` and the services' namespaces) are every meshed
   * namespace of the cluster. Linkerd has no mesh-wide policy object, so `scope: 'mesh'` compiles for Linkerd only
   * with this set (each listed namespace gets the mesh's posture).
   * @default false
   */
  readonly everyMeshedNamespaceListed?: boolean;
  /**
   * What only a Linkerd mesh has: its control-plane namespace, and who may scrape the proxy admin port.
   * @example
   * mesh({ linkerd: { controlPlaneNamespace: 'linkerd', proxyAdmin: { scrapedBy: [linkerdVizPrometheus()] } }, services: [], rules: [] })
   * @default { controlPlaneNamespace: 'linkerd' }
   */
  readonly linkerd?: LinkerdOptions;
  /**
   * Namespaces to manage even if no service is declared in them (the namespaces of the services are included anyway).
   * @default []
   */
  readonly namespaces?: readonly Namespace[];
  /** Every workload the policy governs. */
  readonly services: readonly AnyService[];
  /** Allow and deny rules, in any order: a deny always wins over an allow. */
  readonly rules: readonly AccessRule[];
  /**
   * What must always hold, proved by `policyc verify` on the model and on every target's output.
   * @default []
   */
  readonly assertions?: readonly PolicyAssertion[];
}

/**
 * Declares the mesh policy. Export it as the default export of the entry file.
 *
 * @example
 * export default mesh({
 *   mtls: 'STRICT',
 *   defaultAction: 'deny',
 *   services: [checkout, payments],
 *   rules: [allow(checkout).to(payments, { ports: ['grpc'] })],
 * });
 */
export function mesh(options: MeshOptions): MeshPolicy {
  const site = declarationSite(mesh);
  return withSite(
    {
      kind: 'mesh' as const,
      trustDomain: options.trustDomain ?? 'cluster.local',
      mtls: options.mtls ?? 'STRICT',
      defaultAction: options.defaultAction ?? 'deny',
      rootNamespace: options.rootNamespace ?? 'istio-system',
      probeNetworks: options.probeNetworks ?? ['0.0.0.0/0', '::/0'],
      scope: options.scope ?? 'mesh',
      everyMeshedNamespaceListed: options.everyMeshedNamespaceListed ?? false,
      linkerd: {
        controlPlaneNamespace: options.linkerd?.controlPlaneNamespace ?? 'linkerd',
        ...(options.linkerd?.proxyAdmin === undefined ? {} : { proxyAdmin: options.linkerd.proxyAdmin }),
      },
      namespaces: options.namespaces ?? [],
      services: options.services,
      rules: options.rules,
      assertions: options.assertions ?? [],
    },
    site,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Assertions: what must always hold, checked by `policyc verify` against the model and every target

/**
 * A client with no mesh identity (no sidecar), from any IP. Only usable in assertions.
 *
 * @example
 * neverReaches(plaintext, payments);
 */
export const plaintext: { readonly kind: 'plaintext' } = { kind: 'plaintext' };

/**
 * Every caller whose identity is not in the namespace, plaintext clients included. Only usable in assertions.
 *
 * @example
 * neverReaches(outside(shop), payments);
 */
export function outside(inNamespace: Namespace): { readonly kind: 'outside'; readonly namespace: Namespace } {
  return { kind: 'outside', namespace: inNamespace };
}

/**
 * Who an assertion is about: a service, every identity of a namespace, a peer, plaintext clients, or everyone outside a namespace.
 *
 * @example
 * const callers: readonly AssertionCaller[] = [checkout, shop, plaintext, outside(shop), authenticated];
 */
export type AssertionCaller = Exclude<Source, RequestIdentity> | typeof plaintext | ReturnType<typeof outside>;

/**
 * A statement about access that `policyc verify` proves on the model and on every target's emitted objects.
 * Create with {@link reaches} or {@link neverReaches}.
 *
 * @example
 * const always: PolicyAssertion = reaches(checkout, payments, { port: 'grpc', method: 'POST' });
 */
export interface PolicyAssertion {
  readonly kind: 'assertion';
  readonly expect: 'reaches' | 'neverReaches';
  readonly from: AssertionCaller;
  readonly to: AnyService | Namespace;
  readonly port?: string;
  readonly method?: HttpMethod;
  readonly path?: PathPattern;
  /** @internal */
  readonly site?: DeclarationSite;
}

/**
 * Asserts that the caller can make at least one such call (on the port, with the method and path when given).
 *
 * @example
 * reaches(checkout, payments, { port: 'grpc', method: 'POST', path: '/payments.v1.Payments/Charge' });
 */
export function reaches<TTo extends AnyService>(
  from: AssertionCaller,
  to: TTo,
  call: { readonly port?: keyof TTo['ports'] & string; readonly method?: HttpMethod; readonly path?: PathPattern } = {},
): PolicyAssertion {
  return withSite({ kind: 'assertion' as const, expect: 'reaches' as const, from, to, ...call }, declarationSite(reaches));
}

/**
 * Asserts that no such call by the caller is ever allowed: to the service (every port unless one is named), or to every
 * service of a namespace.
 *
 * @example
 * neverReaches(outside(shop), payments);
 * neverReaches(plaintext, shop);
 */
export function neverReaches<TTo extends AnyService | Namespace>(
  from: AssertionCaller,
  to: TTo,
  call: { readonly port?: TTo extends AnyService ? keyof TTo['ports'] & string : never; readonly method?: HttpMethod; readonly path?: PathPattern } = {},
): PolicyAssertion {
  return withSite({ kind: 'assertion' as const, expect: 'neverReaches' as const, from, to, ...call }, declarationSite(neverReaches));
}
