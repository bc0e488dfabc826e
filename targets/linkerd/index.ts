/**
 * The Linkerd target: compiles the policy model into Linkerd policy objects (`Server`,
 * `AuthorizationPolicy`, `MeshTLSAuthentication`, `NetworkAuthentication`, `HTTPRoute`, `GRPCRoute`)
 * and a Namespace patch for the default inbound policy. Facts about Linkerd come from
 * shared/docs/linkerd.md (section numbers below refer to it).
 *
 * What it grants is exactly what the model allows, or it refuses with a diagnostic:
 *  - one Server per declared port, by port NUMBER (a named port the pod lacks would silently drop
 *    the Server, §2), with `accessPolicy` always written (the v1beta3 default is `deny`, but an
 *    older apiVersion would prune it, §1);
 *  - every model rule becomes grants (terms, see ./authz.ts): an AuthorizationPolicy per term, with
 *    at most one MeshTLSAuthentication and one NetworkAuthentication ref (refs are ANDed, policies
 *    ORed, §3), so a rule with a service source and an ipBlock source is two policies;
 *  - namespace sources are written as identity strings `*.<ns>.serviceaccount.identity.linkerd.<td>`
 *    (never identityRefs), so every identity of the output is spelled with the model's trust domain
 *    in one form and one MeshTLSAuthentication can mix accounts and namespaces;
 *  - STRICT ports admit only identities (`anyone` = `*`; an ipBlock also needs `*`); PERMISSIVE
 *    ports admit as written (`anyone` = 0.0.0.0/0 and ::/0); DISABLE is refused (PC4101, §10);
 *  - deny rules are subtracted exactly (ipBlocks become `except`, removed accounts drop out of
 *    identity lists, no-op denies emit nothing) or refused (PC4102): Linkerd is allow-only (§11).
 *  - then Servers, routes and authentication objects that say the same thing for several ports are written
 *    once (./share.ts): a Server selecting `app In [..]`, a route with several parentRefs, a shared
 *    MeshTLSAuthentication named with its namespace.
 *
 * Routes. Linkerd's own `policy.linkerd.io/v1beta3` HTTPRoute is used for HTTP ports, not the Gateway
 * API one: it is installed by linkerd-crds on every cluster (the Gateway API CRDs only with
 * installGatewayAPI, §1), and `linkerd authz` silently drops AuthorizationPolicies that target
 * Gateway API HTTPRoutes (linkerd2#15618), so users' own tooling would show fewer grants than
 * exist. One HTTPRoute group, consistently. gRPC Servers only use Gateway API GRPCRoutes (an
 * HTTPRoute there is silently ignored, §6; there is no policy.linkerd.io GRPCRoute), so gRPC ports
 * get `gateway.networking.k8s.io/v1` GRPCRoutes and a warning that the CRD must be installed.
 * How routes are split so that the single best-matching route always carries exactly the model's
 * grants is explained in ./routes.ts.
 *
 * Default posture: `config.linkerd.io/default-inbound-policy` on every namespace of the model, as a
 * strategic-merge patch. Pods read it only when they are created (§7): pods must be restarted for
 * the annotation to take effect. Each port's own defaultAction (port, service, namespace, mesh) decides
 * its Server's fallback. Linkerd has no mesh-wide policy object (the cluster default is the install value
 * `proxy.defaultInboundPolicy`), so `scope: 'mesh'` is compiled only when the user states that the policy
 * lists every meshed namespace (`everyMeshedNamespaceListed`), else refused (PC4133).
 *
 * Audit: an audited service's Servers get `accessPolicy: audit`, an audited namespace the `audit` default
 * inbound policy: a request no AuthorizationPolicy admits is let through and logged (`authz.name=audit`,
 * §11). Audit also lets plaintext through (§8), so an audited STRICT port or namespace is refused (PC4134).
 */
import type { Diagnostic, RelatedInformation } from '../../diagnostics/diagnostic';
import { diagnostic } from '../../diagnostics/diagnostic';
import type { DiagnosticId } from '../../diagnostics/catalog';
import { compareStrings } from '../../model/compare';
import {
  effectiveDefaultAction,
  effectiveEnforcement,
  isHttpProtocol,
  linkerdControlPlane,
  namespaceDefaultAction,
  namespaceEnforcement,
  namespaceMtls,
  policyScope,
  pathText,
  headerMatchText,
  probeNetworksOf,
  servicesById,
  type HttpMethod,
  type MtlsMode,
  type PolicyModel,
  type PortModel,
  type RuleModel,
  type ServiceModel,
} from '../../model/model';
import type { KubernetesObject, Target, TargetContext, TargetOutput } from '../../model/target';
import { percentEncodedVariant } from '../../model/path';
import { grpcAdmitsMethods, narrowsRequests, rulesByDestination } from '../../model/resolve';
import { objectName } from '../names';
import { objectMetadata, prunedNote, ruleOrigin, serviceOrigin, type Origin } from '../metadata';
import { grpcRegionWords, httpRegionWords, identityWords, NameAllocator, networkWords, readableName } from './names';
import {
  allowTerms,
  denyPieces,
  everyoneTerm,
  identityString,
  subtractAll,
  termKey,
  type DenyPiece,
  type Refusal,
  type SourceContext,
  type Term,
} from './authz';
import { netEntryKey, type NetEntry } from './cidr';
import { parseCidr } from '../../model/cidr';
import {
  grpcKeyCoversRegion,
  grpcKeyOf,
  grpcRegions,
  headerCells,
  headerChoiceKey,
  httpPathMatch,
  httpRegions,
  MAX_HEADER_CHOICES,
  methodGroups,
  regionKey,
  scopeCoversPath,
  type GrpcKey,
  type HeaderCell,
  type HttpRegion,
  type Scope,
} from './routes';
import { linkerdProblems } from './admission';
import { compileProxyAdmin } from './admin-port';
import { checkGateways, listenerRule, serverMode } from './gateway';
import { recordSharingFacts, shareAcrossNamespaces, shareObjects, type ObjectTable } from './share';

const POLICY_GROUP = 'policy.linkerd.io';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const DEFAULT_INBOUND_POLICY = 'config.linkerd.io/default-inbound-policy';
// Route CRD limits (HTTPRoute and GRPCRoute alike): 8 matches per rule, 16 rules per route.
const MAX_MATCHES_PER_RULE = 8;
const MAX_RULES_PER_ROUTE = 16;

const PROXY_PROTOCOL = { http: 'HTTP/1', http2: 'HTTP/2', grpc: 'gRPC', tcp: 'opaque' } as const;

/** A rule as it applies to one port: its request scope, and for gRPC ports its GRPCRoute matches. */
interface PortRule {
  readonly rule: RuleModel;
  readonly scope: Scope;
  /** gRPC ports: the method matches (null: every call). */
  readonly grpc: readonly GrpcKey[] | null;
  /** A kubelet probe's GET (a rule policyc adds): its route admits the probe networks, whatever else applies. */
  readonly probe?: true;
}

/** What the routes of one port are built from. */
interface PortRoutes {
  readonly service: ServiceModel;
  readonly port: PortModel;
  readonly serverName: string;
  /** The port's rules that take part (allows under default deny, and denies). */
  readonly used: readonly PortRule[];
  /** The grants of a route whose requests these rules cover. */
  readonly routeTerms: (members: readonly PortRule[]) => Term[];
  /** The Server itself grants something, which every route inherits (doc §6). */
  readonly serverGrants: boolean;
  /** The Server is audited: a route without grants lets its requests through (logged), where no route would answer 404. */
  readonly audited: boolean;
  /** The path-scoped denies whose callers these grants admit: a raw-path variant on a route with them gets past those denies. */
  readonly bypassedDenies: (grants: readonly Term[]) => RuleModel[];
}

/** Requests of one port that one route match set covers (./routes.ts), with the route-level grants for them. */
interface Cell {
  /** HTTPRoute path/method matches, or GRPCRoute method matches. */
  readonly matches: readonly object[];
  /** gRPC's catch-all: a rule without matches. */
  readonly catchAll: boolean;
  readonly terms: readonly Term[];
  /** The rules covering these requests (the route's source annotation). */
  readonly members: readonly PortRule[];
  /** The region in words, for the route's name. */
  readonly words: string;
  /** The cell kept when a port would otherwise have no route: the catch-all. */
  readonly fallback: boolean;
  /** Indexes of the cells that rank below this one for some of its requests. */
  readonly lower: readonly number[];
}

interface Ref {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
}

/**
 * Whether two JSON values serialise alike: the same keys in the same order and equal values (what comparing their
 * `JSON.stringify` says, without writing the text; the emitter re-adds equal objects thousands of times).
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b))
    return JSON.stringify(a) === JSON.stringify(b);
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return JSON.stringify(a) === JSON.stringify(b);
  for (let i = 0; i < aKeys.length; i++) {
    const key = aKeys[i] as string;
    if (key !== bKeys[i] || !sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return JSON.stringify(a) === JSON.stringify(b);
  }
  return true;
}

function isScoped(r: PortRule, grpcPort: boolean): boolean {
  // A header condition scopes a rule too: it applies to some requests of the port only.
  if (r.rule.headers !== undefined) return true;
  return grpcPort ? r.grpc !== null : r.scope.methods !== null || r.scope.paths !== null;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Does choice `outer` strictly extend `inner` (every class of `inner` is in `outer`, and `outer` names more headers)? */
function extendsChoice(outer: ReadonlyMap<string, string>, inner: ReadonlyMap<string, string>): boolean {
  if (inner.size >= outer.size) return false;
  for (const [name, key] of inner) if (outer.get(name) !== key) return false;
  return true;
}

/** Does `inner` name only headers `outer` names (whatever their classes)? */
function namesWithin(inner: ReadonlyMap<string, string>, outer: ReadonlyMap<string, string>): boolean {
  for (const name of inner.keys()) if (!outer.has(name)) return false;
  return true;
}

/** The indexes of the items other than the `i`-th that `below` says rank below it (every pair of a port's cells is looked at). */
function indexesBelow<T>(items: readonly T[], i: number, below: (q: T) => boolean): number[] {
  const out: number[] = [];
  for (let j = 0; j < items.length; j++) if (j !== i && below(items[j] as T)) out.push(j);
  return out;
}

class LinkerdCompilation {
  /** Objects by kind/namespace/name, with the policy lines each implements (shared objects collect several). */
  private readonly objects: ObjectTable = new Map();
  private readonly names = new NameAllocator();
  readonly diagnostics: Diagnostic[] = [];
  private readonly seenDiagnostics = new Set<string>();
  private readonly services: ReadonlyMap<string, ServiceModel>;
  private readonly rulesById: ReadonlyMap<string, RuleModel>;
  /** Rules by destination, so each port looks only at its own service's rules (linear in the rules). */
  private readonly rulesByDestination: ReadonlyMap<string, readonly RuleModel[]>;

  constructor(
    private readonly model: PolicyModel,
    private readonly context: TargetContext,
  ) {
    this.services = servicesById(model);
    this.rulesById = new Map(model.rules.map((r) => [r.id, r]));
    this.rulesByDestination = rulesByDestination(model.rules.filter((r) => this.expressible(r)).flatMap((r) => listenerRule(r, this.services) ?? []));
  }

  /**
   * Linkerd has no end-user (JWT) authentication at all: its AuthorizationPolicy authenticates only the peer
   * (MeshTLSAuthentication, NetworkAuthentication; linkerd.io/2/reference/authorization-policy/), so a request
   * identity is refused (PC4111). Header conditions compile into route header matches (./routes.ts), except a deny's
   * prefix or presence condition (PC4112): Linkerd reads those as a regular expression, which never matches a header
   * value with bytes outside visible ASCII (linkerd2-proxy http/match/header.rs keeps only values `to_str` accepts),
   * so such a request would escape the deny. Both refusals are errors located at the rule; refused rules are left
   * out of the output.
   */
  private expressible(rule: RuleModel): boolean {
    const identity = rule.sources.find((s) => s.kind === 'requestIdentity');
    if (identity !== undefined) {
      this.report(
        'linkerd-request-identity',
        `Rule ${rule.id} names a request identity (JWT of ${identity.issuer}), but Linkerd authorizes only the calling workload, never an end user's token. Build this policy with --target istio, or write the rule by the caller's workload identity (a service, namespace or identity(...)) for Linkerd.`,
        rule.location,
      );
      return false;
    }
    const patterns = rule.action === 'deny' ? (rule.headers ?? []).filter((h) => h.match.kind !== 'exact') : [];
    if (patterns.length > 0) {
      this.report(
        'linkerd-header-condition',
        `Deny rule ${rule.id} has the header condition${patterns.length === 1 ? '' : 's'} ${patterns.map((h) => `'${h.name}': ${headerMatchText(h.match)}`).join(', ')}, ` +
          'which Linkerd can only match with a regular expression, and Linkerd never applies a regular expression to a header value with bytes outside visible ASCII: ' +
          "such a request would escape this deny. Deny exact values instead (exact('...'), compared byte for byte), or, with defaultAction 'deny', allow the callers only the requests they need and drop this deny; or build this policy with --target istio.",
        rule.location,
      );
      return false;
    }
    return true;
  }

  /** `port`: the port a warning located at its service is about, so the user can acknowledge it there. */
  report(id: DiagnosticId, message: string, location: RuleModel['location'], related?: readonly RelatedInformation[], port?: string): void {
    const key = `${id}\u0000${message}`;
    if (this.seenDiagnostics.has(key)) return;
    this.seenDiagnostics.add(key);
    const made = diagnostic(id, message, this.context.spanOf(location), related);
    this.diagnostics.push(port === undefined ? made : { ...made, port });
  }

  private readonly origins = new Map<RuleModel, Origin>();

  /** A rule's policy line, made once per rule (every route and grant of its ports names it). */
  private originOf(rule: RuleModel): Origin {
    let origin = this.origins.get(rule);
    if (origin === undefined) this.origins.set(rule, (origin = ruleOrigin(rule)));
    return origin;
  }

  /** Adds an object; the same name with different content is a collision (never silently merged). */
  add(object: KubernetesObject, origins: readonly Origin[]): void {
    const key = `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const previous = this.objects.get(key);
    if (previous === undefined) this.objects.set(key, { object, origins: [...origins] });
    else if (sameJson(previous.object, object)) previous.origins.push(...origins);
    else
      this.report(
        'linkerd-name-collision',
        `Two different ${object.kind} objects would both be named ${object.metadata.namespace ?? ''}/${object.metadata.name} ` +
          '(names join service and port names with "-"). Rename one of the services or ports so their joined names differ.',
        undefined,
      );
  }

  /** The emitted objects, each with the shared metadata (managed-by label, source annotation). */
  emitted(): KubernetesObject[] {
    return [...this.objects.values()].map(({ object, origins, absorbed }) => {
      const emitted = {
        ...object,
        metadata: objectMetadata(object.metadata.name, object.metadata.namespace, origins, object.metadata.labels, object.metadata.annotations),
      };
      recordSharingFacts(emitted, { origins, names: [object.metadata.name, ...(absorbed ?? [])] });
      return emitted;
    });
  }

  /** Every SPIFFE ID outside Kubernetes the model names (a trust domain's identity list also names those of its own). */
  private get namedSpiffeIds(): readonly string[] {
    return this.model.rules.flatMap((r) =>
      r.sources.flatMap((s) => (s.kind === 'spiffe' ? [s.id] : s.kind === 'both' && s.identity.kind === 'spiffe' ? [s.identity.id] : [])),
    );
  }

  compile(): void {
    this.checkScope();
    this.checkSelectors();
    const refused = this.checkSources();
    for (const service of this.model.services) {
      if (Object.keys(service.selector).length === 0 || refused.has(service.id)) continue;
      for (const port of service.ports) this.compilePort(service, port);
    }
    compileProxyAdmin(
      this.model,
      { name: (kind, namespace, preferred, key) => this.names.name(kind, namespace, preferred, key), add: (object, origins) => this.add(object, origins) },
      this.probeNetworks(),
      this.sourceContext(),
    );
    // Identical Servers, routes and authentications of a namespace are written once (./share.ts); what several
    // namespaces share is written after, by `shareAcross`.
    shareObjects(this.objects);
  }

  private sourceContextOnce: Omit<SourceContext, 'mode'> | undefined;

  /** How model sources read on this mesh, apart from a port's mTLS mode; built once per compile (every port reads it). */
  private sourceContext(): Omit<SourceContext, 'mode'> {
    return (this.sourceContextOnce ??= {
      trustDomain: this.model.mesh.trustDomain,
      controlPlane: linkerdControlPlane(this.model.mesh),
      namedSpiffeIds: this.namedSpiffeIds,
      services: this.services,
      invalidSource: (rule, source, why) =>
        this.report(
          source.kind === 'ipBlock' ? 'invalid-cidr' : 'undeclared-service',
          `A source of rule ${rule.id} cannot be compiled for Linkerd: ${why}.`,
          rule.location,
        ),
    });
  }

  /** Linkerd has no mesh-wide object: a mesh-scope policy must say that it names every meshed namespace. */
  private checkScope(): void {
    const { mesh } = this.model;
    if (policyScope(this.model) === 'mesh' && mesh.everyMeshedNamespaceListed !== true) {
      this.report(
        'linkerd-mesh-scope',
        `This policy's scope is 'mesh' (the default), but Linkerd has no mesh-wide policy object: the build would annotate only ` +
          `${this.model.namespaces.map((ns) => ns.name).join(', ') || 'no namespace'}, and every other meshed namespace keeps the install-time ` +
          'default (proxy.defaultInboundPolicy, all-unauthenticated unless set), accepting plaintext. Either list every meshed namespace in ' +
          "`namespaces` and set `everyMeshedNamespaceListed: true` in mesh({...}), or write `scope: 'namespaces'` to govern only the listed ones.",
        mesh.location,
      );
    }
    for (const ns of this.model.namespaces) {
      // Only a 'deny' namespace gets the audit default policy (an 'allow' one admits everyone STRICT lets in).
      const audited = namespaceEnforcement(this.model, ns.name) === 'audit' && namespaceDefaultAction(this.model, ns.name) === 'deny';
      if (audited && namespaceMtls(this.model, ns.name) === 'STRICT') {
        this.report(
          'linkerd-audit-strict',
          `Namespace ${ns.name} is audited and STRICT, but Linkerd's audit default policy also admits plaintext clients (docs/linkerd.md §11), ` +
            "which STRICT refuses. While auditing, give the namespace mtls: 'PERMISSIVE' (and make it STRICT when you enforce).",
          ns.location,
        );
      }
    }
  }

  /**
   * What only Istio understands: the original client address (remoteIpBlocks), Istio's ingress gateway (./gateway.ts),
   * and an identity-AND-network deny. Returns the destinations not compiled.
   */
  private checkSources(): Set<string> {
    const refused = checkGateways(this.model, this.services, (id, message, location) => this.report(id, message, location));
    for (const rule of this.model.rules) {
      for (const source of rule.sources) {
        if (source.kind === 'remoteIpBlock') {
          this.report(
            'linkerd-remote-ip',
            `remoteIpBlocks('${source.cidr}') matches the original client address from X-Forwarded-For, which Linkerd authorization never reads ` +
              '(a NetworkAuthentication matches the connection address only). Enforce it at your ingress controller, or write ipBlocks(...) for the address of the connection.',
            rule.location,
          );
        }
        if (source.kind === 'both' && rule.action === 'deny') {
          this.report(
            'linkerd-both-in-deny',
            'Linkerd is allow-only, and an identity-AND-network deny cannot be subtracted from its grants (it would need "identity except from these networks"). ' +
              'Deny the identity alone, or the network alone with ipBlocks(...), or allow the callers that should get in explicitly.',
            rule.location,
          );
        }
      }
    }
    return refused;
  }

  /** Doc §2: an empty selector selects every pod; overlapping Servers are resolved by age. */
  private checkSelectors(): void {
    const services = this.model.services;
    for (const s of services) {
      if (Object.keys(s.selector).length === 0)
        this.report(
          'linkerd-empty-selector',
          `Service ${s.id} has an empty selector. A Linkerd Server with an empty podSelector selects every pod in namespace ${s.namespace}, ` +
            "so this service's policy would apply to all of them. Give the service the labels of its own pods.",
          s.location,
        );
    }
    // Only services of one namespace can overlap: pairs are looked at namespace by namespace (in the model's order).
    const byNamespace = new Map<string, ServiceModel[]>();
    for (const s of services) {
      if (Object.keys(s.selector).length === 0) continue;
      const list = byNamespace.get(s.namespace);
      if (list === undefined) byNamespace.set(s.namespace, [s]);
      else list.push(s);
    }
    for (const list of byNamespace.values()) this.checkOverlaps(list);
  }

  /** Services of one namespace, none with an empty selector, whose Servers would select the same pods on the same port. */
  private checkOverlaps(services: readonly ServiceModel[]): void {
    const subset = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean => Object.entries(a).every(([k, v]) => b[k] === v);
    for (let i = 0; i < services.length; i++) {
      for (let j = i + 1; j < services.length; j++) {
        const a = services[i] as ServiceModel;
        const b = services[j] as ServiceModel;
        if (!subset(a.selector, b.selector) && !subset(b.selector, a.selector)) continue;
        for (const pa of a.ports) {
          if (!b.ports.some((pb) => pb.port === pa.port)) continue;
          this.report(
            'linkerd-server-overlap',
            `Services ${a.id} and ${b.id} select the same pods (one selector contains the other) and both declare port ${pa.port}. ` +
              'Linkerd would keep only the older of the two Servers and silently ignore the other. Make the selectors disjoint or use different ports.',
            b.location,
            [
              {
                message: `${a.id} is declared here`,
                ...(this.context.spanOf(a.location) === undefined ? {} : { span: this.context.spanOf(a.location) as NonNullable<Diagnostic['span']> }),
              },
            ],
          );
        }
      }
    }
  }

  private relatedRules(ids: readonly string[], message: string): RelatedInformation[] {
    return ids.flatMap((id) => {
      const rule = this.rulesById.get(id);
      if (rule === undefined) return [];
      const span = this.context.spanOf(rule.location);
      return [{ message: `${message} (rule ${id})`, ...(span === undefined ? {} : { span }) }];
    });
  }

  /** The rules of one port, normalised; rules the port can never see are dropped (exact). */
  private portRules(service: ServiceModel, port: PortModel): PortRule[] {
    const out: PortRule[] = [];
    for (const rule of this.rulesByDestination.get(service.id) ?? []) {
      if (!rule.ports.includes(port.name)) continue;
      const methods = rule.methods ?? null;
      const paths = rule.paths ?? null;
      if (!isHttpProtocol(port.protocol)) {
        // The validator refuses methods and paths on a TCP port (PC3008); as in decide(), such a rule never matches here.
        if (!narrowsRequests(rule)) out.push({ rule, scope: { methods: null, paths: null }, grpc: null });
        continue;
      }
      if (port.protocol !== 'grpc') {
        out.push({ rule, scope: { methods, paths }, grpc: null });
        continue;
      }
      // gRPC: every call is a POST (Linkerd's GRPCRoute matches nothing else), so a method list
      // without POST never matches on this port, and one with POST is no constraint at all.
      if (!grpcAdmitsMethods(rule.methods)) continue;
      let keys: GrpcKey[] | null = null;
      if (paths !== null) {
        keys = [];
        let all = false;
        let invalid = false;
        for (const m of paths) {
          const key = grpcKeyOf(m);
          if (key === 'all') all = true;
          else if (key === undefined) {
            invalid = true;
            this.report(
              'linkerd-grpc-path',
              `Path '${pathText(m)}' of rule ${rule.id} cannot be matched on gRPC port ${port.name} of ${service.id}: Linkerd routes gRPC ` +
                "calls only by service and method (GRPCRoute). Write '/package.Service/Method' for one method or '/package.Service/*' for every method of a service.",
              rule.location,
            );
          } else keys.push(key);
        }
        if (invalid) continue;
        if (all) keys = null;
      }
      out.push({ rule, scope: { methods: null, paths: null }, grpc: keys });
    }
    return out;
  }

  private compilePort(service: ServiceModel, port: PortModel): void {
    const mode: MtlsMode = serverMode(this.model, service, port);
    const where = `port ${port.name} (${port.port}) of ${service.id}`;
    if (mode === 'DISABLE') {
      this.report(
        'linkerd-mtls-disable',
        `The effective mTLS mode of ${where} is DISABLE, which Linkerd policy objects cannot express: Linkerd always uses mTLS between ` +
          "meshed pods, and only the skip-inbound-ports annotation turns it off, which also removes every policy on the port. Use mtls: 'PERMISSIVE' for this " +
          'service or port when building for Linkerd, or build this service for Istio only.',
        service.location,
      );
      return;
    }
    const namespace = service.namespace;
    const serverName = this.names.name('Server', namespace, objectName(service.name, port.name), `${service.id}/${port.name}`);
    const grpcPort = port.protocol === 'grpc';
    const rules = this.portRules(service, port);
    const allowDefault = effectiveDefaultAction(this.model, service, port) === 'allow';
    const audit = effectiveEnforcement(this.model, service) === 'audit';
    const allows = allowDefault ? [] : rules.filter((r) => r.rule.action === 'allow');
    const denies = rules.filter((r) => r.rule.action === 'deny');

    const server = (accessPolicy: string): KubernetesObject => ({
      apiVersion: `${POLICY_GROUP}/v1beta3`,
      kind: 'Server',
      metadata: { name: serverName, namespace },
      spec: {
        podSelector: { matchLabels: { ...service.selector } },
        port: port.port,
        proxyProtocol: PROXY_PROTOCOL[port.protocol],
        accessPolicy,
      },
    });

    // Kubelet probes (model.ts, 6.): each HTTP probe path gets its own GET route admitting the probe networks,
    // which replaces Linkerd's automatic probe route (linkerd.md §6) on STRICT ports too.
    const probePaths =
      port.protocol === 'http' || port.protocol === 'http2' ? [...new Set((port.probes ?? []).flatMap((p) => (p.kind === 'http' ? [p.path] : [])))] : [];
    const probes: PortRule[] = probePaths.map((path) => ({
      rule: {
        id: `probe:${path}`,
        action: 'allow',
        sources: [],
        destination: service.id,
        ports: [port.name],
        methods: ['GET'],
        paths: [{ kind: 'exact', value: path }],
      },
      scope: { methods: ['GET'], paths: [{ kind: 'exact', value: path }] },
      grpc: null,
      probe: true,
    }));
    this.checkProbes(service, port, probePaths.length > 0);

    if (allowDefault && denies.length === 0 && probes.length === 0) {
      // Everything is allowed: the Server's own fallback says so, per the port's mTLS mode.
      this.add(server(mode === 'STRICT' ? 'all-authenticated' : 'all-unauthenticated'), [serviceOrigin(service)]);
      return;
    }
    if (audit && mode === 'STRICT') {
      this.report(
        'linkerd-audit-strict',
        `${where} is audited and STRICT, but a Linkerd Server with accessPolicy: audit admits every client, plaintext ones included ` +
          "(docs/linkerd.md §11), which STRICT refuses. While auditing, give the service (or port) mtls: 'PERMISSIVE', and make it STRICT when you enforce.",
        service.location,
      );
      return;
    }
    // Audit: what no AuthorizationPolicy admits is let through and logged, not refused (§11).
    this.add(server(audit ? 'audit' : 'deny'), [serviceOrigin(service)]);

    const sources: SourceContext = { mode, ...this.sourceContext() };
    const grantsOf = (rs: readonly PortRule[]): Term[] =>
      allowDefault ? [everyoneTerm(mode)] : rs.flatMap((r) => (r.rule.action === 'allow' && r.probe !== true ? allowTerms(r.rule, sources) : []));
    // Never narrowed by a deny: the kubelet's probe succeeds whatever the rules say (model.ts, 6.).
    const probeTerms = (rs: readonly PortRule[]): Term[] =>
      rs.some((r) => r.probe === true) ? [{ ids: null, nets: this.probeNetworks(), rules: rs.filter((r) => r.probe === true).map((r) => r.rule.id) }] : [];
    const piecesOf = (rs: readonly PortRule[]): DenyPiece[] => rs.flatMap((r) => (r.rule.action === 'deny' ? denyPieces(r.rule, sources) : []));
    const resolve = (grants: readonly Term[], pieces: readonly DenyPiece[]): Term[] => {
      const { terms, refusals } = subtractAll(grants, pieces);
      for (const refusal of refusals) this.refuse(refusal, where);
      return terms;
    };
    const serverRef: Ref = { group: POLICY_GROUP, kind: 'Server', name: serverName };
    const scoped = (r: PortRule): boolean => isScoped(r, grpcPort);
    const used = [...allows, ...denies, ...probes];

    if (!used.some(scoped)) {
      this.grant(service, serverRef, resolve(grantsOf(allows), piecesOf(denies)));
      return;
    }

    // Routes. Port-wide grants go on the Server (every route inherits them, §6) as long as every
    // deny is port-wide too; a deny scoped to some routes must not be bypassed by a grant inherited
    // from the Server, so then every grant is attached to its routes instead.
    const scopedDeny = denies.some(scoped);
    const serverTerms = scopedDeny ? [] : resolve(grantsOf(allows.filter((r) => !scoped(r))), piecesOf(denies));
    this.grant(service, serverRef, serverTerms);
    const routeTerms = (members: readonly PortRule[]): Term[] => [
      ...(scopedDeny ? resolve(grantsOf(members), piecesOf(members)) : resolve(grantsOf(members.filter(scoped)), piecesOf(denies))),
      ...probeTerms(members),
    ];

    const keys = (terms: readonly Term[]): string => terms.map(termKey).sort(compareStrings).join('\n');
    const bypassedDenies = (grants: readonly Term[]): RuleModel[] => {
      const unchanged = keys(subtractAll(grants, []).terms);
      return denies.filter((d) => d.scope.paths !== null && keys(subtractAll(grants, piecesOf([d])).terms) !== unchanged).map((d) => d.rule);
    };

    if (grpcPort) {
      this.grpcRoutes({ service, port, serverName, used, routeTerms, serverGrants: serverTerms.length > 0, audited: audit, bypassedDenies });
      this.report(
        'linkerd-grpcroute-crd',
        `The rules of gRPC ${where} are compiled to Gateway API GRPCRoutes (gateway.networking.k8s.io/v1), the only routes Linkerd applies to ` +
          'a gRPC Server. linkerd-crds installs that CRD only with installGatewayAPI=true: install it (or the Gateway API CRDs) before applying.',
        service.location,
        undefined,
        port.name,
      );
    } else {
      this.httpRoutes({ service, port, serverName, used, routeTerms, serverGrants: serverTerms.length > 0, audited: audit, bypassedDenies });
      if (probes.length === 0)
        this.report(
          'linkerd-probes-need-route',
          `${where} gets HTTPRoutes, so Linkerd no longer authorizes kubelet probes on it automatically: ` +
            "a probe on this port would get 404 or 403. Declare the port's probes (probes: { readiness: { path: '/healthz' } }) and policyc writes their route.",
          service.location,
        );
    }
  }

  /** The model's probe networks as Linkerd network entries. */
  private probeNetworks(): NetEntry[] {
    return probeNetworksOf(this.model.mesh).flatMap((text) => {
      const cidr = parseCidr(text);
      return cidr === undefined ? [] : [{ cidr, except: [] }];
    });
  }

  /** What Linkerd makes of the port's probes beyond their routes. */
  private checkProbes(service: ServiceModel, port: PortModel, httpProbes: boolean): void {
    const where = `port ${port.name} (${port.port}) of ${service.id}`;
    if ((port.probes ?? []).some((p) => p.kind === 'tcp'))
      this.report(
        'linkerd-tcp-probe',
        `The TCP probe of ${where} always succeeds on Linkerd while the proxy runs: the proxy accepts every inbound connection itself ` +
          "(linkerd/linkerd2#7777), so the probe no longer tests the application. Use an HTTP probe ({ path: '/healthz' } on an HTTP port) or an exec probe.",
        service.location,
        undefined,
        port.name,
      );
    const everywhere = probeNetworksOf(this.model.mesh).some((c) => parseCidr(c)?.prefix === 0);
    if (httpProbes && everywhere)
      this.report(
        'linkerd-probe-networks-open',
        `The probe route of ${where} admits GET on its probe paths from the probe networks, unauthenticated, and they cover every address: ` +
          "on Linkerd any client can read those paths (Linkerd cannot tell the kubelet from another plaintext client). Set mesh({ probeNetworks: ['<your node CIDRs>'] }).",
        this.model.mesh.location,
      );
  }

  /**
   * The routes of one port. Its requests are split into disjoint cells (./routes.ts: path regions and
   * method groups, or gRPC regions), each with the grants of the rules covering it. Only the best-matching
   * route decides a request and its authorizations are the same for every rule of the route (doc §6), so
   * cells with the same grants are one route, with one rule per 8 matches: which match wins can change only
   * between cells of that route, which decide alike. A cell is left out when every cell ranking below it for
   * its requests has the same grants (they decide its requests alike), or when nothing ranks below it and it
   * refuses everyone (a request no route matches gets 404, refused as the 403 of a route without grants), unless
   * the Server is audited: there the route without grants lets its requests through, a 404 would not (§11). The
   * port keeps at least one route, so its probes stay refused as before.
   */
  private routes(at: PortRoutes, cells: readonly Cell[], kind: 'HTTPRoute' | 'GRPCRoute'): void {
    const grantKeys = new Map(cells.map((c) => [c, c.terms.map(termKey).join(';')]));
    const grantKey = (c: Cell): string => grantKeys.get(c) as string;
    // Left out, a cell's requests go to the best cell below them (all decide as it does), or to no route (404).
    const dropped = (c: Cell): boolean =>
      c.lower.length === 0 ? c.terms.length === 0 && !at.serverGrants && !at.audited : c.lower.every((i) => grantKey(cells[i] as Cell) === grantKey(c));
    let kept = cells.filter((c) => !dropped(c));
    if (kept.length === 0) kept = cells.filter((c) => c.fallback);
    const groups = new Map<string, Cell[]>();
    for (const cell of kept) {
      const key = grantKey(cell);
      const members = groups.get(key);
      if (members === undefined) groups.set(key, [cell]);
      else members.push(cell);
    }
    const group = kind === 'HTTPRoute' ? POLICY_GROUP : GATEWAY_GROUP;
    const version = kind === 'HTTPRoute' ? 'v1beta3' : 'v1';
    for (const [termsKey, members] of groups) {
      const first = members[0] as Cell;
      const words = first.terms.length === 0 ? 'default' : first.words;
      const key = `${at.serverName}|${termsKey}`;
      const base = this.names.name(kind, at.service.namespace, readableName([at.service.name, at.port.name, words], key), key);
      const matches = members.flatMap((c) => c.matches);
      const rules: object[] = chunks(matches, MAX_MATCHES_PER_RULE).map((m) => ({ matches: m }));
      if (members.some((c) => c.catchAll)) rules.push({});
      const origins = members.flatMap((c) => c.members.map((r) => this.originOf(r.rule)));
      chunks(rules, MAX_RULES_PER_ROUTE).forEach((part, i) => {
        // More than 16 rules (128 matches) do not fit one route: the rest go to routes with the same grants.
        const name = i === 0 ? base : this.names.name(kind, at.service.namespace, readableName([base, String(i + 1)], `${key}|${i}`), `${key}|${i}`);
        this.add(
          {
            apiVersion: `${group}/${version}`,
            kind,
            metadata: { name, namespace: at.service.namespace },
            spec: { parentRefs: [{ group: POLICY_GROUP, kind: 'Server', name: at.serverName }], rules: part },
          },
          origins,
        );
        this.grant(at.service, { group, kind, name }, first.terms);
      });
    }
  }

  /**
   * The header cells of one path region and method group (./routes.ts `headerCells`), or the group alone when too
   * many combinations would be needed (refused, PC4145).
   */
  private headerSplit(members: readonly PortRule[], port: PortModel, service: ServiceModel): HeaderCell<PortRule>[] {
    const cells = headerCells(members, (r) => r.rule.headers);
    if (cells !== 'too-many') return cells;
    const conditioned = members.filter((r) => r.rule.headers !== undefined);
    for (const r of conditioned)
      this.report(
        'linkerd-header-combinations',
        `Rule ${r.rule.id} has header conditions on port ${port.name} (${port.port}) of ${service.id}, and the header conditions of the rules there (${[...new Set(conditioned.flatMap((c) => (c.rule.headers ?? []).map((h) => h.name)))].sort().join(', ')}) ` +
          `combine into more than ${MAX_HEADER_CHOICES} classes of requests for one path and method, each of which would need its own Linkerd route match to keep every other request's grants exact. ` +
          'Use fewer header names or values on this port (for example one header whose exact values name the cases), or split the cases by path or method; or build this policy with --target istio.',
        r.rule.location,
      );
    return [{ classes: [], members }];
  }

  private httpRoutes(at: PortRoutes): void {
    const { service, port, used } = at;
    const regions = httpRegions(used.map((r) => r.scope));
    // The rest is written as `PathPrefix /` (ranked below every other region) unless a region holds `/` itself.
    const restOverlaps = httpPathMatch({ kind: 'rest' }, regions).type === 'PathPrefix';
    const pending: { cell: Omit<Cell, 'lower'>; region: HttpRegion; regionKey: string; group: string; specific: boolean; choice: Map<string, string> }[] = [];
    for (const region of regions) {
      const covering = used.filter((r) => scopeCoversPath(r.scope, region));
      const path = httpPathMatch(region, regions);
      if (path.value.length > 1024) {
        this.report(
          'linkerd-route-too-large',
          `The paths of port ${port.name} of ${service.id} need a route path match of ${path.value.length} characters, more than the 1024 Linkerd accepts. Use fewer or shorter paths on this port.`,
          service.location,
        );
        continue;
      }
      const groups = methodGroups(
        covering,
        (r) => r.scope,
        (r) => r.rule.id,
      );
      const key = regionKey(region);
      for (const g of groups) {
        const group = `${key}|${g.methods === null ? 'any' : g.methods.join(',')}`;
        for (const h of this.headerSplit(g.members, port, service)) {
          const terms = at.routeTerms(h.members);
          // The catch-all takes every path not in normal form (./routes.ts): its grants must not reach a path-scoped deny's callers.
          if (path.type === 'PathPrefix') for (const deny of at.bypassedDenies(terms)) this.refuseRawPathDeny(deny, port, service);
          const headers = h.classes.length === 0 ? {} : { headers: h.classes.map((c) => ({ name: c.name, type: c.match.type, value: c.match.value })) };
          const matches = g.methods === null ? [{ path, ...headers }] : g.methods.map((method: HttpMethod) => ({ path, method, ...headers }));
          pending.push({
            cell: {
              matches,
              catchAll: false,
              terms,
              members: h.members,
              words: [httpRegionWords(region), ...h.classes.map((c) => c.name)].join('-'),
              fallback: region.kind === 'rest' && g.methods === null && h.classes.length === 0,
            },
            region,
            regionKey: key,
            group,
            specific: g.methods !== null,
            choice: headerChoiceKey(h.classes),
          });
        }
      }
    }
    // What ranks below a cell for its requests (./routes.ts): in its own group the choices it strictly extends; the
    // any-method group of its region (for a method cell) and, when the rest is the `PathPrefix /` catch-all, the rest's
    // cells (for a cell of another region), each with no header the cell does not name.
    const cells = pending.map((p, i): Cell => {
      const lower = indexesBelow(pending, i, (q) => {
        const sameGroup = q.group === p.group;
        return (
          (sameGroup && extendsChoice(p.choice, q.choice)) ||
          (!sameGroup && p.specific && !q.specific && q.regionKey === p.regionKey && namesWithin(q.choice, p.choice)) ||
          (p.region.kind !== 'rest' && restOverlaps && q.region.kind === 'rest' && namesWithin(q.choice, p.choice))
        );
      });
      return { ...p.cell, lower };
    });
    this.routes(at, cells, 'HTTPRoute');
  }

  private grpcRoutes(at: PortRoutes): void {
    const { used, port, service } = at;
    const regions = grpcRegions(used.flatMap((r) => r.grpc ?? []));
    const pending: { cell: Omit<Cell, 'lower'>; region: number; below: readonly number[]; choice: Map<string, string> }[] = [];
    regions.forEach((region, i) => {
      const covering = used.filter((r) => r.grpc === null || (region.kind === 'method' && r.grpc.some((k) => grpcKeyCoversRegion(k, region))));
      // gRPC matches rank by (service, method) length, then header count: a method, then its whole service, then the catch-all.
      const serviceAt =
        region.kind === 'method' && region.key.method !== undefined
          ? regions.findIndex((r) => r.kind === 'method' && r.key.method === undefined && r.key.service === region.key.service)
          : -1;
      const below = region.kind === 'rest' ? [] : [...(serviceAt >= 0 ? [serviceAt] : []), regions.length - 1];
      for (const h of this.headerSplit(covering, port, service)) {
        const headers = h.classes.length === 0 ? {} : { headers: h.classes.map((c) => ({ name: c.name, type: c.match.type, value: c.match.value })) };
        const method =
          region.kind === 'rest'
            ? {}
            : { method: { type: 'Exact', service: region.key.service, ...(region.key.method === undefined ? {} : { method: region.key.method }) } };
        // The catch-all without headers is a rule without matches; with headers, a match of headers alone.
        const catchAll = region.kind === 'rest' && h.classes.length === 0;
        pending.push({
          cell: {
            matches: catchAll ? [] : [{ ...method, ...headers }],
            catchAll,
            terms: at.routeTerms(h.members),
            members: h.members,
            words: [grpcRegionWords(region), ...h.classes.map((c) => c.name)].join('-'),
            fallback: catchAll,
          },
          region: i,
          below,
          choice: headerChoiceKey(h.classes),
        });
      }
    });
    const cells = pending.map((p, i): Cell => {
      const lower = indexesBelow(
        pending,
        i,
        (q) => (q.region === p.region && extendsChoice(p.choice, q.choice)) || (p.below.includes(q.region) && namesWithin(q.choice, p.choice)),
      );
      return { ...p.cell, lower };
    });
    this.routes(at, cells, 'GRPCRoute');
  }

  /**
   * One AuthorizationPolicy per grant on `target`, named after the target (so a widened grant edits it in
   * place). Identities: one ServiceAccount ref for a single account (no object), otherwise a
   * MeshTLSAuthentication shared by every policy of the namespace that admits the same identities; networks:
   * a NetworkAuthentication shared the same way. Both are named after what they admit.
   */
  private grant(service: ServiceModel, target: Ref, terms: readonly Term[]): void {
    const namespace = service.namespace;
    const trustDomain = this.model.mesh.trustDomain;
    const controlPlane = linkerdControlPlane(this.model.mesh);
    const shared = (
      kind: 'MeshTLSAuthentication' | 'NetworkAuthentication',
      words: () => readonly string[],
      key: string,
      spec: object,
      origins: readonly Origin[],
    ): Ref => {
      // Most grants of a namespace name authentications it already has: their name is looked up before a readable one is made.
      const name = this.names.known(kind, namespace, key) ?? this.names.name(kind, namespace, readableName(words(), key), key);
      this.add({ apiVersion: `${POLICY_GROUP}/v1alpha1`, kind, metadata: { name, namespace }, spec }, origins);
      return { group: POLICY_GROUP, kind, name };
    };
    for (const term of terms) {
      const origins = term.rules.flatMap((id) => {
        const rule = this.rulesById.get(id);
        return rule === undefined ? [] : [this.originOf(rule)];
      });
      const refs: object[] = [];
      const only = term.ids?.length === 1 ? term.ids[0] : undefined;
      if (only?.kind === 'sa') refs.push({ group: '', kind: 'ServiceAccount', name: only.sa, namespace: only.ns });
      else if (term.ids !== null) {
        const ids = term.ids;
        const identities = [...new Set(ids.map((id) => identityString(id, trustDomain, controlPlane)))].sort(compareStrings);
        refs.push(shared('MeshTLSAuthentication', () => identityWords(ids), identities.join('\n'), { identities }, origins));
      }
      if (term.nets !== null) {
        const entries = [...term.nets].sort((a, b) => compareStrings(netEntryKey(a), netEntryKey(b)));
        const networks = entries.map((e) => ({
          cidr: e.cidr.text,
          ...(e.except.length === 0 ? {} : { except: e.except.map((x) => x.text).sort(compareStrings) }),
        }));
        refs.push(shared('NetworkAuthentication', () => networkWords(entries), entries.map(netEntryKey).join('\n'), { networks }, origins));
      }
      // Never an empty ref list: that would admit anyone from anywhere (§3). Terms always carry one.
      if (refs.length === 0) continue;
      const what = term.ids === null ? 'networks' : term.nets === null ? '' : 'identity-networks';
      const key = `${target.kind}/${target.name}|${termKey(term)}`;
      this.add(
        {
          apiVersion: `${POLICY_GROUP}/v1alpha1`,
          kind: 'AuthorizationPolicy',
          metadata: { name: this.names.name('AuthorizationPolicy', namespace, readableName([target.name, what], key), key), namespace },
          spec: {
            targetRef: { group: target.group, kind: target.kind, name: target.name },
            requiredAuthenticationRefs: refs,
          },
        },
        origins,
      );
    }
  }

  /** Linkerd matches the raw path: a deny on a path is bypassed by its variants where the catch-all route admits the same callers. */
  private refuseRawPathDeny(deny: RuleModel, port: PortModel, service: ServiceModel): void {
    const example = deny.paths?.[0]?.value ?? '/debug/';
    const encoded = percentEncodedVariant(example) ?? example;
    this.report(
      'linkerd-raw-path-deny',
      `Deny rule ${deny.id} cannot be compiled for Linkerd on port ${port.name} (${port.port}) of ${service.id}: Linkerd matches the raw request path, ` +
        `so '${encoded}' or '/x/..${example}' (which the application reads as '${example}') would reach the route that admits these callers on every other path. ` +
        "Instead, with defaultAction 'deny', allow these callers only the paths they need (for example paths: ['/api/*']) rather than the whole port, and drop this deny; " +
        'or build this service for Istio, which normalizes paths before matching.',
      deny.location,
    );
  }

  private refuse(refusal: Refusal, where: string): void {
    const deny = refusal.deny;
    this.report(
      'linkerd-deny-inexpressible',
      `Deny rule ${deny.id} cannot be compiled for Linkerd on ${where}. Linkerd authorization is allow-only, so a deny must become a ` +
        `narrower allow, and here it cannot: ${refusal.reason}. Instead, allow the callers that should get in explicitly ` +
        "(services or identities rather than a namespace, 'authenticated' or 'anyone'; with defaultAction 'deny'), and drop this deny.",
      deny.location,
      this.relatedRules(refusal.allowRules, 'the allow it would have to narrow'),
    );
  }

  /**
   * The namespaces' `default-inbound-policy: deny` also governs the proxy admin port 4191, which no model
   * port is: linkerd-viz's Prometheus stops scraping the proxies. `linkerd viz allow-scrapes` writes the
   * Server and authorization it needs (https://linkerd.io/2.15/reference/cli/viz, allow-scrapes).
   */
  checkAdminPort(): void {
    // Declared with linkerd.proxyAdmin, the admin port gets its own Server and grants (./admin-port.ts).
    if (this.model.mesh.defaultAction !== 'deny' || this.model.namespaces.length === 0 || this.model.mesh.linkerd?.proxyAdmin !== undefined) return;
    const names = this.model.namespaces.map((ns) => ns.name);
    this.report(
      'linkerd-admin-port-closed',
      `defaultAction 'deny' annotates namespace${names.length === 1 ? '' : 's'} ${names.join(', ')} with default-inbound-policy: deny, which also closes ` +
        "the Linkerd proxy's admin port 4191: linkerd-viz's Prometheus can no longer scrape those proxies. If you run linkerd-viz, apply the output of " +
        names.map((n) => `\`linkerd viz allow-scrapes --namespace ${n}\``).join(', ') +
        ' next to these manifests, or declare the scrapers: mesh({ linkerd: { proxyAdmin: { scrapedBy: [linkerdVizPrometheus()] } } }).',
      this.model.mesh.location,
    );
  }

  namespacePatches(): KubernetesObject[] {
    return this.model.namespaces.map((ns) => {
      const value =
        namespaceDefaultAction(this.model, ns.name) === 'allow'
          ? namespaceMtls(this.model, ns.name) === 'STRICT'
            ? 'all-authenticated'
            : 'all-unauthenticated'
          : namespaceEnforcement(this.model, ns.name) === 'audit'
            ? 'audit'
            : 'deny';
      // Pods copy this annotation when they are created: existing pods must be restarted (§7).
      return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.name, annotations: { [DEFAULT_INBOUND_POLICY]: value } } };
    });
  }
}

/** Where authentications of several namespaces are written once (./share.ts), or undefined: nowhere. */
function sharedNamespaceOf(model: PolicyModel): string | undefined {
  const controlPlane = linkerdControlPlane(model.mesh);
  // Not when the policy declares that namespace itself: its objects are then a namespace's own, not the ones every namespace reads.
  return policyScope(model) === 'mesh' && !model.namespaces.some((ns) => ns.name === controlPlane) ? controlPlane : undefined;
}

/** Every namespace's objects as compiling it alone gives them: all but what several namespaces share (`shareAcross`). */
function compileEach(model: PolicyModel, context: TargetContext): TargetOutput {
  const compilation = new LinkerdCompilation(model, context);
  compilation.compile();
  compilation.checkAdminPort();
  return { objects: compilation.emitted(), patches: compilation.namespacePatches(), diagnostics: compilation.diagnostics };
}

/**
 * The whole output from `compileEach`'s: authentications that several namespaces of a mesh-scope policy use written
 * once in the control-plane namespace (./share.ts `shareAcrossNamespaces`), then the webhook's checks on the result.
 */
function shareAcross(model: PolicyModel, each: TargetOutput, context: TargetContext): TargetOutput {
  const objects = shareAcrossNamespaces(each.objects, sharedNamespaceOf(model), (name, namespace, origins) => objectMetadata(name, namespace, origins));
  const problems = [...new Set(linkerdProblems(objects))].map((problem) =>
    diagnostic('linkerd-invalid-object', `Emitted Linkerd object is invalid: ${problem}.`, context.spanOf(undefined), undefined),
  );
  return { objects, ...(each.patches === undefined ? {} : { patches: each.patches }), diagnostics: [...each.diagnostics, ...problems] };
}

/** The Linkerd target (`--target linkerd`). */
export const linkerdTarget: Target = {
  name: 'linkerd',
  crds: ['linkerd'],
  kinds: [
    `${POLICY_GROUP}/v1beta3/Server`,
    `${POLICY_GROUP}/v1alpha1/AuthorizationPolicy`,
    `${POLICY_GROUP}/v1alpha1/MeshTLSAuthentication`,
    `${POLICY_GROUP}/v1alpha1/NetworkAuthentication`,
    `${POLICY_GROUP}/v1beta3/HTTPRoute`,
    `${GATEWAY_GROUP}/v1/GRPCRoute`,
  ],
  revocationNote: (destination, removed) =>
    `Linkerd: ${removed.length === 0 ? 'the revocation edits objects in place; ' : ''}a deleted MeshTLSAuthentication or AuthorizationPolicy keeps authorizing until the destination's pods restart (linkerd/linkerd2#15548): after applying, restart ${destination.name} (e.g. \`kubectl -n ${destination.namespace} rollout restart deployment/${destination.name}\`) and check that the call is refused.${prunedNote(removed)}`,
  compile: (model, context) => shareAcross(model, compileEach(model, context), context),
  acrossNamespaces: { compileEach, share: shareAcross },
};
