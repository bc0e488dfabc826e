/**
 * Linkerd policy read back into the policy model: `Server`, `AuthorizationPolicy` (targeting a Server, an
 * HTTPRoute, a GRPCRoute or the Namespace), `MeshTLSAuthentication`, `NetworkAuthentication`, policy.linkerd.io
 * and Gateway API `HTTPRoute`, Gateway API `GRPCRoute`, and the older `ServerAuthorization`. Semantics follow
 * shared/docs/linkerd.md (sections in brackets):
 *
 * - A port no Server selects keeps the default inbound policy [§7]: the pod's or namespace's annotation, else the
 *   cluster default `all-unauthenticated` (everyone). Linkerd has no mTLS mode: the mesh is PERMISSIVE, and what
 *   a port requires is said by who is authorized [§10].
 * - A port a Server selects allows its grants only [§2, §8]: server-level grants (policies on the Server or the
 *   Namespace, ServerAuthorizations, a non-deny `accessPolicy`), and, when routes are attached, per route its own
 *   grants plus the server-level ones; a request no route matches is refused [§6]. Routes become method and path
 *   rules (PathPrefix matches whole segments, so `/a` becomes `/a` and `/a/*`).
 * - Grants: refs are ANDed [§3]; identities `*`, `*.<ns>.serviceaccount…` and `<sa>.<ns>.serviceaccount…` become
 *   authenticated, namespace and identity sources; networks become IP blocks, all addresses becomes anyone.
 *
 * Fail closed, as for Istio: a grant the language cannot express (an identity AND a network, `except`, header or
 * regex matches, external workloads) is left out, so the import admits less, and it is reported (PC6005).
 * The equivalence check then shows what differs, e.g. where the best-matching route decides alone [§6].
 */
import type { Span } from '../diagnostics/diagnostic';
import { compareStrings as compare } from '../model/compare';
import {
  DEFAULT_LINKERD_CONTROL_PLANE,
  MODEL_VERSION,
  type HttpMethod,
  type PathMatch,
  type PolicyModel,
  type RuleModel,
  type ServiceModel,
  type SourceModel,
} from '../model/model';
import { keptParts, mergeRules, uniqueSorted, type ImportedPolicy } from './imported';
import type { ImportedObject } from './manifests';
import { namespaceOf, selects, servicesOf, type ImportedService } from './workloads';

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const ALL_V4 = '0.0.0.0/0';
const ALL_V6 = '::/0';
/** Linkerd's default clusterNetworks [§7]. */
export const CLUSTER_NETWORKS = ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Who a grant admits: a list of sources (ORed), or undefined when the language cannot say it. */
type Grant =
  { readonly sources: SourceModel[]; readonly origin: ImportedObject } | { readonly lost: string; readonly origin: ImportedObject; readonly span: Span };

/** A request shape on a port: undefined method or path means any. */
interface Match {
  readonly methods?: readonly HttpMethod[];
  readonly paths?: readonly PathMatch[];
}

/** LabelSelector matching with Linkerd's quirks [§2]: NotIn also matches pods lacking the key; malformed expressions match nothing. */
function labelSelectorMatches(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  const s = record(selector);
  const matchLabels = Object.fromEntries(Object.entries(record(s['matchLabels'])).filter((e): e is [string, string] => typeof e[1] === 'string'));
  if (!selects(matchLabels, labels)) return false;
  return list(s['matchExpressions']).every((raw) => {
    const e = record(raw);
    const key = String(e['key'] ?? '');
    const values = e['values'];
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    switch (e['operator']) {
      case 'In':
        return Array.isArray(values) && has && values.includes(labels[key]);
      case 'NotIn':
        return Array.isArray(values) && (!has || !values.includes(labels[key]));
      case 'Exists':
        return values === undefined && has;
      case 'DoesNotExist':
        return values === undefined && !has;
      default:
        return false;
    }
  });
}

export function importLinkerd(objects: readonly ImportedObject[]): ImportedPolicy {
  const { diagnostics, comments, kept } = keptParts();
  const ofKind = (kind: string) => objects.filter((o) => o.object.kind === kind);
  const spec = (o: ImportedObject) => record(o.object['spec']);
  // Where Servers overlap, the oldest wins, then the first by name [§2]: candidates are searched in that order.
  const servers = ofKind('Server').sort(
    (a, b) =>
      compare(String(a.object.metadata['creationTimestamp' as 'name'] ?? ''), String(b.object.metadata['creationTimestamp' as 'name'] ?? '')) ||
      compare(a.object.metadata.name, b.object.metadata.name),
  );
  const byName = (kind: string, namespace: string, name: string) =>
    objects.find((o) => o.object.kind === kind && namespaceOf(o) === namespace && o.object.metadata.name === name);

  const grpcServers = new Set(servers.filter((s) => spec(s)['proxyProtocol'] === 'gRPC').map(namespaceOf));
  const services = servicesOf(objects, (namespace, labels) => {
    const server = servers.find((s) => namespaceOf(s) === namespace && labelSelectorMatches(spec(s)['podSelector'], labels));
    const protocol = server === undefined ? undefined : spec(server)['proxyProtocol'];
    return protocol === 'gRPC' ? 'grpc' : protocol === 'HTTP/2' ? 'http2' : protocol === 'opaque' || protocol === 'TLS' ? 'tcp' : 'http';
  });
  void grpcServers;

  // The control-plane namespace and trust domain [§9]: the one pair the identities name
  // (`<sa>.<ns>.serviceaccount.identity.<cp>.<td>`), else Linkerd's defaults; identities of any other pair are lost.
  const identitySuffixes = new Set<string>();
  for (const m of ofKind('MeshTLSAuthentication')) {
    for (const id of list(spec(m)['identities'])) {
      const rest = String(id).split('.serviceaccount.identity.')[1];
      if (rest !== undefined && rest.includes('.')) identitySuffixes.add(rest);
    }
  }
  const onlySuffix = identitySuffixes.size === 1 ? [...identitySuffixes][0] : undefined;
  const named = onlySuffix === undefined ? undefined : onlySuffix.slice(0, onlySuffix.indexOf('.'));
  const read = named !== undefined && onlySuffix !== undefined && DNS_LABEL.test(named);
  const controlPlane = read ? named : DEFAULT_LINKERD_CONTROL_PLANE;
  const trustDomain = read ? onlySuffix.slice(named.length + 1) : 'cluster.local';
  const identitySuffix = `${controlPlane}.${trustDomain}`;
  const byIdentity = new Map<string, ServiceModel[]>();
  for (const { service } of services)
    byIdentity.set(`${service.namespace}/${service.serviceAccount}`, [...(byIdentity.get(`${service.namespace}/${service.serviceAccount}`) ?? []), service]);
  const identitySource = (namespace: string, serviceAccount: string): SourceModel => {
    const owners = byIdentity.get(`${namespace}/${serviceAccount}`) ?? [];
    const only = owners.length === 1 ? owners[0] : undefined;
    return only === undefined ? { kind: 'identity', namespace, serviceAccount } : { kind: 'service', service: only.id };
  };
  /** An identity string [§4, §9]; undefined when it is not one the language can name. */
  const identityString = (value: string): SourceModel | undefined => {
    if (value === '*') return { kind: 'authenticated' };
    const [account, rest] = value.split('.serviceaccount.identity.');
    if (account === undefined || rest === undefined || rest !== identitySuffix) return undefined;
    const [sa, ns] = account.split('.');
    if (ns === undefined || !DNS_LABEL.test(ns) || account.split('.').length !== 2) return undefined;
    if (sa === '*') return { kind: 'namespace', namespace: ns };
    return sa !== undefined && DNS_LABEL.test(sa) ? identitySource(ns, sa) : undefined;
  };
  /** Networks [§5]: all addresses is undefined (no condition); an `except` cannot be said. */
  const networks = (value: unknown): { cidrs?: string[]; lost?: string } => {
    const entries = list(value).map(record);
    if (entries.some((e) => e['except'] !== undefined)) return { lost: `networks with \`except\` ${JSON.stringify(value)}` };
    const cidrs = entries.map((e) => String(e['cidr'] ?? ''));
    return cidrs.includes(ALL_V4) && cidrs.includes(ALL_V6) ? {} : { cidrs };
  };
  /** Identity sources AND network blocks: expressible when one side is unconstrained. */
  const combine = (origin: ImportedObject, span: Span, identities: SourceModel[] | undefined, cidrs: string[] | undefined, what: string): Grant => {
    if (identities !== undefined && cidrs !== undefined)
      return { lost: `${what} requires an identity AND a network (${cidrs.join(', ')}), which one rule cannot say`, origin, span };
    if (identities !== undefined) return { sources: identities, origin };
    if (cidrs !== undefined) return { sources: cidrs.map((cidr) => ({ kind: 'ipBlock', cidr })), origin };
    return { sources: [{ kind: 'anyone' }], origin };
  };

  /** The grant of an AuthorizationPolicy [§3]. */
  const policyGrant = (ap: ImportedObject): Grant => {
    const ns = namespaceOf(ap);
    let identities: SourceModel[] | undefined;
    let cidrs: string[] | undefined;
    for (const [index, raw] of list(spec(ap)['requiredAuthenticationRefs']).entries()) {
      const ref = record(raw);
      const span = ap.spanAt(['spec', 'requiredAuthenticationRefs', index]);
      const refNs = typeof ref['namespace'] === 'string' ? ref['namespace'] : ns;
      const name = String(ref['name'] ?? '');
      if (ref['kind'] === 'ServiceAccount') identities = [identitySource(refNs, name)];
      else if (ref['kind'] === 'MeshTLSAuthentication') {
        const authn = byName('MeshTLSAuthentication', refNs, name);
        if (authn === undefined)
          return { lost: `MeshTLSAuthentication ${refNs}/${name} is not in the manifests, so Linkerd ignores the policy`, origin: ap, span };
        const parsed: SourceModel[] = [];
        for (const id of list(spec(authn)['identities'])) {
          const source = identityString(String(id));
          if (source === undefined)
            return {
              lost: `identity "${String(id)}" of ${authn.ref} is not a service account of \`*.serviceaccount.identity.${identitySuffix}\``,
              origin: ap,
              span,
            };
          parsed.push(source);
        }
        for (const r of list(spec(authn)['identityRefs']).map(record)) {
          if (r['kind'] === 'ServiceAccount')
            parsed.push(identitySource(typeof r['namespace'] === 'string' ? r['namespace'] : namespaceOf(authn), String(r['name'] ?? '')));
          else if (r['kind'] === 'Namespace') parsed.push({ kind: 'namespace', namespace: String(r['name'] ?? '') });
          else return { lost: `identityRef ${JSON.stringify(r)} of ${authn.ref}`, origin: ap, span };
        }
        identities = parsed;
      } else if (ref['kind'] === 'NetworkAuthentication') {
        const authn = byName('NetworkAuthentication', refNs, name);
        if (authn === undefined)
          return { lost: `NetworkAuthentication ${refNs}/${name} is not in the manifests, so Linkerd ignores the policy`, origin: ap, span };
        const parsed = networks(spec(authn)['networks']);
        if (parsed.lost !== undefined) return { lost: parsed.lost, origin: ap, span };
        cidrs = parsed.cidrs;
      } else return { lost: `authentication ref of kind ${String(ref['kind'])}`, origin: ap, span };
    }
    return combine(ap, ap.span, identities, cidrs, 'the policy');
  };

  /** The grant of a ServerAuthorization [§12]: networks left out mean the cluster networks. */
  const serverAuthorizationGrant = (saz: ImportedObject): Grant => {
    const client = record(spec(saz)['client']);
    const span = saz.spanAt(['spec', 'client']);
    const parsed = client['networks'] === undefined ? { cidrs: CLUSTER_NETWORKS } : networks(client['networks']);
    if (parsed.lost !== undefined) return { lost: parsed.lost, origin: saz, span };
    if (client['unauthenticated'] === true) return combine(saz, span, undefined, parsed.cidrs, 'the authorization');
    const meshTls = record(client['meshTLS']);
    if (meshTls['unauthenticatedTLS'] === true) return { lost: 'unauthenticatedTLS (TLS with any or no identity)', origin: saz, span };
    const identities: SourceModel[] = [];
    for (const id of list(meshTls['identities'])) {
      const source = identityString(String(id));
      if (source === undefined) return { lost: `identity "${String(id)}"`, origin: saz, span };
      identities.push(source);
    }
    for (const account of list(meshTls['serviceAccounts']).map(record)) {
      identities.push(identitySource(typeof account['namespace'] === 'string' ? account['namespace'] : namespaceOf(saz), String(account['name'] ?? '')));
    }
    return combine(saz, span, identities, parsed.cidrs, 'the authorization');
  };

  /** A default inbound policy value [§7] as a grant, on a port with no Server or as a Server's accessPolicy. */
  const defaultGrant = (value: string, origin: ImportedObject | undefined): SourceModel[] | string => {
    switch (value) {
      case 'all-unauthenticated':
      case 'audit':
        return [{ kind: 'anyone' }];
      case 'all-authenticated':
        return [{ kind: 'authenticated' }];
      case 'cluster-unauthenticated':
        return CLUSTER_NETWORKS.map((cidr) => ({ kind: 'ipBlock', cidr }));
      case 'deny':
        return [];
      default:
        void origin;
        return `default inbound policy "${value}" (an identity AND the cluster networks, or unknown)`;
    }
  };
  const namespaceDefault = new Map(
    ofKind('Namespace').flatMap((n) => {
      const value = n.object.metadata.annotations?.['config.linkerd.io/default-inbound-policy'];
      return value === undefined ? [] : [[n.object.metadata.name, value] as const];
    }),
  );

  /** Route matches [§6]; undefined when a match cannot be said. */
  const routeMatches = (route: ImportedObject, grpc: boolean): { matches: Match[]; lost: { what: string; span: Span }[] } => {
    const lost: { what: string; span: Span }[] = [];
    const rules = spec(route)['rules'];
    if (rules === undefined) return grpc ? { matches: [], lost } : { matches: [{}], lost };
    const matches: Match[] = [];
    for (const [ruleIndex, rawRule] of list(rules).entries()) {
      const ruleMatches = record(rawRule)['matches'];
      if (ruleMatches === undefined || list(ruleMatches).length === 0) {
        matches.push({});
        continue;
      }
      for (const [index, raw] of list(ruleMatches).entries()) {
        const m = record(raw);
        const span = route.spanAt(['spec', 'rules', ruleIndex, 'matches', index]);
        if (m['headers'] !== undefined || m['queryParams'] !== undefined) {
          lost.push({ what: `a match on headers or query parameters ${JSON.stringify(m)}`, span });
          continue;
        }
        if (grpc) {
          const method = record(m['method']);
          const service = typeof method['service'] === 'string' ? method['service'] : undefined;
          const name = typeof method['method'] === 'string' ? method['method'] : undefined;
          if ((method['type'] ?? 'Exact') !== 'Exact') {
            lost.push({ what: `a gRPC method match of type ${String(method['type'])}`, span });
            continue;
          }
          if (service === undefined && name !== undefined) {
            lost.push({ what: `a gRPC method match without a service`, span });
            continue;
          }
          matches.push(
            service === undefined
              ? {}
              : { paths: [name === undefined ? { kind: 'prefix', value: `/${service}/` } : { kind: 'exact', value: `/${service}/${name}` }] },
          );
          continue;
        }
        const path = record(m['path']);
        const type = path['type'] ?? 'PathPrefix';
        const value = typeof path['value'] === 'string' ? path['value'] : '/';
        const method = m['method'];
        if (method !== undefined && !HTTP_METHODS.has(String(method))) {
          lost.push({ what: `method ${JSON.stringify(method)}`, span });
          continue;
        }
        let paths: PathMatch[] | undefined;
        if (type === 'Exact') paths = [{ kind: 'exact', value }];
        else if (type === 'PathPrefix') {
          // Whole segments: `/a/` and `/a` both match `/a` and `/a/…`.
          const base = value.replace(/\/+$/, '');
          paths =
            base === ''
              ? undefined
              : [
                  { kind: 'exact', value: base },
                  { kind: 'prefix', value: `${base}/` },
                ];
        } else {
          lost.push({ what: `a path match of type ${String(type)}`, span });
          continue;
        }
        matches.push({ ...(method === undefined ? {} : { methods: [method as HttpMethod] }), ...(paths === undefined ? {} : { paths }) });
      }
    }
    return { matches, lost };
  };

  const drafts: { rule: Omit<RuleModel, 'id'>; origins: string[] }[] = [];
  let restricted = false;
  const targetsServer = (ap: ImportedObject, kind: string, name: string, group: string | undefined) => {
    const ref = record(spec(ap)['targetRef']);
    return ref['kind'] === kind && ref['name'] === name && (group === undefined || (ref['group'] ?? '') === group);
  };
  const aps = ofKind('AuthorizationPolicy').filter((o) => o.object.apiVersion.startsWith('policy.linkerd.io/'));
  const used = new Set<ImportedObject>();

  for (const imported of services) {
    const { service } = imported;
    const place = { namespace: service.namespace, destination: service.id };
    for (const port of service.ports) {
      const containerNames = imported.containerPorts.filter((c) => c.port === port.port).map((c) => c.name);
      const server = servers.find((s) => {
        if (namespaceOf(s) !== service.namespace) return false;
        const sp = spec(s);
        if (sp['podSelector'] === undefined || !imported.templates.every((labels) => labelSelectorMatches(sp['podSelector'], labels))) return false;
        return sp['port'] === port.port || (typeof sp['port'] === 'string' && containerNames.includes(sp['port']));
      });
      const add = (sources: readonly SourceModel[], match: Match, origins: string[]) => {
        if (sources.length === 0) return;
        drafts.push({
          origins,
          rule: {
            action: 'allow',
            sources: [...sources],
            destination: service.id,
            ports: [port.name],
            ...(match.methods === undefined ? {} : { methods: match.methods }),
            ...(match.paths === undefined ? {} : { paths: match.paths }),
          },
        });
      };
      if (server === undefined) {
        const value = imported.podAnnotations['config.linkerd.io/default-inbound-policy'] ?? namespaceDefault.get(service.namespace) ?? 'all-unauthenticated';
        const grant = defaultGrant(value, undefined);
        if (typeof grant === 'string') {
          const origin = imported.origins[0];
          if (origin !== undefined) kept(origin, origin.span, `port ${port.port}: ${grant} cannot be expressed; the port allows nobody here`, place);
          restricted = true;
          continue;
        }
        if (grant.length === 0 || grant.some((g) => g.kind !== 'anyone')) restricted = true;
        add(grant, {}, []);
        continue;
      }
      used.add(server);
      restricted = true;
      const ns = namespaceOf(server);
      const serverName = server.object.metadata.name;
      // Server-level grants [§3, §12]
      const serverGrants: Grant[] = [];
      for (const ap of aps.filter(
        (a) => namespaceOf(a) === ns && (targetsServer(a, 'Server', serverName, 'policy.linkerd.io') || targetsServer(a, 'Namespace', ns, undefined)),
      )) {
        used.add(ap);
        serverGrants.push(policyGrant(ap));
      }
      for (const saz of ofKind('ServerAuthorization').filter((o) => namespaceOf(o) === ns)) {
        const target = record(spec(saz)['server']);
        const matches =
          target['name'] === serverName || (target['selector'] !== undefined && labelSelectorMatches(target['selector'], server.object.metadata.labels ?? {}));
        if (!matches) continue;
        used.add(saz);
        serverGrants.push(serverAuthorizationGrant(saz));
      }
      const access = spec(server)['accessPolicy'];
      if (typeof access === 'string' && server.object.apiVersion.endsWith('v1beta3')) {
        const grant = defaultGrant(access, server);
        if (typeof grant === 'string') serverGrants.push({ lost: grant, origin: server, span: server.spanAt(['spec', 'accessPolicy']) });
        else serverGrants.push({ sources: grant, origin: server });
      }
      const report = (grant: Grant): grant is Extract<Grant, { sources: SourceModel[] }> => {
        if ('lost' in grant) {
          kept(grant.origin, grant.span, `${grant.lost}; the grant is left out, so it admits less`, place);
          return false;
        }
        return true;
      };
      const serverLevel = serverGrants.filter(report);
      // Routes [§6]: gRPC Servers use GRPCRoutes, opaque/TLS none, others HTTPRoutes.
      const protocol = spec(server)['proxyProtocol'] ?? 'unknown';
      const routeKind = protocol === 'gRPC' ? 'GRPCRoute' : protocol === 'opaque' || protocol === 'TLS' ? undefined : 'HTTPRoute';
      const routes =
        routeKind === undefined
          ? []
          : ofKind(routeKind).filter(
              (r) =>
                namespaceOf(r) === ns &&
                list(spec(r)['parentRefs']).some(
                  (p) =>
                    record(p)['kind'] === 'Server' && record(p)['name'] === serverName && (record(p)['group'] ?? 'policy.linkerd.io') === 'policy.linkerd.io',
                ),
            );
      if (routes.length === 0) {
        for (const grant of serverLevel) add(grant.sources, {}, [grant.origin.ref]);
        continue;
      }
      for (const route of routes) {
        used.add(route);
        const group = route.object.apiVersion.split('/')[0];
        const routeGrants = aps.filter((a) => namespaceOf(a) === ns && targetsServer(a, route.object.kind, route.object.metadata.name, group));
        for (const a of routeGrants) used.add(a);
        const grants = [...routeGrants.map(policyGrant).filter(report), ...serverLevel];
        const { matches, lost } = routeMatches(route, routeKind === 'GRPCRoute');
        for (const l of lost) kept(route, l.span, `${l.what} cannot be expressed; the match is left out, so the route admits less`, place);
        for (const match of matches) for (const grant of grants) add(grant.sources, match, [grant.origin.ref, route.ref]);
      }
      if (routes.length > 1) {
        comments.push({
          ...place,
          origin: routes.map((r) => r.ref).join(', '),
          text: 'where routes overlap, Linkerd lets only the best-matching route decide; the rules here add up',
        });
      }
    }
  }
  // Policy objects that govern no imported workload port.
  for (const o of [...servers, ...aps, ...ofKind('ServerAuthorization'), ...ofKind('HTTPRoute'), ...ofKind('GRPCRoute')]) {
    if (used.has(o)) continue;
    const external = o.object.kind === 'Server' && spec(o)['externalWorkloadSelector'] !== undefined;
    kept(
      o,
      o.span,
      external
        ? 'it selects external (non-Kubernetes) workloads, which a policyc service cannot stand for'
        : o.object.kind === 'Server'
          ? 'it selects no port of a workload in the imported manifests, or an older (or first by name) Server selects the same port and wins'
          : 'it governs no port of a workload in the imported manifests; add the Deployment and Service it is for',
      { namespace: namespaceOf(o) },
      external ? 'import-inexpressible' : 'import-no-workload',
    );
  }

  const defaultAction = restricted ? 'deny' : 'allow';
  // Under a default-allow posture no grant narrows anything, so no rule is written.
  const { rules, origins } = mergeRules(
    defaultAction === 'allow'
      ? []
      : drafts.map((draft) => ({
          body: {
            action: draft.rule.action,
            sources: uniqueSorted(draft.rule.sources),
            destination: draft.rule.destination,
            ports: [...draft.rule.ports],
            ...(draft.rule.methods === undefined ? {} : { methods: [...draft.rule.methods] }),
            ...(draft.rule.paths === undefined ? {} : { paths: uniqueSorted(draft.rule.paths) }),
          },
          origins: draft.origins,
        })),
    'no Server selects this port, so the default inbound policy decides',
  );
  const model: PolicyModel = {
    version: MODEL_VERSION,
    entry: 'policy.ts',
    // Linkerd policy is per namespace: the imported policy governs the namespaces it read, no more (a mesh-scope
    // policy would claim every meshed namespace, which these manifests do not describe).
    mesh: {
      trustDomain,
      mtls: 'PERMISSIVE',
      defaultAction,
      rootNamespace: 'istio-system',
      scope: 'namespaces',
      ...(controlPlane === DEFAULT_LINKERD_CONTROL_PLANE ? {} : { linkerd: { controlPlaneNamespace: controlPlane } }),
    },
    namespaces: [...new Set(services.map((s) => s.service.namespace))].sort(compare).map((name) => ({ name })),
    services: services.map((s) => s.service),
    rules,
  };
  return { mesh: 'linkerd', model, origins, services: services as readonly ImportedService[], comments, diagnostics };
}
