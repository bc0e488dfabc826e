/**
 * The Istio target: `security.istio.io/v1` PeerAuthentication and AuthorizationPolicy objects that
 * grant exactly the model's access, for sidecar workloads (selector-based, never targetRefs).
 *
 * How the model maps (see shared/docs/istio.md §3 for the traps each choice avoids):
 * - mTLS: one mesh-wide PA in the root namespace (no selector), one per namespace that overrides the
 *   mode, one per workload that overrides it (ports keyed by container port in `portLevelMtls`).
 * - defaultAction 'deny': an `allow-nothing` ALLOW policy with no rules in every managed namespace, plus one
 *   ALLOW policy per destination with one rule per model rule. defaultAction 'allow': no ALLOW policy at all
 *   (any ALLOW policy would flip the workload to default-deny).
 * - deny rules: one DENY policy per destination, every rule scoped with `ports` (HTTP-only fields in a DENY
 *   without ports would deny all TCP traffic).
 * - Sources: service/identity → principals `<td>/ns/<ns>/sa/<sa>`; namespace → principals `<td>/ns/<ns>/sa/*`
 *   (never `namespaces`, which Istio matches as the regex `.*\/ns/<ns>/.*` in any trust domain, §1.2); spiffe →
 *   its principal (the ID without `spiffe://`); trustDomain → principals `<td>/*`; authenticated → principals
 *   ["*"]; ipBlock → ipBlocks; both → principals AND ipBlocks in one `source`; remoteIpBlock → remoteIpBlocks;
 *   anyone → no `from` at all. Only positive matches are emitted.
 * - Gateways: their ALLOW/DENY policies select the gateway's pods like any workload's (selector policies reach
 *   Gateway API gateways too, §1.3); no PeerAuthentication is written for them (Istio applies none to gateway
 *   pods: istio/istio#23284, #21343). In the root namespace no namespace-wide allow-nothing is written (it would be
 *   mesh-wide, §1.3): a gateway there gets its own ALLOW policy, empty when no rule admits anything.
 */
import {
  effectiveMtls,
  pathText,
  servicesById,
  type IdentitySourceModel,
  type MtlsMode,
  type PolicyModel,
  type RuleModel,
  type ServiceModel,
  type SourceModel,
} from '../../model/model';
import { parseSpiffeId, portNumbers, rulesByDestination, sourceIdentity } from '../../model/resolve';
import type { KubernetesObject, Target, TargetContext, TargetOutput } from '../../model/target';
import { diagnostic, type Diagnostic } from '../../diagnostics/diagnostic';
import { objectName } from '../names';

const API_VERSION = 'security.istio.io/v1';

export interface PeerAuthenticationManifest extends KubernetesObject {
  readonly kind: 'PeerAuthentication';
  readonly spec: {
    readonly selector?: { readonly matchLabels: Readonly<Record<string, string>> };
    readonly mtls?: { readonly mode: MtlsMode };
    readonly portLevelMtls?: Readonly<Record<string, { readonly mode: MtlsMode }>>;
  };
}

export interface IstioSource {
  readonly principals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly ipBlocks?: readonly string[];
  readonly remoteIpBlocks?: readonly string[];
}

export interface IstioOperation {
  readonly ports: readonly string[];
  readonly methods?: readonly string[];
  readonly paths?: readonly string[];
}

export interface IstioRule {
  readonly from?: readonly { readonly source: IstioSource }[];
  readonly to: readonly { readonly operation: IstioOperation }[];
}

export interface AuthorizationPolicyManifest extends KubernetesObject {
  readonly kind: 'AuthorizationPolicy';
  readonly spec: {
    readonly selector?: { readonly matchLabels: Readonly<Record<string, string>> };
    readonly action?: 'ALLOW' | 'DENY';
    readonly rules?: readonly IstioRule[];
  };
}

/** The label every object gets, so a cluster operator can find what policyc manages. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'policyc' } as const;

function metadata(name: string, namespace: string, annotations?: Record<string, string>): KubernetesObject['metadata'] {
  return { name, namespace, labels: MANAGED_BY, ...(annotations === undefined ? {} : { annotations }) };
}

/** The Istio principal of a workload identity: `<trust domain>/ns/<namespace>/sa/<service account>`. */
export function principal(model: PolicyModel, namespace: string, serviceAccount: string): string {
  return `${model.mesh.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The Istio principal a source of identity names (a pattern for a namespace or a trust domain). */
export function principalOf(model: PolicyModel, source: IdentitySourceModel, services: ReadonlyMap<string, ServiceModel>): string | undefined {
  switch (source.kind) {
    case 'service':
    case 'identity': {
      const identity = sourceIdentity(source, services);
      return identity === undefined ? undefined : principal(model, identity.namespace, identity.serviceAccount);
    }
    case 'namespace':
      // Bound to the trust domain: `namespaces: [ns]` would also admit `ns` of every other trust domain (§1.2).
      return `${model.mesh.trustDomain}/ns/${source.namespace}/sa/*`;
    case 'spiffe':
      return source.id.slice('spiffe://'.length);
    case 'trustDomain':
      return `${source.trustDomain}/*`;
    case 'authenticated':
      return '*';
    default:
      return source satisfies never;
  }
}

/**
 * Istio `from` entries for a rule's sources; undefined when a source is `anyone` (match any client). The
 * sidecar and the ambient targets write the same `from` (its semantics do not depend on who enforces it).
 */
export function fromEntries(model: PolicyModel, sources: readonly SourceModel[], services: ReadonlyMap<string, ServiceModel>): IstioRule['from'] {
  if (sources.some((s) => s.kind === 'anyone')) return undefined;
  const principals = new Set<string>();
  const ipBlocks = new Set<string>();
  const remoteIpBlocks = new Set<string>();
  const combined: { source: IstioSource }[] = [];
  for (const source of sources) {
    switch (source.kind) {
      case 'ipBlock':
        ipBlocks.add(source.cidr);
        break;
      case 'remoteIpBlock':
        remoteIpBlocks.add(source.cidr);
        break;
      case 'both': {
        // Fields of one `source` are ANDed (§1.2): the identity and the network must both match.
        const named = principalOf(model, source.identity, services);
        if (named !== undefined) combined.push({ source: { principals: [named], ipBlocks: [...source.cidrs] } });
        break;
      }
      case 'anyone':
        break;
      default: {
        const named = principalOf(model, source, services);
        if (named !== undefined) principals.add(named);
      }
    }
  }
  const sorted = (set: Set<string>) => [...set].sort();
  // One `from` entry per field: entries are ORed, fields inside one entry would be ANDed.
  return [
    ...(principals.size > 0 ? [{ source: { principals: principals.has('*') ? ['*'] : sorted(principals) } }] : []),
    ...(ipBlocks.size > 0 ? [{ source: { ipBlocks: sorted(ipBlocks) } }] : []),
    ...(remoteIpBlocks.size > 0 ? [{ source: { remoteIpBlocks: sorted(remoteIpBlocks) } }] : []),
    ...combined,
  ];
}

function ruleOf(model: PolicyModel, rule: RuleModel, destination: ServiceModel, services: ReadonlyMap<string, ServiceModel>): IstioRule | undefined {
  const ports = portNumbers(destination, rule.ports).map(String);
  // An empty list would widen the rule to every port or client: such a rule is dropped (it matches nothing).
  if (ports.length === 0 || rule.sources.length === 0) return undefined;
  if (rule.methods?.length === 0 || rule.paths?.length === 0) return undefined;
  const from = fromEntries(model, rule.sources, services);
  if (from !== undefined && from.length === 0) return undefined;
  const operation: IstioOperation = {
    ports,
    ...(rule.methods === undefined ? {} : { methods: [...rule.methods] }),
    ...(rule.paths === undefined ? {} : { paths: rule.paths.map(pathText) }),
  };
  return { ...(from === undefined ? {} : { from }), to: [{ operation }] };
}

function peerAuthentications(model: PolicyModel): PeerAuthenticationManifest[] {
  const out: PeerAuthenticationManifest[] = [
    { apiVersion: API_VERSION, kind: 'PeerAuthentication', metadata: metadata('default', model.mesh.rootNamespace), spec: { mtls: { mode: model.mesh.mtls } } },
  ];
  for (const ns of model.namespaces) {
    if (ns.mtls === undefined) continue;
    out.push({ apiVersion: API_VERSION, kind: 'PeerAuthentication', metadata: metadata('default', ns.name), spec: { mtls: { mode: ns.mtls } } });
  }
  for (const svc of model.services) {
    const overriddenPorts = svc.ports.filter((p) => p.mtls !== undefined);
    // Istio applies no PeerAuthentication to gateway pods (istio/istio#23284); the validator refuses a mode on one.
    if (svc.gateway !== undefined || (svc.mtls === undefined && overriddenPorts.length === 0)) continue;
    const workloadMode = svc.mtls;
    const portLevelMtls = Object.fromEntries(overriddenPorts.map((p) => [String(p.port), { mode: effectiveMtls(model, svc, p) }]));
    out.push({
      apiVersion: API_VERSION,
      kind: 'PeerAuthentication',
      metadata: metadata(objectName(svc.name, 'mtls'), svc.namespace),
      spec: {
        selector: { matchLabels: svc.selector },
        ...(workloadMode === undefined ? {} : { mtls: { mode: workloadMode } }),
        ...(overriddenPorts.length === 0 ? {} : { portLevelMtls }),
      },
    });
  }
  return out;
}

/** A name the user kept from the cluster, as is when Kubernetes accepts it (a DNS-1123 subdomain), else made valid. */
function keptName(name: string): string {
  return name.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name) ? name : objectName(name);
}

function authorizationPolicies(model: PolicyModel): AuthorizationPolicyManifest[] {
  const out: AuthorizationPolicyManifest[] = [];
  const services = servicesById(model);
  const denyByDefault = model.mesh.defaultAction === 'deny';
  if (denyByDefault) {
    for (const ns of model.namespaces) {
      // In the root namespace a policy without selector applies to the whole mesh (§1.3): not written there.
      if (ns.name === model.mesh.rootNamespace) continue;
      // ALLOW with no rules matches nothing: every workload in the namespace denies what no ALLOW admits.
      out.push({ apiVersion: API_VERSION, kind: 'AuthorizationPolicy', metadata: metadata('allow-nothing', ns.name), spec: {} });
    }
    // A gateway in the root namespace gets its own ALLOW policy: with no rule admitting anything it denies everything.
    for (const svc of model.services) {
      if (svc.namespace !== model.mesh.rootNamespace || model.rules.some((r) => r.destination === svc.id && r.action === 'allow' && r.name === undefined))
        continue;
      out.push({
        apiVersion: API_VERSION,
        kind: 'AuthorizationPolicy',
        metadata: metadata(objectName(svc.name, 'allow'), svc.namespace),
        spec: { selector: { matchLabels: svc.selector }, action: 'ALLOW' },
      });
    }
  }
  for (const [destinationId, rules] of rulesByDestination(model.rules)) {
    const destination = services.get(destinationId);
    if (destination === undefined) continue;
    for (const action of ['allow', 'deny'] as const) {
      if (action === 'allow' && model.mesh.defaultAction === 'allow') continue;
      // One policy per destination and action, or per name the user kept for some of its rules.
      const byName = new Map<string, IstioRule[]>();
      for (const rule of rules.filter((r) => r.action === action)) {
        const istioRule = ruleOf(model, rule, destination, services);
        if (istioRule === undefined) continue;
        const name = rule.name === undefined ? objectName(destination.name, action) : keptName(rule.name);
        byName.set(name, [...(byName.get(name) ?? []), istioRule]);
      }
      for (const [name, istioRules] of byName) {
        out.push({
          apiVersion: API_VERSION,
          kind: 'AuthorizationPolicy',
          metadata: metadata(name, destination.namespace),
          spec: { selector: { matchLabels: destination.selector }, action: action === 'allow' ? 'ALLOW' : 'DENY', rules: istioRules },
        });
      }
    }
  }
  return out;
}

/**
 * Sources Istio would read differently from the model: a principal whose trust domain is the literal `cluster.local`
 * is copied to the mesh's own trust domain and its aliases (§1.4), so with another mesh trust domain it would also
 * admit the mesh's own workloads. Shared with the ambient target (the same istiod writes both).
 */
export function aliasedTrustDomainProblems(model: PolicyModel, context: TargetContext): Diagnostic[] {
  if (model.mesh.trustDomain === 'cluster.local') return [];
  const out: Diagnostic[] = [];
  for (const rule of model.rules) {
    for (const source of rule.sources) {
      const identity = source.kind === 'both' ? source.identity : source;
      const named = identity.kind === 'spiffe' ? parseSpiffeId(identity.id)?.trustDomain : identity.kind === 'trustDomain' ? identity.trustDomain : undefined;
      if (named !== 'cluster.local') continue;
      out.push(
        diagnostic(
          'istio-alias-trust-domain',
          `This source names trust domain cluster.local, but the mesh's trust domain is ${model.mesh.trustDomain}: istiod treats a cluster.local principal as the mesh's own trust domain (and its aliases), so it would also admit this mesh's workloads. ` +
            `Name the workloads of this mesh with their services, namespaces or identity(...), or rename the other trust domain.`,
          context.spanOf(rule.location),
        ),
      );
    }
  }
  return out;
}

export const istioTarget: Target = {
  name: 'istio',
  crds: ['istio'],
  revocationNote: (destination) =>
    `Istio: enforced once the sidecars of ${destination.id} receive the new AuthorizationPolicy; confirm with \`istioctl x authz check\` on a ${destination.name} pod.`,
  compile(model: PolicyModel, context: TargetContext): TargetOutput {
    const diagnostics = aliasedTrustDomainProblems(model, context);
    if (diagnostics.length > 0) return { objects: [], diagnostics };
    return { objects: [...peerAuthentications(model), ...authorizationPolicies(model)], diagnostics: [] };
  },
};
