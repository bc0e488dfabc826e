/**
 * What the names in a model stand for: the identity a service or a source names, a port name's number,
 * the rules of each destination, and which request constraints a port can see. The validator, the decision
 * function, the targets and the review features all resolve through here, so they cannot disagree.
 * (The simulators under verify/ do not: they are the independent check.)
 */
import type { HttpMethod, PolicyModel, PortModel, RuleModel, ServiceModel, SourceModel } from './model';

/** A workload identity: what a mesh certificate says about its holder. */
export interface WorkloadIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** The identity a declared service's pods carry: its namespace and service account. */
export function serviceIdentity(service: ServiceModel): WorkloadIdentity {
  return { namespace: service.namespace, serviceAccount: service.serviceAccount };
}

/**
 * The one identity a source names: a service's (undefined when the service is not declared) or an explicit
 * identity. Sources that name many identities (a namespace, `authenticated`) or none name no single one.
 */
export function sourceIdentity(source: SourceModel, services: ReadonlyMap<string, ServiceModel>): WorkloadIdentity | undefined {
  if (source.kind === 'identity') return { namespace: source.namespace, serviceAccount: source.serviceAccount };
  if (source.kind !== 'service') return undefined;
  const service = services.get(source.service);
  return service === undefined ? undefined : serviceIdentity(service);
}

/**
 * A peer identity as its certificate states it: a SPIFFE ID `spiffe://<trust domain>/<path>`, and the namespace
 * and service account when the path is a Kubernetes workload's (`ns/<namespace>/sa/<service account>`).
 */
export interface PeerIdentity {
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
}

const SPIFFE_ID = /^spiffe:\/\/([^/?#]+)(\/[^?#]*)?$/;
const KUBERNETES_PATH = /^\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** The SPIFFE ID of a Kubernetes workload identity. */
export function kubernetesSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** A SPIFFE ID read into its parts; undefined when it is not `spiffe://<trust domain>[/<path>]`. */
export function parseSpiffeId(id: string): PeerIdentity | undefined {
  const match = SPIFFE_ID.exec(id);
  if (match === null) return undefined;
  const trustDomain = match[1] as string;
  const workload = KUBERNETES_PATH.exec(match[2] ?? '');
  return workload === null
    ? { spiffeId: id, trustDomain }
    : { spiffeId: id, trustDomain, namespace: workload[1] as string, serviceAccount: workload[2] as string };
}

/** The peer identity of a workload identity in a trust domain. */
export function peerIdentity(trustDomain: string, identity: WorkloadIdentity): PeerIdentity {
  return { spiffeId: kubernetesSpiffeId(trustDomain, identity.namespace, identity.serviceAccount), trustDomain, ...identity };
}

/** The original client address a gateway sees (Envoy `xff_num_trusted_hops`, set by Istio's `numTrustedProxies`). */
export function remoteAddress(ip: string, forwardedFor: readonly string[] | undefined, numTrustedProxies: number): string {
  const list = forwardedFor ?? [];
  if (numTrustedProxies <= 0 || list.length < numTrustedProxies) return ip;
  return list[list.length - numTrustedProxies] as string;
}

export function sameIdentity(a: WorkloadIdentity | undefined, b: WorkloadIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.namespace === b.namespace && a.serviceAccount === b.serviceAccount;
}

/** The port a rule or assertion names; undefined when the service has no port of that name. */
export function portNamed(service: ServiceModel, name: string): PortModel | undefined {
  return service.ports.find((p) => p.name === name);
}

/** The port a request is sent to; undefined when the service does not declare that number. */
export function portNumbered(service: ServiceModel, port: number): PortModel | undefined {
  return service.ports.find((p) => p.port === port);
}

/** The numbers of the named ports, ascending; names the service does not declare are left out. */
export function portNumbers(service: ServiceModel, names: readonly string[]): number[] {
  return names
    .map((name) => portNamed(service, name)?.port)
    .filter((p): p is number => p !== undefined)
    .sort((a, b) => a - b);
}

/** The rules of each destination service id, each list in model order. */
export function rulesByDestination(rules: readonly RuleModel[]): Map<string, RuleModel[]> {
  const byDestination = new Map<string, RuleModel[]>();
  for (const rule of rules) {
    const list = byDestination.get(rule.destination);
    if (list === undefined) byDestination.set(rule.destination, [rule]);
    else list.push(rule);
  }
  return byDestination;
}

/** Each model's rules by destination, grouped once: the verifier and the review features ask for thousands of ports. */
const groupedRules = new WeakMap<PolicyModel, ReadonlyMap<string, readonly RuleModel[]>>();

/** The rules of one destination of a model, in model order (grouped once per model). */
export function rulesTo(model: PolicyModel, destination: string): readonly RuleModel[] {
  let grouped = groupedRules.get(model);
  if (grouped === undefined) {
    grouped = rulesByDestination(model.rules);
    groupedRules.set(model, grouped);
  }
  return grouped.get(destination) ?? [];
}

/**
 * Whether a rule narrows by method, path, header or request identity (JWT). Such a rule can only match on a
 * port that carries HTTP: the validator refuses it on a TCP port, so a target never has to handle that case again.
 */
export function narrowsRequests(rule: Pick<RuleModel, 'methods' | 'paths'> & Partial<Pick<RuleModel, 'headers' | 'sources'>>): boolean {
  return rule.methods !== undefined || rule.paths !== undefined || rule.headers !== undefined || (rule.sources ?? []).some((s) => s.kind === 'requestIdentity');
}

/** Every gRPC call is an HTTP/2 POST. */
export const GRPC_METHOD: HttpMethod = 'POST';

/** Whether a method list (absent: any method) can match a gRPC call at all. */
export function grpcAdmitsMethods(methods: readonly HttpMethod[] | undefined): boolean {
  return methods === undefined || methods.includes(GRPC_METHOD);
}
