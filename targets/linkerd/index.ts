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
  effectiveMtls,
  isHttpProtocol,
  namespaceDefaultAction,
  namespaceEnforcement,
  namespaceMtls,
  policyScope,
  pathText,
  servicesById,
  type HttpMethod,
  type MtlsMode,
  type PolicyModel,
  type PortModel,
  type RuleModel,
  type ServiceModel,
} from '../../model/model';
import type { KubernetesObject, Target, TargetContext, TargetOutput } from '../../model/target';
import { shortHash } from '../../model/hash';
import { grpcAdmitsMethods, narrowsRequests, rulesByDestination } from '../../model/resolve';
import { objectName } from '../names';
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
import { netEntryKey } from './cidr';
import {
  grpcKeyCoversRegion,
  grpcKeyOf,
  grpcKeyText,
  grpcRegions,
  httpPathMatch,
  httpRegions,
  methodGroups,
  regionKey,
  scopeCoversPath,
  type GrpcKey,
  type GrpcRegion,
  type HttpRegion,
  type Scope,
} from './routes';
import { linkerdProblems } from './admission';

const POLICY_GROUP = 'policy.linkerd.io';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const DEFAULT_INBOUND_POLICY = 'config.linkerd.io/default-inbound-policy';
const MAX_MATCHES_PER_RULE = 8;

const PROXY_PROTOCOL = { http: 'HTTP/1', http2: 'HTTP/2', grpc: 'gRPC', tcp: 'opaque' } as const;

/** A rule as it applies to one port: its request scope, and for gRPC ports its GRPCRoute matches. */
interface PortRule {
  readonly rule: RuleModel;
  readonly scope: Scope;
  /** gRPC ports: the method matches (null: every call). */
  readonly grpc: readonly GrpcKey[] | null;
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
}

interface Ref {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
}

function isScoped(r: PortRule, grpcPort: boolean): boolean {
  return grpcPort ? r.grpc !== null : r.scope.methods !== null || r.scope.paths !== null;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

class LinkerdCompilation {
  readonly objects = new Map<string, KubernetesObject>();
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
    this.rulesByDestination = rulesByDestination(model.rules.filter((r) => this.expressible(r)));
  }

  /**
   * Linkerd has no end-user (JWT) authentication at all: its AuthorizationPolicy authenticates only the peer
   * (MeshTLSAuthentication, NetworkAuthentication; linkerd.io/2/reference/authorization-policy/), so a request
   * identity is refused (PC4111). Header conditions are refused too (PC4112): an HTTPRoute's header matches
   * (policy.linkerd.io HTTPRoute `matches[].headers`, Exact or RegularExpression) change which route is the best
   * match for a request (more header matches win), so every route of the port would have to be split by every
   * combination of conditions to keep the grants exact; policyc does not do that yet and refuses instead of
   * guessing. Both refusals are errors located at the rule; refused rules are left out of the output.
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
    if (rule.headers !== undefined) {
      this.report(
        'linkerd-header-condition',
        `Rule ${rule.id} has header conditions (${rule.headers.map((h) => h.name).join(', ')}), which policyc cannot compile exactly into Linkerd routes (a header match changes which route wins for every request of the port). Build this policy with --target istio, or narrow the rule by methods and paths only for Linkerd.`,
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

  /** Adds an object; the same name with different content is a collision (never silently merged). */
  add(object: KubernetesObject): void {
    const key = `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const previous = this.objects.get(key);
    if (previous === undefined) this.objects.set(key, object);
    else if (JSON.stringify(previous) !== JSON.stringify(object))
      this.report(
        'linkerd-name-collision',
        `Two different ${object.kind} objects would both be named ${object.metadata.namespace ?? ''}/${object.metadata.name} ` +
          '(names join service and port names with "-"). Rename one of the services or ports so their joined names differ.',
        undefined,
      );
  }

  compile(): void {
    this.checkScope();
    this.checkSelectors();
    for (const service of this.model.services) {
      if (Object.keys(service.selector).length === 0) continue;
      for (const port of service.ports) this.compilePort(service, port);
    }
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
    const subset = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean => Object.entries(a).every(([k, v]) => b[k] === v);
    for (let i = 0; i < services.length; i++) {
      for (let j = i + 1; j < services.length; j++) {
        const a = services[i] as ServiceModel;
        const b = services[j] as ServiceModel;
        if (a.namespace !== b.namespace || Object.keys(a.selector).length === 0 || Object.keys(b.selector).length === 0) continue;
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
    const mode: MtlsMode = effectiveMtls(this.model, service, port);
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
    const serverName = objectName(service.name, port.name);
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

    if (allowDefault && denies.length === 0) {
      // Everything is allowed: the Server's own fallback says so, per the port's mTLS mode.
      this.add(server(mode === 'STRICT' ? 'all-authenticated' : 'all-unauthenticated'));
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
    this.add(server(audit ? 'audit' : 'deny'));

    const sources: SourceContext = {
      mode,
      services: this.services,
      invalidSource: (rule, source, why) =>
        this.report(
          source.kind === 'ipBlock' ? 'invalid-cidr' : 'undeclared-service',
          `A source of rule ${rule.id} cannot be compiled for Linkerd: ${why}.`,
          rule.location,
        ),
    };
    const grantsOf = (rs: readonly PortRule[]): Term[] =>
      allowDefault ? [everyoneTerm(mode)] : rs.flatMap((r) => (r.rule.action === 'allow' ? allowTerms(r.rule, sources) : []));
    const piecesOf = (rs: readonly PortRule[]): DenyPiece[] => rs.flatMap((r) => (r.rule.action === 'deny' ? denyPieces(r.rule, sources) : []));
    const resolve = (grants: readonly Term[], pieces: readonly DenyPiece[]): Term[] => {
      const { terms, refusals } = subtractAll(grants, pieces);
      for (const refusal of refusals) this.refuse(refusal, where);
      return terms;
    };
    const serverRef: Ref = { group: POLICY_GROUP, kind: 'Server', name: serverName };
    const scoped = (r: PortRule): boolean => isScoped(r, grpcPort);
    const used = [...allows, ...denies];

    if (!used.some(scoped)) {
      this.grant(service, port, serverRef, resolve(grantsOf(allows), piecesOf(denies)));
      return;
    }

    // Routes. Port-wide grants go on the Server (every route inherits them, §6) as long as every
    // deny is port-wide too; a deny scoped to some routes must not be bypassed by a grant inherited
    // from the Server, so then every grant is attached to its routes instead.
    const scopedDeny = denies.some(scoped);
    if (!scopedDeny) this.grant(service, port, serverRef, resolve(grantsOf(allows.filter((r) => !scoped(r))), piecesOf(denies)));
    const routeTerms = (members: readonly PortRule[]): Term[] =>
      scopedDeny ? resolve(grantsOf(members), piecesOf(members)) : resolve(grantsOf(members.filter(scoped)), piecesOf(denies));

    if (grpcPort) {
      this.grpcRoutes({ service, port, serverName, used, routeTerms });
      this.report(
        'linkerd-grpcroute-crd',
        `The rules of gRPC ${where} are compiled to Gateway API GRPCRoutes (gateway.networking.k8s.io/v1), the only routes Linkerd applies to ` +
          'a gRPC Server. linkerd-crds installs that CRD only with installGatewayAPI=true: install it (or the Gateway API CRDs) before applying.',
        service.location,
        undefined,
        port.name,
      );
    } else {
      this.httpRoutes({ service, port, serverName, used, routeTerms });
      this.report(
        'linkerd-probes-need-route',
        `${where} gets HTTPRoutes, so Linkerd no longer authorizes kubelet probes on it automatically: ` +
          'a probe on this port would get 404 or 403. Serve probes on a port without method or path rules, or allow the probe path explicitly.',
        service.location,
        undefined,
        port.name,
      );
    }
  }

  /** Adds one route of the port's Server, and the grants of the rules covering its requests. */
  private route(at: PortRoutes, route: Ref, version: string, rules: readonly object[], covering: readonly PortRule[]): void {
    this.add({
      apiVersion: `${route.group}/${version}`,
      kind: route.kind,
      metadata: { name: route.name, namespace: at.service.namespace },
      spec: { parentRefs: [{ group: POLICY_GROUP, kind: 'Server', name: at.serverName }], rules },
    });
    this.grant(at.service, at.port, route, at.routeTerms(covering));
  }

  private httpRoutes(at: PortRoutes): void {
    const { service, port, used } = at;
    const regions = httpRegions(used.map((r) => r.scope));
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
      for (const group of methodGroups(
        covering,
        (r) => r.scope,
        (r) => r.rule.id,
      )) {
        const name = this.routeName(service, port, region, group.methods);
        const matches = group.methods === null ? [{ path }] : group.methods.map((method: HttpMethod) => ({ path, method }));
        const rules = chunks(matches, MAX_MATCHES_PER_RULE).map((m) => ({ matches: m }));
        this.route(at, { group: POLICY_GROUP, kind: 'HTTPRoute', name }, 'v1beta3', rules, group.members);
      }
    }
  }

  private grpcRoutes(at: PortRoutes): void {
    const { service, port, used } = at;
    const regions = grpcRegions(used.flatMap((r) => r.grpc ?? []));
    for (const region of regions) {
      const covering = used.filter((r) => r.grpc === null || r.grpc.some((k) => grpcKeyCoversRegion(k, region)));
      const name = this.grpcRouteName(service, port, region);
      // A rule without matches matches every call: the catch-all, ranked below any service match.
      const rules =
        region.kind === 'rest'
          ? [{}]
          : [
              {
                matches: [
                  { method: { type: 'Exact', service: region.key.service, ...(region.key.method === undefined ? {} : { method: region.key.method }) } },
                ],
              },
            ];
      this.route(at, { group: GATEWAY_GROUP, kind: 'GRPCRoute', name }, 'v1', rules, covering);
    }
  }

  private routeName(service: ServiceModel, port: PortModel, region: HttpRegion, methods: readonly HttpMethod[] | null): string {
    if (region.kind === 'rest' && methods === null) return objectName(service.name, port.name, 'all');
    return objectName(service.name, port.name, 'route', shortHash(`${regionKey(region)}|${methods?.join(',') ?? '*'}`));
  }

  private grpcRouteName(service: ServiceModel, port: PortModel, region: GrpcRegion): string {
    if (region.kind === 'rest') return objectName(service.name, port.name, 'all');
    return objectName(service.name, port.name, 'route', shortHash(grpcKeyText(region.key)));
  }

  /** One AuthorizationPolicy per grant on `target`, with its authentication objects. */
  private grant(service: ServiceModel, port: PortModel, target: Ref, terms: readonly Term[]): void {
    const namespace = service.namespace;
    const trustDomain = this.model.mesh.trustDomain;
    /** Adds one authentication object, named by a hash of what it admits, and returns its ref. */
    const authentication = (kind: 'MeshTLSAuthentication' | 'NetworkAuthentication', infix: string, key: string, spec: object): Ref => {
      const name = objectName(service.name, port.name, infix, shortHash(key));
      this.add({ apiVersion: `${POLICY_GROUP}/v1alpha1`, kind, metadata: { name, namespace }, spec });
      return { group: POLICY_GROUP, kind, name };
    };
    for (const term of terms) {
      const refs: Ref[] = [];
      if (term.ids !== null) {
        const identities = [...new Set(term.ids.map((id) => identityString(id, trustDomain)))].sort(compareStrings);
        refs.push(authentication('MeshTLSAuthentication', 'id', identities.join('\n'), { identities }));
      }
      if (term.nets !== null) {
        const entries = [...term.nets].sort((a, b) => compareStrings(netEntryKey(a), netEntryKey(b)));
        const networks = entries.map((e) => ({
          cidr: e.cidr.text,
          ...(e.except.length === 0 ? {} : { except: e.except.map((x) => x.text).sort(compareStrings) }),
        }));
        refs.push(authentication('NetworkAuthentication', 'net', entries.map(netEntryKey).join('\n'), { networks }));
      }
      // Never an empty ref list: that would admit anyone from anywhere (§3). Terms always carry one.
      if (refs.length === 0) continue;
      this.add({
        apiVersion: `${POLICY_GROUP}/v1alpha1`,
        kind: 'AuthorizationPolicy',
        metadata: { name: objectName(service.name, port.name, 'authz', shortHash(`${target.kind}/${target.name}|${termKey(term)}`)), namespace },
        spec: {
          targetRef: { group: target.group, kind: target.kind, name: target.name },
          requiredAuthenticationRefs: refs.map((r) => ({ group: r.group, kind: r.kind, name: r.name })),
        },
      });
    }
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

/** The Linkerd target (`--target linkerd`). */
export const linkerdTarget: Target = {
  name: 'linkerd',
  crds: ['linkerd'],
  revocationNote: (destination) =>
    `Linkerd: a deleted MeshTLSAuthentication or AuthorizationPolicy keeps authorizing until the destination's pods restart (linkerd/linkerd2#15548): after applying, restart ${destination.name} (e.g. \`kubectl -n ${destination.namespace} rollout restart deployment/${destination.name}\`) and check that the call is refused.`,
  compile(model: PolicyModel, context: TargetContext): TargetOutput {
    const compilation = new LinkerdCompilation(model, context);
    compilation.compile();
    const objects = [...compilation.objects.values()];
    for (const problem of linkerdProblems(objects)) compilation.report('linkerd-invalid-object', `Emitted Linkerd object is invalid: ${problem}.`, undefined);
    return { objects, patches: compilation.namespacePatches(), diagnostics: compilation.diagnostics };
  },
};
