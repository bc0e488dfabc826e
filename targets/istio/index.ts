/**
 * The Istio target: `security.istio.io/v1` PeerAuthentication and AuthorizationPolicy objects that
 * grant exactly the model's access, for sidecar workloads (selector-based, never targetRefs).
 *
 * How the model maps (see shared/docs/istio.md §3 for the traps each choice avoids):
 * - mTLS: `scope: 'mesh'`: one mesh-wide PA in the root namespace (no selector), one per namespace that
 *   overrides the mode; `scope: 'namespaces'`: no root-namespace object, one PA per governed namespace with
 *   its mode. One PA per workload that overrides it (ports keyed by container port in `portLevelMtls`).
 * - defaultAction, per port (port, service, namespace, mesh): a namespace whose defaultAction is 'deny' gets
 *   an `allow-nothing` ALLOW policy with no rules (it flips every workload there, declared or not, to
 *   default-deny). Per destination, one ALLOW policy with one rule per allow rule on its 'deny' ports, plus
 *   one rule admitting its 'allow' ports when something else makes the workload default-deny; a workload
 *   with 'deny' ports that its namespace does not close gets its own `<svc>-allow-nothing`. Where nothing
 *   is 'deny', no ALLOW policy at all (any ALLOW policy would flip the workload to default-deny).
 * - audit: every AuthorizationPolicy of an audited namespace or service carries `istio.io/dry-run: "true"`:
 *   Istio evaluates and logs it (shadow rules) but does not enforce it, for DENY and ALLOW alike, and a
 *   dry-run ALLOW policy does not make the workload default-deny. An audited service in a namespace whose
 *   enforced `allow-nothing` would still close it gets an enforced ALLOW of its declared ports
 *   (`<svc>-audit`). https://istio.io/latest/docs/tasks/security/authorization/authz-dry-run/
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
 * - Header conditions → `when: request.headers[<name>]` with `v` (exact), `v*` (prefix) or `*` (present); the
 *   validator keeps `*` out of values, so each value means exactly one match form.
 * - Request identities: one RequestAuthentication per destination whose rules name one, with a jwtRule per issuer
 *   (it refuses invalid tokens and tokens of other issuers, and lets requests without a token through). Each
 *   request identity source becomes its own Istio rule, `requestPrincipals: ["<iss>/<sub>"]` (or `<iss>/*`) with its
 *   claims as `when: request.auth.claims[<name>]`: rules are ORed, and a `when` would otherwise also bind the
 *   rule's peer sources.
 */
import {
  effectiveDefaultAction,
  effectiveEnforcement,
  effectiveMtls,
  namespaceDefaultAction,
  namespaceEnforcement,
  namespaceMtls,
  pathText,
  policyScope,
  servicesById,
  tokenIssuersAt,
  type Enforcement,
  type IdentitySourceModel,
  type HeaderCondition,
  type MtlsMode,
  type PolicyModel,
  type RequestIdentitySourceModel,
  type RuleModel,
  type ServiceModel,
  type SourceModel,
} from '../../model/model';
import { parseSpiffeId, portNumbers, rulesByDestination, rulesTo, sourceIdentity } from '../../model/resolve';
import type { KubernetesObject, Target, TargetContext, TargetOutput } from '../../model/target';
import { diagnostic, type Diagnostic } from '../../diagnostics/diagnostic';
import { objectName } from '../names';
import { meshOrigin, namespaceOrigin, objectMetadata, prunedNote, ruleOrigin, serviceOrigin, type Origin } from '../metadata';

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
  readonly requestPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly ipBlocks?: readonly string[];
  readonly remoteIpBlocks?: readonly string[];
}

export interface IstioOperation {
  readonly ports: readonly string[];
  readonly methods?: readonly string[];
  readonly paths?: readonly string[];
}

export interface IstioCondition {
  readonly key: string;
  readonly values: readonly string[];
}

export interface IstioRule {
  readonly from?: readonly { readonly source: IstioSource }[];
  readonly to: readonly { readonly operation: IstioOperation }[];
  readonly when?: readonly IstioCondition[];
}

export interface RequestAuthenticationManifest extends KubernetesObject {
  readonly kind: 'RequestAuthentication';
  readonly spec: {
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> };
    readonly jwtRules: readonly { readonly issuer: string; readonly jwksUri?: string; readonly jwks?: string }[];
  };
}

export interface AuthorizationPolicyManifest extends KubernetesObject {
  readonly kind: 'AuthorizationPolicy';
  readonly spec: {
    readonly selector?: { readonly matchLabels: Readonly<Record<string, string>> };
    readonly action?: 'ALLOW' | 'DENY';
    readonly rules?: readonly IstioRule[];
  };
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
      case 'requestIdentity': // its own Istio rule (requestIdentityRules)
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

/** Istio's dry-run annotation: the policy is evaluated and logged, never enforced. */
export const DRY_RUN = { 'istio.io/dry-run': 'true' } as const;

/** The annotations of an AuthorizationPolicy under the given enforcement (none when enforced). */
export function enforcementAnnotations(enforcement: Enforcement): Record<string, string> | undefined {
  return enforcement === 'audit' ? { ...DRY_RUN } : undefined;
}

/** `when` conditions for a rule's headers: `v` exact, `v*` prefix, `*` present (Istio's value forms). */
export function headerConditions(headers: readonly HeaderCondition[] | undefined): IstioCondition[] {
  return (headers ?? []).map(({ name, match }) => ({
    key: `request.headers[${name}]`,
    values: [match.kind === 'present' ? '*' : match.kind === 'prefix' ? `${match.value}*` : match.value],
  }));
}

/** The Istio request principal of a request identity: `<iss>/<sub>`, or `<iss>/*` for any subject. */
export function requestPrincipal(source: RequestIdentitySourceModel): string {
  return `${source.issuer}/${source.subject ?? '*'}`;
}

/** A request identity's claims as `when` conditions (exact values: the validator keeps `*` out). */
export function claimConditions(source: RequestIdentitySourceModel): IstioCondition[] {
  return Object.entries(source.claims ?? {}).map(([name, value]) => ({ key: `request.auth.claims[${name}]`, values: [value] }));
}

/**
 * The Istio rules of one model rule (ORed in one policy): one for its peer sources, one per request identity source.
 * Shared with the ambient target, whose waypoint reads rules the same way.
 */
export function istioRulesOf(model: PolicyModel, rule: RuleModel, ports: readonly string[], services: ReadonlyMap<string, ServiceModel>): IstioRule[] {
  // An empty list would widen the rule to every port or client: such a rule is dropped (it matches nothing).
  if (ports.length === 0 || rule.sources.length === 0) return [];
  if (rule.methods?.length === 0 || rule.paths?.length === 0) return [];
  const operation: IstioOperation = {
    ports: [...ports],
    ...(rule.methods === undefined ? {} : { methods: [...rule.methods] }),
    ...(rule.paths === undefined ? {} : { paths: rule.paths.map(pathText) }),
  };
  const headers = headerConditions(rule.headers);
  const withWhen = (when: readonly IstioCondition[]) => (when.length === 0 ? {} : { when });
  const out: IstioRule[] = [];
  const from = fromEntries(model, rule.sources, services);
  if (from === undefined) return [{ to: [{ operation }], ...withWhen(headers) }];
  if (from.length > 0) out.push({ from, to: [{ operation }], ...withWhen(headers) });
  for (const source of rule.sources) {
    if (source.kind !== 'requestIdentity') continue;
    out.push({
      from: [{ source: { requestPrincipals: [requestPrincipal(source)] } }],
      to: [{ operation }],
      ...withWhen([...claimConditions(source), ...headers]),
    });
  }
  return out;
}

function ruleOf(
  model: PolicyModel,
  rule: RuleModel,
  destination: ServiceModel,
  services: ReadonlyMap<string, ServiceModel>,
  onPorts: readonly string[] = rule.ports,
): IstioRule[] {
  const ports = portNumbers(
    destination,
    rule.ports.filter((p) => onPorts.includes(p)),
  ).map(String);
  return istioRulesOf(model, rule, ports, services);
}

/** One RequestAuthentication per destination whose rules name request identities: a jwtRule per issuer. */
export function requestAuthentications(model: PolicyModel): RequestAuthenticationManifest[] {
  const out: RequestAuthenticationManifest[] = [];
  for (const destination of model.services) {
    // The destination's own rules (grouped once per model): asking every rule per destination was quadratic.
    const rules = rulesTo(model, destination.id);
    const issuers = tokenIssuersAt({ rules }, destination.id);
    if (issuers.length === 0) continue;
    const jwtRules = issuers.map((issuer) => {
      const declared = model.jwtIssuers?.find((i) => i.issuer === issuer);
      return {
        issuer,
        ...(declared?.jwksUri === undefined ? {} : { jwksUri: declared.jwksUri }),
        ...(declared?.jwks === undefined ? {} : { jwks: declared.jwks }),
      };
    });
    out.push({
      apiVersion: API_VERSION,
      kind: 'RequestAuthentication',
      metadata: objectMetadata(
        objectName(destination.name, 'jwt'),
        destination.namespace,
        rules.filter((r) => r.sources.some((s) => s.kind === 'requestIdentity')).map(ruleOrigin),
      ),
      spec: { selector: { matchLabels: destination.selector }, jwtRules },
    });
  }
  return out;
}

function peerAuthentications(model: PolicyModel): PeerAuthenticationManifest[] {
  const meshScope = policyScope(model) === 'mesh';
  const out: PeerAuthenticationManifest[] = meshScope
    ? [
        {
          apiVersion: API_VERSION,
          kind: 'PeerAuthentication',
          metadata: objectMetadata('default', model.mesh.rootNamespace, [meshOrigin(model)]),
          spec: { mtls: { mode: model.mesh.mtls } },
        },
      ]
    : [];
  for (const ns of model.namespaces) {
    // Namespace scope writes nothing mesh-wide, so each governed namespace states its own mode. Not the root
    // namespace (only a gateway lives there, PC3019): a PeerAuthentication there without selector is mesh-wide.
    if ((ns.mtls === undefined && meshScope) || ns.name === model.mesh.rootNamespace) continue;
    out.push({
      apiVersion: API_VERSION,
      kind: 'PeerAuthentication',
      metadata: objectMetadata('default', ns.name, [namespaceOrigin(ns)]),
      spec: { mtls: { mode: namespaceMtls(model, ns.name) } },
    });
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
      metadata: objectMetadata(objectName(svc.name, 'mtls'), svc.namespace, [serviceOrigin(svc)]),
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
  const policy = (
    name: string,
    namespace: string,
    enforcement: Enforcement,
    origins: readonly Origin[],
    spec: AuthorizationPolicyManifest['spec'],
  ): AuthorizationPolicyManifest => ({
    apiVersion: API_VERSION,
    kind: 'AuthorizationPolicy',
    metadata: objectMetadata(name, namespace, origins, {}, enforcementAnnotations(enforcement)),
    spec,
  });
  // In the root namespace a policy without selector applies to the whole mesh (§1.3): no allow-nothing there, so
  // a workload there (a gateway) that denies by default gets its own `<svc>-allow-nothing` below.
  const closesNamespace = (namespace: string): boolean => namespace !== model.mesh.rootNamespace && namespaceDefaultAction(model, namespace) === 'deny';
  for (const ns of model.namespaces) {
    // ALLOW with no rules matches nothing: every workload in the namespace denies what no ALLOW admits.
    if (closesNamespace(ns.name))
      out.push(policy('allow-nothing', ns.name, namespaceEnforcement(model, ns.name), [namespaceOrigin(ns), meshOrigin(model)], {}));
  }
  const rulesOf = rulesByDestination(model.rules);
  for (const destination of model.services) {
    if (services.get(destination.id) !== destination) continue;
    const enforcement = effectiveEnforcement(model, destination);
    const selector = { matchLabels: destination.selector };
    const denyPorts = destination.ports.filter((p) => effectiveDefaultAction(model, destination, p) === 'deny').map((p) => p.name);
    const allowPorts = destination.ports.filter((p) => !denyPorts.includes(p.name));
    const namespaceDenies = closesNamespace(destination.namespace);
    const namespaceEnforced = namespaceDenies && namespaceEnforcement(model, destination.namespace) === 'enforce';
    // The namespace's allow-nothing is this workload's default-deny only when it is enforced (or audited) as the workload is.
    const closedByNamespace = namespaceDenies && namespaceEnforcement(model, destination.namespace) === enforcement;
    if (enforcement === 'audit' && namespaceEnforced) {
      out.push(
        policy(objectName(destination.name, 'audit'), destination.namespace, 'enforce', [serviceOrigin(destination)], {
          selector,
          action: 'ALLOW',
          rules: [{ to: [{ operation: { ports: destination.ports.map((p) => String(p.port)) } }] }],
        }),
      );
    }
    if (denyPorts.length > 0 && !closedByNamespace) {
      out.push(
        policy(objectName(destination.name, 'allow-nothing'), destination.namespace, enforcement, [serviceOrigin(destination)], { selector, action: 'ALLOW' }),
      );
    }
    const rules = rulesOf.get(destination.id) ?? [];
    for (const action of ['allow', 'deny'] as const) {
      // One policy per destination and action, or per name the user kept for some of its rules.
      const byName = new Map<string, { rules: IstioRule[]; from: Origin[] }>();
      const add = (name: string, rule: IstioRule, origin: Origin): void => {
        const entry = byName.get(name);
        if (entry === undefined) byName.set(name, { rules: [rule], from: [origin] });
        else {
          entry.rules.push(rule);
          entry.from.push(origin);
        }
      };
      if (action === 'allow' && allowPorts.length > 0 && (namespaceDenies || denyPorts.length > 0)) {
        add(objectName(destination.name, 'allow'), { to: [{ operation: { ports: allowPorts.map((p) => String(p.port)) } }] }, serviceOrigin(destination));
      }
      for (const rule of rules.filter((r) => r.action === action)) {
        // An allow only matters on the destination's 'deny' ports; elsewhere its defaultAction already admits it.
        const istioRules = ruleOf(model, rule, destination, services, action === 'allow' ? denyPorts : rule.ports);
        const name = rule.name === undefined ? objectName(destination.name, action) : keptName(rule.name);
        for (const istioRule of istioRules) add(name, istioRule, ruleOrigin(rule));
      }
      for (const [name, { rules: istioRules, from }] of byName) {
        out.push(policy(name, destination.namespace, enforcement, from, { selector, action: action === 'allow' ? 'ALLOW' : 'DENY', rules: istioRules }));
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
  kinds: [`${API_VERSION}/AuthorizationPolicy`, `${API_VERSION}/PeerAuthentication`, `${API_VERSION}/RequestAuthentication`],
  revocationNote: (destination, removed) =>
    `Istio: enforced once the sidecars of ${destination.id} receive the new AuthorizationPolicy; confirm with \`istioctl x authz check\` on a ${destination.name} pod.${prunedNote(removed)}`,
  compile(model: PolicyModel, context: TargetContext): TargetOutput {
    const diagnostics = aliasedTrustDomainProblems(model, context);
    if (diagnostics.length > 0) return { objects: [], diagnostics };
    return { objects: [...peerAuthentications(model), ...requestAuthentications(model), ...authorizationPolicies(model)], diagnostics: [] };
  },
};
