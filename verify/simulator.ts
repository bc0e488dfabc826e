/**
 * The contract of a mesh semantics simulator: decide one request the way the mesh would, reading only the
 * emitted Kubernetes objects (as a cluster receives them: parsed YAML) and the workloads' pod facts.
 * A simulator never imports target code: it is the independent check of the target.
 */
import type { DistinguishingValues } from '../model/request-space';

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

/** What a request carries besides its client: all `MeshSimulator.operationKey` may tell apart. */
export type SimulatedOperation = Pick<SimulatedRequest, 'method' | 'path' | 'headers' | 'jwt'>;

export interface SimulatedDecision {
  /** `unsupported`: the simulator cannot model this case, and says so instead of guessing. */
  readonly verdict: 'allow' | 'deny' | 'unsupported';
  readonly reason: string;
  /** The objects that decided, as `Kind namespace/name`. */
  readonly objects: readonly string[];
}

/**
 * What a simulator's objects can tell apart for requests to one port of one workload: every identity,
 * namespace, address block, method and path that an object able to apply there compares a request with
 * (an AuthorizationPolicy selecting the pod or its namespace, a root-namespace one, a Server selecting the
 * port and what authorizes it, the routes attached to it, a default policy's cluster networks, ...).
 * Catch-alls (`*`, any authenticated client, every address) need no value: the request space always probes
 * an outsider, a plaintext client and an address no block holds. A comparison of callers whose values cannot
 * be listed goes in `unlisted`, and the space then probes every declared caller and method; one of methods or
 * paths (a method wildcard, a path expression) goes in `unlistedOperations`, and the space probes every method.
 *
 * This is the simulator's half of the proof's completeness: `verify` probes each destination port only with
 * the values the model and every simulator name for it (model/request-space.ts), so a value an object
 * compares with but `distinctions` leaves out is a distinction the proof may miss. Report generously:
 * an extra value costs requests, a missing one costs soundness. A new request dimension is one more field
 * of `DistinguishingValues`, reported here by each simulator that reads it.
 */
export type Distinctions = DistinguishingValues;

export interface MeshSimulator {
  readonly name: string;
  /**
   * The port of the mesh proxy's own admin server in every workload, when the mesh's policy governs it (Linkerd:
   * 4191). `verify` probes that port where the model declares its grants (model.ts, 9.), and only on such meshes.
   */
  readonly proxyAdminPort?: number;
  decide(objects: readonly ManifestObject[], request: SimulatedRequest): SimulatedDecision;
  /** What the objects that can apply to `destination`'s pods on `port` tell apart (see `Distinctions`). */
  distinctions(objects: readonly ManifestObject[], destination: Workload, port: number): Distinctions;
  /**
   * A key for what this mesh sees of a client on one port, such that two clients with the same key are
   * decided alike on every request to that port (any method, any path): for each grant or rule that can
   * apply there, whether its caller part (identities, namespaces, addresses, plaintext or not) admits the
   * client. The verifier probes one client per combination of keys (the model's and every simulator's), and
   * each with every method and path: a grant admits a request when its caller part and its request part
   * both do, so the caller part is all a client can change.
   */
  clientKey(objects: readonly ManifestObject[], destination: Workload, port: number, client: SimulatedRequest['client']): string;
  /**
   * The request part's key, the mirror of `clientKey`: two operations (method, path, headers and JWT) with the
   * same key are decided alike for every client (which rules' `to` parts, header conditions and request
   * principals, which route, whether the token is refused before any rule). The verifier probes one operation
   * per combination of keys, so a key that leaves out a header or the token is a distinction the proof may miss.
   * A caller part that also reads the token (a source with request principals) is split between the two keys:
   * its peer and address fields in `clientKey`, its token fields here.
   */
  operationKey(objects: readonly ManifestObject[], destination: Workload, port: number, operation: SimulatedOperation): string;
}

/** The pod spec probe a request is, if any: a GET on an httpGet probe's path, or anything to a tcpSocket-probed port. */
export function podProbeOf(request: SimulatedRequest): { readonly port: number; readonly path?: string } | undefined {
  return (request.destination.probes ?? []).find(
    (p) => p.port === request.port && (p.path === undefined || (request.method === 'GET' && request.path === p.path)),
  );
}

/**
 * Thrown by a simulator for a case it does not model, or an object the cluster would refuse: the decision is
 * `unsupported`, with the reason and the objects involved, never a guess. One class for every simulator.
 */
export class Unsupported extends Error {
  constructor(
    message: string,
    readonly objects: readonly string[] = [],
  ) {
    super(message);
  }
}

/** `compute()`, or what `onUnsupported` makes of the `Unsupported` it threw; any other error propagates. */
export function orUnsupported<T>(compute: () => T, onUnsupported: (error: Unsupported) => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof Unsupported) return onUnsupported(error);
    throw error;
  }
}

/** The client or operation key of requests that are all `unsupported` for the same reason. */
export const unsupportedKey = (error: Unsupported): string => `unsupported ${error.message}`;
