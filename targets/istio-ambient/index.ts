/**
 * The Istio ambient target (`--target istio-ambient`): the same model for an Istio mesh without sidecars,
 * where a node's ztunnel enforces identity and ports and a waypoint proxy enforces methods and paths.
 * Every choice below rests on a fact in docs/ambient.md (cited as §n).
 *
 * How the model maps:
 * - Data plane: every namespace of the model gets `istio.io/dataplane-mode: ambient` (a Namespace patch), so
 *   ztunnel is in the path of every destination (§1).
 * - Waypoints, by convention: a service gets a waypoint exactly when one of its rules has methods or paths
 *   (ztunnel cannot see HTTP, §3). policyc emits one `Gateway` named `waypoint` (class `istio-waypoint`) per
 *   namespace that needs one, and labels only those services `istio.io/use-waypoint` (a Service patch), so
 *   services with L4 rules only keep the real caller's identity at their ztunnel (§4, §5).
 * - Service without a waypoint: its rules become ztunnel policies with `selector`, L4 fields only (§2).
 * - Service with a waypoint: all of its rules, L4 and L7, become policies attached to the service with
 *   `targetRefs` (the waypoint sees the caller; §4), and its ztunnel policy admits only the waypoint's
 *   identity, which is what the destination ztunnel sees (§5).
 * - mTLS: PeerAuthentication at mesh, namespace and workload level as in sidecar Istio, but DISABLE (ignored
 *   by ambient, §6), port-level modes (§6) and plaintext clients of a waypoint service (§7) are errors.
 *   `scope: 'namespaces'`: no root-namespace object, one PeerAuthentication per governed namespace.
 * - defaultAction per namespace and service (one for all ports of a service; a port of its own is refused,
 *   PC4221): a 'deny' namespace gets `allow-nothing`; a 'deny' service elsewhere gets its own; an 'allow'
 *   service in a 'deny' namespace gets an ALLOW of its ports at its ztunnel.
 * - audit: every AuthorizationPolicy of an audited service carries `istio.io/dry-run: "true"`. istiod treats a
 *   dry-run policy as absent for ztunnel from Istio 1.25 (istio/istio#55414; earlier ztunnels enforced it,
 *   hence warning PC4220), and a waypoint (Envoy) evaluates it as shadow rules only. An audited service whose
 *   namespace enforces `allow-nothing` gets an enforced ALLOW of its ports (`<svc>-audit`).
 */
import type { Diagnostic } from '../../diagnostics/diagnostic';
import { diagnostic } from '../../diagnostics/diagnostic';
import {
  acceptsPlaintext,
  effectiveDefaultAction,
  effectiveEnforcement,
  effectiveMtls,
  namespaceDefaultAction,
  namespaceEnforcement,
  namespaceMtls,
  policyScope,
  servicesById,
} from '../../model/model';
import type { MtlsMode, PolicyModel, RuleModel, ServiceModel, SourceLocation } from '../../model/model';
import type { KubernetesObject, Target, TargetContext, TargetOutput } from '../../model/target';
import { aliasedTrustDomainProblems, enforcementAnnotations, fromEntries, istioRulesOf, principal, type IstioCondition } from '../istio';
import { meshOrigin, namespaceOrigin, objectMetadata, prunedNote, ruleOrigin, serviceOrigin, type Origin } from '../metadata';
import { narrowsRequests, parseSpiffeId, rulesTo } from '../../model/resolve';
import { objectName } from '../names';

const SECURITY = 'security.istio.io/v1';
const GATEWAY_API = 'gateway.networking.k8s.io/v1';
/** The waypoint policyc deploys in a namespace; its pods run as the service account of the same name (§4). */
export const WAYPOINT_NAME = 'waypoint';
export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';

interface AmbientSource {
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly ipBlocks?: readonly string[];
}

interface AmbientRule {
  readonly from?: readonly { readonly source: AmbientSource }[];
  readonly when?: readonly IstioCondition[];
  readonly to?: readonly {
    readonly operation: { readonly ports: readonly string[]; readonly methods?: readonly string[]; readonly paths?: readonly string[] };
  }[];
}

/** Where a policy is enforced: at the destination's ztunnel (`selector`) or at its waypoint (`targetRefs`). */
type Attachment = { readonly selector: { readonly matchLabels: Readonly<Record<string, string>> } } | { readonly targetRefs: readonly ServiceRef[] };

interface ServiceRef {
  readonly group: '';
  readonly kind: 'Service';
  readonly name: string;
}

/** A model rule has HTTP fields (methods, paths, headers), so only a waypoint can enforce it (§3). */
export function needsWaypoint(rule: RuleModel): boolean {
  return narrowsRequests(rule);
}

/** The services that get a waypoint: those with at least one rule using methods or paths. */
export function waypointServices(model: PolicyModel): ServiceModel[] {
  const ids = new Set(model.rules.filter(needsWaypoint).map((r) => r.destination));
  return model.services.filter((s) => ids.has(s.id));
}

function ruleOf(model: PolicyModel, rule: RuleModel, destination: ServiceModel, services: ReadonlyMap<string, ServiceModel>): AmbientRule[] {
  if (!needsWaypoint(rule)) {
    // An L4 rule, possibly for a ztunnel: peer sources and ports only.
    const ports = destination.ports.filter((p) => rule.ports.includes(p.name)).map((p) => String(p.port));
    const from = fromEntries(model, rule.sources, services);
    return [{ ...(from === undefined ? {} : { from }), to: [{ operation: { ports } }] }];
  }
  // The waypoint reads rules as a sidecar does: the Istio target's rules (header conditions as `when`).
  return istioRulesOf(
    model,
    rule,
    destination.ports.filter((p) => rule.ports.includes(p.name)).map((p) => String(p.port)),
    services,
  );
}

function authorizationPolicy(
  name: string,
  namespace: string,
  attachment: Attachment | undefined,
  action: 'ALLOW' | 'DENY' | undefined,
  from: readonly Origin[],
  rules?: readonly AmbientRule[],
  audit = false,
): KubernetesObject {
  const spec = { ...attachment, ...(action === undefined ? {} : { action }), ...(rules === undefined ? {} : { rules }) };
  return {
    apiVersion: SECURITY,
    kind: 'AuthorizationPolicy',
    metadata: objectMetadata(name, namespace, from, {}, enforcementAnnotations(audit ? 'audit' : 'enforce')),
    spec,
  };
}

function peerAuthentication(
  name: string,
  namespace: string,
  mode: MtlsMode | undefined,
  from: readonly Origin[],
  selector?: Readonly<Record<string, string>>,
  portLevelMtls?: Readonly<Record<string, { readonly mode: MtlsMode }>>,
): KubernetesObject {
  const spec = {
    ...(selector === undefined ? {} : { selector: { matchLabels: selector } }),
    ...(mode === undefined ? {} : { mtls: { mode } }),
    ...(portLevelMtls === undefined ? {} : { portLevelMtls }),
  };
  return { apiVersion: SECURITY, kind: 'PeerAuthentication', metadata: objectMetadata(name, namespace, from), spec };
}

/** The waypoint of a namespace, as `istioctl waypoint generate --for service` writes it (§4). */
function waypointGateway(namespace: string, from: readonly Origin[]): KubernetesObject {
  return {
    apiVersion: GATEWAY_API,
    kind: 'Gateway',
    metadata: objectMetadata(WAYPOINT_NAME, namespace, from, { 'istio.io/waypoint-for': 'service' }),
    spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
  };
}

class AmbientCompilation {
  readonly diagnostics: Diagnostic[] = [];
  readonly objects: KubernetesObject[] = [];
  readonly patches: KubernetesObject[] = [];
  private readonly services: ReadonlyMap<string, ServiceModel>;
  private readonly waypointed: ReadonlySet<string>;
  /** The services behind a waypoint, in model order (computed once: it walks every rule). */
  private readonly waypointServices: readonly ServiceModel[];

  constructor(
    private readonly model: PolicyModel,
    private readonly context: TargetContext,
  ) {
    this.services = servicesById(model);
    this.waypointServices = waypointServices(model);
    this.waypointed = new Set(this.waypointServices.map((s) => s.id));
  }

  private report(id: Parameters<typeof diagnostic>[0], message: string, location: SourceLocation | undefined): void {
    this.diagnostics.push(diagnostic(id, message, this.context.spanOf(location)));
  }

  compile(): TargetOutput {
    this.check();
    if (this.diagnostics.some((d) => d.severity === 'error')) return { objects: [], diagnostics: this.diagnostics };
    this.mtls();
    this.dataPlane();
    this.authorization();
    return { objects: this.objects, patches: this.patches, diagnostics: this.diagnostics };
  }

  /** Whether requests to the service that no rule allows are denied (one defaultAction for all its ports, see check()). */
  private denyByDefault(service: ServiceModel): boolean {
    return service.ports.some((p) => effectiveDefaultAction(this.model, service, p) === 'deny');
  }

  private audited(service: ServiceModel): boolean {
    return effectiveEnforcement(this.model, service) === 'audit';
  }

  /** What ambient cannot enforce as the model says it. */
  private check(): void {
    this.diagnostics.push(...aliasedTrustDomainProblems(this.model, this.context));
    for (const rule of this.model.rules) {
      for (const source of rule.sources) {
        const identity = source.kind === 'both' ? source.identity : source;
        if (identity.kind !== 'spiffe' || parseSpiffeId(identity.id)?.serviceAccount !== undefined) continue;
        this.report(
          'ambient-spiffe-path',
          `${identity.id} is not a Kubernetes workload identity, and ztunnel's identities are always spiffe://<td>/ns/<ns>/sa/<sa> ` +
            '(istio/ztunnel src/identity.rs): such a workload cannot reach this service through the ambient mesh as that identity. ' +
            'Build this rule with --target istio (a sidecar verifies any SPIFFE ID), or name the workload by the Kubernetes identity it runs as.',
          rule.location,
        );
      }
    }
    for (const rule of this.model.rules) {
      const identity = rule.sources.find((s) => s.kind === 'requestIdentity');
      if (identity === undefined) continue;
      // A waypoint validates JWTs only with a RequestAuthentication attached by targetRefs, whose semantics the
      // ambient simulator does not model yet: refused rather than emitted unproved.
      this.report(
        'ambient-request-identity',
        `Rule ${rule.id} names a request identity (JWT of ${identity.issuer}); policyc does not yet emit the waypoint RequestAuthentication ` +
          'that ambient needs for it. Build this policy with --target istio (sidecars), or write the rule by workload identity for ambient.',
        rule.location,
      );
    }
    for (const service of this.model.services) {
      if (service.gateway === undefined) continue;
      this.report(
        'ambient-gateway',
        `${service.id} is a gateway, which the istio-ambient target does not model (a gateway's own Envoy enforces its policies, not ztunnel; ` +
          'and remoteIpBlocks needs that Envoy). Build the gateway and its rules with --target istio, or leave the gateway out of this build.',
        service.location,
      );
    }
    for (const service of this.model.services) {
      // A gateway is refused above (PC4213); its DISABLE-like mode is not the user's.
      if (service.gateway !== undefined) continue;
      const actions = new Set(service.ports.map((p) => effectiveDefaultAction(this.model, service, p)));
      if (actions.size > 1) {
        this.report(
          'ambient-port-default-action',
          `The ports of ${service.id} have different defaultActions, which this target does not compile: ambient policies are written per ` +
            `service, at its ztunnel or its waypoint. Set defaultAction on the service (or its namespace) instead of on its ports when building for istio-ambient.`,
          service.location,
        );
      }
      if (this.audited(service)) {
        this.report(
          'ambient-dry-run-version',
          `${service.id} is audited: its AuthorizationPolicies are written with istio.io/dry-run. istiod withholds dry-run policies from ztunnel ` +
            'only from Istio 1.25 (istio/istio#55414); an older ztunnel enforces them as if they were not dry-run. Check your Istio version before applying.',
          service.location,
        );
      }
      const modes = service.ports.map((port) => effectiveMtls(this.model, service, port));
      if (modes.includes('DISABLE')) {
        this.report(
          'ambient-mtls-disable',
          `The effective mTLS mode of ${service.id} is DISABLE, which ambient ignores: ztunnel always uses mTLS (HBONE) between ambient pods, so ` +
            "mesh callers would still present their identity (docs/ambient.md §6). Write mtls: 'PERMISSIVE' to also accept plaintext clients, " +
            'or leave the namespace out of the ambient mesh (label istio.io/dataplane-mode: none) and build it with --target istio.',
          service.location,
        );
      }
      const portModes = service.ports.filter((p) => p.mtls !== undefined);
      if (portModes.length > 0) {
        this.report(
          'ambient-port-mtls',
          `Port ${portModes.map((p) => p.name).join(', ')} of ${service.id} sets its own mTLS mode, which ztunnel honours only in Istio releases ` +
            'that merge port exceptions with the namespace and mesh modes (istio/istio#54073, Istio 1.25); in earlier ones a STRICT namespace or ' +
            'mesh silently overrides it (docs/ambient.md §6). Check your Istio version, or set mtls on the service instead.',
          service.location,
        );
      }
      if (this.waypointed.has(service.id)) {
        const l7 = this.plaintextRules(service).find((r) => needsWaypoint(r) && this.plaintextDependsOn(r, service));
        if (l7 !== undefined) {
          this.report(
            'ambient-waypoint-plaintext',
            `This rule matches plaintext clients of ${service.id} by method or path, but plaintext clients do not pass through the waypoint: ` +
              'they reach the destination ztunnel directly, which cannot see HTTP (docs/ambient.md §7). ' +
              `Set mtls: 'STRICT' on ${service.id} (or on the port), or match plaintext clients by port and address only.`,
            l7.location ?? service.location,
          );
        }
      }
    }
    const waypointNamespaces = new Set(this.waypointServices.map((s) => s.namespace));
    for (const service of this.model.services) {
      if (waypointNamespaces.has(service.namespace) && service.serviceAccount === WAYPOINT_NAME) {
        this.report(
          'ambient-waypoint-account',
          `${service.id} runs as service account '${WAYPOINT_NAME}', the identity of the waypoint policyc deploys in ${service.namespace} ` +
            '(docs/ambient.md §4): its calls could not be told apart from the waypoint. Give the service another service account.',
          service.location,
        );
      }
    }
  }

  /** Ports of a service that accept plaintext clients (§6). */
  private plaintextPorts(service: ServiceModel): ServiceModel['ports'] {
    return service.ports.filter((p) => acceptsPlaintext(effectiveMtls(this.model, service, p)));
  }

  /** Rules that can match a plaintext client (anyone, an IP block) on a port that accepts one. */
  private plaintextRules(service: ServiceModel): RuleModel[] {
    const ports = new Set(this.plaintextPorts(service).map((p) => p.name));
    return rulesTo(this.model, service.id).filter(
      (r) => r.ports.some((p) => ports.has(p)) && r.sources.some((s) => s.kind === 'anyone' || s.kind === 'ipBlock'),
    );
  }

  /**
   * Whether a plaintext client's verdict can depend on this rule's methods and paths. An L7 deny cannot change
   * anything where plaintext clients are denied anyway: deny by default with no L4 allow that admits them.
   */
  private plaintextDependsOn(rule: RuleModel, service: ServiceModel): boolean {
    if (rule.action === 'allow' || !this.denyByDefault(service)) return true;
    return this.plaintextRules(service).some((r) => r.action === 'allow' && !needsWaypoint(r));
  }

  /**
   * The ztunnel rules for plaintext clients of a service behind a waypoint, which reach ztunnel directly (§7):
   * the model's rules that can match them, restricted to connections without identity (`notPrincipals: ['*']`)
   * so that they never admit a mesh caller that bypasses the waypoint.
   */
  private plaintextZtunnelRules(service: ServiceModel, action: RuleModel['action']): AmbientRule[] {
    const ports = this.plaintextPorts(service);
    if (ports.length === 0) return [];
    const portsOf = (names: readonly string[]) => ports.filter((p) => names.includes(p.name)).map((p) => String(p.port));
    const unauthenticated = { notPrincipals: ['*'] };
    if (action === 'allow' && !this.denyByDefault(service)) {
      return [{ from: [{ source: unauthenticated }], to: [{ operation: { ports: ports.map((p) => String(p.port)) } }] }];
    }
    return this.plaintextRules(service)
      .filter((r) => r.action === action && !needsWaypoint(r))
      .map((r) => {
        const blocks = r.sources.flatMap((s) => (s.kind === 'ipBlock' ? [s.cidr] : []));
        const source = r.sources.some((s) => s.kind === 'anyone') ? unauthenticated : { ...unauthenticated, ipBlocks: [...new Set(blocks)].sort() };
        return { from: [{ source }], to: [{ operation: { ports: portsOf(r.ports) } }] };
      });
  }

  private mtls(): void {
    const { mesh } = this.model;
    const meshScope = policyScope(this.model) === 'mesh';
    if (meshScope) this.objects.push(peerAuthentication('default', mesh.rootNamespace, mesh.mtls, [meshOrigin(this.model)]));
    for (const ns of this.model.namespaces) {
      if (ns.mtls !== undefined || !meshScope)
        this.objects.push(peerAuthentication('default', ns.name, namespaceMtls(this.model, ns.name), [namespaceOrigin(ns)]));
    }
    for (const svc of this.model.services) {
      const portExceptions = svc.ports.filter((p) => p.mtls !== undefined);
      if (svc.mtls === undefined && portExceptions.length === 0) continue;
      // Keyed by container port, as for sidecars (§6); each port gets its effective mode.
      const portLevelMtls = Object.fromEntries(portExceptions.map((p) => [String(p.port), { mode: effectiveMtls(this.model, svc, p) }]));
      this.objects.push(
        peerAuthentication(
          objectName(svc.name, 'mtls'),
          svc.namespace,
          svc.mtls,
          [serviceOrigin(svc)],
          svc.selector,
          portExceptions.length > 0 ? portLevelMtls : undefined,
        ),
      );
    }
  }

  /** Namespace and Service labels that put the model's workloads on the ambient data plane and its waypoints (§1). */
  private dataPlane(): void {
    for (const ns of this.model.namespaces) {
      this.patches.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.name, labels: { [DATAPLANE_MODE_LABEL]: 'ambient' } } });
    }
    // The waypoint serves the namespace: its origin is the namespace's declaration, not the rules that need it
    // (which would rewrite it whenever one of them changes).
    const namespaces = new Map<string, Origin[]>();
    for (const svc of this.waypointServices) {
      const declared = this.model.namespaces.find((n) => n.name === svc.namespace);
      namespaces.set(svc.namespace, declared === undefined ? [] : [namespaceOrigin(declared)]);
      this.patches.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: svc.name, namespace: svc.namespace, labels: { [USE_WAYPOINT_LABEL]: WAYPOINT_NAME } },
      });
    }
    for (const ns of [...namespaces.keys()].sort()) this.objects.push(waypointGateway(ns, namespaces.get(ns) ?? []));
  }

  private authorization(): void {
    for (const ns of this.model.namespaces) {
      // No selector: every ztunnel-captured pod of the namespace denies what no ALLOW policy admits (§2).
      if (namespaceDefaultAction(this.model, ns.name) === 'deny') {
        this.objects.push(
          authorizationPolicy(
            'allow-nothing',
            ns.name,
            undefined,
            undefined,
            [namespaceOrigin(ns), meshOrigin(this.model)],
            undefined,
            namespaceEnforcement(this.model, ns.name) === 'audit',
          ),
        );
      }
    }
    for (const destination of this.model.services) {
      const denyByDefault = this.denyByDefault(destination);
      const audit = this.audited(destination);
      const ztunnel = { selector: { matchLabels: destination.selector } };
      const portNumbers = destination.ports.map((p) => String(p.port));
      const namespaceDenies = namespaceDefaultAction(this.model, destination.namespace) === 'deny';
      const namespaceEnforced = namespaceDenies && namespaceEnforcement(this.model, destination.namespace) === 'enforce';
      // The namespace's allow-nothing is the service's default-deny only when it is enforced (or audited) as the service is.
      const closedByNamespace = namespaceDenies && namespaceEnforcement(this.model, destination.namespace) === (audit ? 'audit' : 'enforce');
      if (audit && namespaceEnforced) {
        this.objects.push(
          authorizationPolicy(
            objectName(destination.name, 'audit'),
            destination.namespace,
            ztunnel,
            'ALLOW',
            [serviceOrigin(destination)],
            [{ to: [{ operation: { ports: portNumbers } }] }],
          ),
        );
      }
      if (denyByDefault && !closedByNamespace) {
        this.objects.push(
          authorizationPolicy(
            objectName(destination.name, 'allow-nothing'),
            destination.namespace,
            ztunnel,
            'ALLOW',
            [serviceOrigin(destination)],
            undefined,
            audit,
          ),
        );
      }
      if (!denyByDefault && namespaceDenies && !this.waypointed.has(destination.id)) {
        // An 'allow' service in a 'deny' namespace: its ztunnel admits every client on its ports.
        this.objects.push(
          authorizationPolicy(
            objectName(destination.name, 'allow'),
            destination.namespace,
            ztunnel,
            'ALLOW',
            [serviceOrigin(destination)],
            [{ to: [{ operation: { ports: portNumbers } }] }],
            audit,
          ),
        );
      }
      const rules = rulesTo(this.model, destination.id);
      const behindWaypoint = this.waypointed.has(destination.id);
      const attachment: Attachment = behindWaypoint
        ? { targetRefs: [{ group: '', kind: 'Service', name: destination.name }] }
        : { selector: { matchLabels: destination.selector } };
      const compiled = (action: RuleModel['action']) =>
        rules.filter((r) => r.action === action).flatMap((r) => ruleOf(this.model, r, destination, this.services));
      const lines = (action: RuleModel['action']) => rules.filter((r) => r.action === action).map(ruleOrigin);
      const allows = denyByDefault ? compiled('allow') : [];
      const denies = compiled('deny');
      // A waypoint enforces only policies attached to it, so the namespace's allow-nothing does not reach it:
      // deny by default needs an ALLOW policy on the waypoint even when it has no rule (§4).
      if (allows.length > 0 || (denyByDefault && behindWaypoint)) {
        this.objects.push(
          authorizationPolicy(
            objectName(destination.name, 'allow'),
            destination.namespace,
            attachment,
            'ALLOW',
            allows.length > 0 ? lines('allow') : [serviceOrigin(destination)],
            allows.length > 0 ? allows : undefined,
            audit,
          ),
        );
      }
      if (denies.length > 0)
        this.objects.push(authorizationPolicy(objectName(destination.name, 'deny'), destination.namespace, attachment, 'DENY', lines('deny'), denies, audit));
      if (behindWaypoint) {
        // Behind a waypoint the destination ztunnel sees the waypoint's identity, not the caller's (§5): admit
        // it, and plaintext clients as the model says (§7), so a mesh caller that bypasses the waypoint is refused.
        const selector = { selector: { matchLabels: destination.selector } };
        const waypoint = principal(this.model, destination.namespace, WAYPOINT_NAME);
        const admit = [{ from: [{ source: { principals: [waypoint] } }] }, ...this.plaintextZtunnelRules(destination, 'allow')];
        this.objects.push(
          authorizationPolicy(objectName(destination.name, 'ztunnel-admit'), destination.namespace, selector, 'ALLOW', lines('allow'), admit, audit),
        );
        const refuse = this.plaintextZtunnelRules(destination, 'deny');
        if (refuse.length > 0)
          this.objects.push(
            authorizationPolicy(objectName(destination.name, 'ztunnel-refuse'), destination.namespace, selector, 'DENY', lines('deny'), refuse, audit),
          );
      }
    }
  }
}

export const istioAmbientTarget: Target = {
  name: 'istio-ambient',
  crds: ['istio', 'gateway-api'],
  kinds: [`${SECURITY}/AuthorizationPolicy`, `${SECURITY}/PeerAuthentication`, `${GATEWAY_API}/Gateway`],
  revocationNote: (destination, removed) =>
    `Istio ambient: enforced by the ztunnel of each node running ${destination.id} pods (rules without methods or paths) or by the waypoint ` +
    `in ${destination.namespace} (rules with them), once istiod pushes the new AuthorizationPolicy; confirm with \`istioctl ztunnel-config workload\` ` +
    `and a fresh call to ${destination.name}.${prunedNote(removed)}`,
  compile(model: PolicyModel, context: TargetContext): TargetOutput {
    return new AmbientCompilation(model, context).compile();
  },
};
