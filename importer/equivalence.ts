/**
 * The proof of a migration: on the policy's request space, widened by the original manifests' own values
 * (principals, namespaces, CIDRs, methods, paths), a mesh simulator decides every request once from the
 * original manifests and once from policyc's output. Every request they decide differently is a difference,
 * shown with both verdicts and the objects that decided. `policyc verify --against` and `policyc import` use it.
 */
import { isNormalPath } from '../model/path';
import type { Request } from '../model/decide';
import { parseCidr } from '../model/cidr';
import { servicesById, type HttpMethod, type PathMatch, type PolicyModel, type SourceModel } from '../model/model';
import { requestSpace } from '../model/request-space';
import { describeRequest, simulatedRequest } from '../verify/compare';
import type { ManifestObject, MeshSimulator, SimulatedDecision, Workload } from '../verify/simulator';
import { CLUSTER_NETWORKS } from './linkerd';

export interface Difference {
  readonly request: Request;
  readonly original: SimulatedDecision;
  readonly compiled: SimulatedDecision;
}

export interface Equivalence {
  readonly checked: number;
  readonly differences: readonly Difference[];
  /** Requests either side could not simulate (not compared). */
  readonly unsupported: readonly { readonly request: Request; readonly reason: string }[];
}

const METHODS = new Set<string>(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LOOPBACK = /^(127\.|0:0:0:0:0:0:0:1$|::1$)/;

/** The callers, methods and paths the original manifests name, whatever the mesh: what the widened space must probe. */
export function valuesOfManifests(objects: readonly ManifestObject[]): { sources: SourceModel[]; methods: HttpMethod[]; paths: PathMatch[] } {
  const sources = new Map<string, SourceModel>();
  const methods = new Set<HttpMethod>();
  const paths = new Map<string, PathMatch>();
  const addSource = (source: SourceModel) => sources.set(JSON.stringify(source), source);
  const addPath = (value: string, prefix: boolean) => {
    if (!value.startsWith('/')) return;
    const match: PathMatch = prefix ? { kind: 'prefix', value } : { kind: 'exact', value };
    paths.set(JSON.stringify(match), match);
  };
  const visit = (value: unknown, field: string): void => {
    if (Array.isArray(value)) return value.forEach((v) => visit(v, field));
    if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      // Gateway API / Linkerd path matches: { type: PathPrefix | Exact, value }.
      if (field === 'path' && typeof record['value'] === 'string') addPath(record['value'], record['type'] === 'PathPrefix');
      for (const [key, child] of Object.entries(record)) visit(child, key);
      return;
    }
    if (typeof value !== 'string') return;
    switch (field) {
      case 'principals':
      case 'notPrincipals': {
        const [, nsKey, ns, saKey, sa] = value.split('/');
        if (nsKey === 'ns' && saKey === 'sa' && ns !== undefined && sa !== undefined && DNS_LABEL.test(ns)) {
          addSource(DNS_LABEL.test(sa) ? { kind: 'identity', namespace: ns, serviceAccount: sa } : { kind: 'namespace', namespace: ns });
        }
        break;
      }
      case 'namespaces':
      case 'notNamespaces':
        if (DNS_LABEL.test(value)) addSource({ kind: 'namespace', namespace: value });
        break;
      case 'identities': {
        // Linkerd: <sa>.<ns>.serviceaccount.identity.linkerd.<trust domain>, or * for the account.
        const [sa, ns, marker] = value.split('.');
        if (marker === 'serviceaccount' && ns !== undefined && sa !== undefined && DNS_LABEL.test(ns)) {
          addSource(DNS_LABEL.test(sa) ? { kind: 'identity', namespace: ns, serviceAccount: sa } : { kind: 'namespace', namespace: ns });
        }
        break;
      }
      case 'ipBlocks':
      case 'notIpBlocks':
      case 'cidr':
      case 'except':
        if (parseCidr(value) !== undefined) addSource({ kind: 'ipBlock', cidr: value });
        break;
      case 'methods':
      case 'notMethods':
      case 'method':
        if (METHODS.has(value)) methods.add(value as HttpMethod);
        break;
      case 'paths':
      case 'notPaths':
        if (value.endsWith('*')) addPath(value.slice(0, -1), true);
        else addPath(value, false);
        break;
      default:
        break;
    }
  };
  for (const object of objects) visit(object, '');
  // Linkerd admits some clients by its cluster networks without naming them (ServerAuthorization, cluster-* defaults).
  if (objects.some((o) => o.apiVersion.startsWith('policy.linkerd.io/'))) for (const cidr of CLUSTER_NETWORKS) addSource({ kind: 'ipBlock', cidr });
  return { sources: [...sources.values()], methods: [...methods].sort(), paths: [...paths.values()] };
}

/** The model's request space with the original manifests' values added to every destination port. */
export function widenedRequestSpace(model: PolicyModel, original: readonly ManifestObject[]): Request[] {
  const values = valuesOfManifests(original);
  const identities = values.sources.flatMap((s) => (s.kind === 'identity' ? [{ namespace: s.namespace, serviceAccount: s.serviceAccount }] : []));
  const namespaces = values.sources.flatMap((s) => (s.kind === 'namespace' ? [s.namespace] : []));
  const cidrs = values.sources.flatMap((s) => (s.kind === 'ipBlock' ? [s.cidr] : []));
  return requestSpace(model, [{ identities, namespaces, cidrs, methods: values.methods, paths: values.paths }]);
}

/**
 * Decides every request of the widened space from both sets of objects. `workloads` are the pods as the
 * cluster runs them (their own labels), by service id; a service without one is simulated from the model.
 */
export function compareWithOriginal(
  model: PolicyModel,
  original: readonly ManifestObject[],
  compiled: readonly ManifestObject[],
  simulator: MeshSimulator,
  workloads: ReadonlyMap<string, Workload> = new Map(),
): Equivalence {
  const services = servicesById(model);
  const differences: Difference[] = [];
  const unsupported: { request: Request; reason: string }[] = [];
  let checked = 0;
  for (const request of widenedRequestSpace(model, original)) {
    // A CIDR such as ::/0 yields the loopback address as a probe; no other pod calls from it (Linkerd admits it always).
    if (LOOPBACK.test(request.client.ip)) continue;
    const simulated = simulatedRequest(request, services, model.mesh.trustDomain);
    const workload = workloads.get(request.destination);
    const probe = workload === undefined ? simulated : { ...simulated, destination: workload };
    const before = simulator.decide(original, probe);
    const after = simulator.decide(compiled, probe);
    checked++;
    if (before.verdict === 'unsupported' || after.verdict === 'unsupported') {
      unsupported.push({ request, reason: before.verdict === 'unsupported' ? before.reason : after.reason });
      continue;
    }
    // policyc's output refuses a path variant not in normal form that a raw-path match let through (model.ts, 5.): fail closed, not a difference.
    const refusedVariant = after.verdict === 'deny' && request.path !== undefined && !isNormalPath(request.path);
    if (before.verdict !== after.verdict && !refusedVariant) differences.push({ request, original: before, compiled: after });
  }
  return { checked, differences, unsupported };
}

/** One difference in words: the request, both verdicts, and the objects that decided each. */
export function describeDifference(difference: Difference): string {
  const side = (decision: SimulatedDecision) =>
    `${decision.verdict === 'allow' ? 'ALLOWED' : 'denied'} (${decision.objects.length === 0 ? 'no object' : decision.objects.join(', ')}: ${decision.reason})`;
  return `${describeRequest(difference.request)}: the original manifests: ${side(difference.original)}; policyc's output: ${side(difference.compiled)}`;
}
