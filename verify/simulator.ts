/**
 * The contract of a mesh semantics simulator: decide one request the way the mesh would, reading only the
 * emitted Kubernetes objects (as a cluster receives them: parsed YAML) and the workloads' pod facts.
 * A simulator never imports target code: it is the independent check of the target.
 */

/** A manifest as the cluster receives it. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

/** What the cluster knows about a workload's pods (from its Deployment), not from policy. */
export interface Workload {
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
  /** The pod template's labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Declared container ports, with a name and the protocol the app speaks. */
  readonly ports: readonly { readonly name: string; readonly port: number; readonly protocol: 'http' | 'http2' | 'grpc' | 'tcp' }[];
  /**
   * Present when the pods are a gateway's own proxy (an Istio ingress gateway deployment, or the pods of a Gateway
   * API Gateway), not an application with a sidecar; `numTrustedProxies` is its proxy configuration.
   */
  readonly gateway?: { readonly kind: 'istio-ingress' | 'gateway-api'; readonly numTrustedProxies: number };
  /** The pod spec's kubelet probes: an httpGet (with its path) or a tcpSocket (no path), by container port. */
  readonly probes?: readonly { readonly port: number; readonly path?: string }[];
}

export interface SimulatedRequest {
  readonly client: {
    /** The workload identity its certificate carries, when it has a sidecar of this mesh's trust domain. */
    readonly identity?: { readonly namespace: string; readonly serviceAccount: string };
    /** The SPIFFE ID its certificate carries when it is not a workload of this mesh's trust domain (then `identity` is absent). */
    readonly spiffeId?: string;
    /** The client IP as the destination sees it. */
    readonly ip: string;
    /** The X-Forwarded-For addresses the request carries, leftmost first. */
    readonly forwardedFor?: readonly string[];
    /** The node itself (its kubelet running a probe of the pod spec), not a pod. */
    readonly node?: boolean;
  };
  readonly destination: Workload;
  /** Container port number. */
  readonly port: number;
  readonly method?: string;
  /** Path without query string. */
  readonly path?: string;
  /** Request headers as sent (names in any case). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The end-user JWT in the `Authorization: Bearer` header: its claims, and whether it is signed by a key of its
   * issuer's published key set and unexpired (a simulator cannot check signatures, so the request says).
   */
  readonly jwt?: {
    readonly iss: string;
    readonly sub: string;
    readonly claims: Readonly<Record<string, string>>;
    readonly signedByIssuer: boolean;
  };
}

export interface SimulatedDecision {
  /** `unsupported`: the simulator cannot model this case, and says so instead of guessing. */
  readonly verdict: 'allow' | 'deny' | 'unsupported';
  readonly reason: string;
  /** The objects that decided, as `Kind namespace/name`. */
  readonly objects: readonly string[];
}

export interface MeshSimulator {
  readonly name: string;
  decide(objects: readonly ManifestObject[], request: SimulatedRequest): SimulatedDecision;
}

/** The pod spec probe a request is, if any: a GET on an httpGet probe's path, or anything to a tcpSocket-probed port. */
export function podProbeOf(request: SimulatedRequest): { readonly port: number; readonly path?: string } | undefined {
  return (request.destination.probes ?? []).find(
    (p) => p.port === request.port && (p.path === undefined || (request.method === 'GET' && request.path === p.path)),
  );
}
