/**
 * The access matrix of a model: every call it allows, as edges `source → destination service:port`, with
 * the method and path limits of the rules that grant it and the deny rules that cut into it.
 *
 * Edges are read off the rules (so their labels say what the user wrote), then confirmed with the model's
 * own decision function `decide()` on representative requests: an edge that no request of its source can
 * use (a deny covers it completely, or the port refuses every such client) is not an edge. The semantic
 * diff compares two matrices with the same probes, so "granted" and "revoked" mean what `decide()` means.
 */
import { decide, headerValue, requestIdentityMatches, type Client, type Request } from '../model/decide';
import { compareStrings } from '../model/compare';
import {
  effectiveDefaultAction,
  effectiveEnforcement,
  effectiveMtls,
  hasPeerIdentity,
  headerMatches,
  headerMatchText,
  isHttpProtocol,
  isProxyAdminPort,
  pathMatchOf,
  pathMatches,
  pathText,
  proxyAdminPortOf,
  PROXY_ADMIN_METRICS_PATH,
  servicesById,
  type HeaderCondition,
  type HttpMethod,
  type MtlsMode,
  type PolicyModel,
  type PortModel,
  type Protocol,
  type RuleModel,
  type ServiceModel,
  type SourceLocation,
  type SourceModel,
} from '../model/model';
import { addressesAround, DEFAULT_IP, OUTSIDER, PROBE_ACCOUNT, operationsFor, type Operation } from '../model/request-space';
import { kubernetesSpiffeId, portNamed } from '../model/resolve';

/** Method and path limits of one grant or one deny. Both absent: every request on the port. */
export interface Limit {
  readonly methods?: readonly HttpMethod[];
  /** As the user writes them: `/exact` or `/prefix/*`. */
  readonly paths?: readonly string[];
  /** Header conditions, every one required; sorted by name. */
  readonly headers?: readonly HeaderCondition[];
}

export interface AccessEdge {
  /** `shop/frontend` (a declared service), `namespace:<ns>`, `identity:<ns>/<sa>`, `authenticated`, `anyone`, `ip:<cidr>`. */
  readonly source: string;
  readonly sourceModel: SourceModel;
  /** Destination service id. */
  readonly destination: string;
  readonly port: string;
  readonly portNumber: number;
  readonly protocol: Protocol;
  readonly mtls: MtlsMode;
  /** What the allow rules grant, merged; `[{}]` is every request. Sorted. */
  readonly limits: readonly Limit[];
  /** What deny rules take out of it. Sorted. */
  readonly except: readonly Limit[];
  /** Plaintext clients (no identity) can use this edge. */
  readonly plaintext: boolean;
  /** The allow rules that grant it (empty under `defaultAction: 'allow'`). */
  readonly rules: readonly string[];
  /** Where the first granting rule is written. */
  readonly location?: SourceLocation;
}

/** How wide a source is: a diff flags a port whose widest source grows. */
export function sourceBreadth(source: SourceModel): number {
  switch (source.kind) {
    case 'service':
    case 'identity':
    case 'spiffe':
    case 'both':
      return 0;
    case 'requestIdentity':
      return source.subject === undefined ? 1 : 0;
    case 'namespace':
    case 'ipBlock':
    case 'remoteIpBlock':
      return 1;
    case 'trustDomain':
    case 'authenticated':
      return 2;
    case 'anyone':
      return 3;
    default:
      return source satisfies never;
  }
}

export function sourceKey(source: SourceModel): string {
  switch (source.kind) {
    case 'service':
      return source.service;
    case 'namespace':
      return `namespace:${source.namespace}`;
    case 'identity':
      return `identity:${source.namespace}/${source.serviceAccount}`;
    case 'authenticated':
      return 'authenticated';
    case 'anyone':
      return 'anyone';
    case 'ipBlock':
      return `ip:${source.cidr}`;
    case 'spiffe':
      return `spiffe:${source.id}`;
    case 'trustDomain':
      return `trustDomain:${source.trustDomain}`;
    case 'both':
      return `both:${sourceKey(source.identity)}&ip:${source.cidrs.join(',')}`;
    case 'remoteIpBlock':
      return `remoteIp:${source.cidr}`;
    case 'requestIdentity':
      return `jwt:${source.issuer}/${source.subject ?? '*'}${claimsText(source.claims)}`;
    default:
      return source satisfies never;
  }
}

/** ` {role=admin, team=x}`, or nothing without claims. */
function claimsText(claims: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(claims ?? {});
  return entries.length === 0 ? '' : ` {${entries.map(([k, v]) => `${k}=${v}`).join(', ')}}`;
}

/** The source in words, for sentences. */
export function describeSource(source: SourceModel): string {
  switch (source.kind) {
    case 'service':
      return source.service;
    case 'namespace':
      return `any identity in namespace ${source.namespace}`;
    case 'identity':
      return `identity ${source.namespace}/${source.serviceAccount}`;
    case 'authenticated':
      return 'any mesh identity';
    case 'anyone':
      return 'anyone, plaintext clients included';
    case 'ipBlock':
      return `clients from ${source.cidr}`;
    case 'spiffe':
      return `SPIFFE ID ${source.id}`;
    case 'trustDomain':
      return `any identity of trust domain ${source.trustDomain}`;
    case 'both':
      return `${describeSource(source.identity)}, only from ${source.cidrs.join(' or ')}`;
    case 'remoteIpBlock':
      return `original clients (X-Forwarded-For at the gateway) from ${source.cidr}`;
    case 'requestIdentity':
      return `end users with a valid JWT of ${source.issuer}${source.subject === undefined ? '' : ` for subject ${source.subject}`}${claimsText(source.claims)}`;
    default:
      return source satisfies never;
  }
}

/** The clients that stand for a source: every kind of client it admits and no other. */
function clientsFor(source: SourceModel): Client[] {
  switch (source.kind) {
    case 'service':
      return [{ kind: 'service', service: source.service, ip: DEFAULT_IP, tls: true }];
    case 'namespace':
      return [{ kind: 'identity', namespace: source.namespace, serviceAccount: PROBE_ACCOUNT, ip: DEFAULT_IP, tls: true }];
    case 'identity':
      return [{ kind: 'identity', namespace: source.namespace, serviceAccount: source.serviceAccount, ip: DEFAULT_IP, tls: true }];
    case 'authenticated':
      return [{ kind: 'identity', ...OUTSIDER, ip: DEFAULT_IP, tls: true }];
    case 'anyone':
      return [
        { kind: 'plaintext', ip: DEFAULT_IP },
        { kind: 'identity', ...OUTSIDER, ip: DEFAULT_IP, tls: true },
      ];
    case 'ipBlock': {
      const ip = addressesAround(source.cidr)[0] ?? DEFAULT_IP;
      return [
        { kind: 'plaintext', ip },
        { kind: 'identity', ...OUTSIDER, ip, tls: true },
      ];
    }
    case 'spiffe':
      return [{ kind: 'spiffe', id: source.id, ip: DEFAULT_IP, tls: true }];
    case 'trustDomain':
      return [{ kind: 'spiffe', id: kubernetesSpiffeId(source.trustDomain, OUTSIDER.namespace, OUTSIDER.serviceAccount), ip: DEFAULT_IP, tls: true }];
    case 'both': {
      const ip = addressesAround(source.cidrs[0] ?? '')[0] ?? DEFAULT_IP;
      return clientsFor(source.identity).map((client) => ({ ...client, ip }));
    }
    case 'remoteIpBlock': {
      // Through a gateway with no trusted proxy the connection's address is the original client's.
      const ip = addressesAround(source.cidr)[0] ?? DEFAULT_IP;
      return [{ kind: 'plaintext', ip }];
    }
    case 'requestIdentity': // the end user is in the token (the operation); any client may carry it
      return [
        { kind: 'plaintext', ip: DEFAULT_IP },
        { kind: 'identity', ...OUTSIDER, ip: DEFAULT_IP, tls: true },
      ];
    default:
      return source satisfies never;
  }
}

function limitOf(rule: RuleModel): Limit {
  return {
    ...(rule.methods === undefined ? {} : { methods: [...rule.methods].sort(compareStrings) }),
    ...(rule.paths === undefined ? {} : { paths: rule.paths.map(pathText).sort(compareStrings) }),
    ...(rule.headers === undefined ? {} : { headers: rule.headers }),
  };
}

/** `x-env: prefix("prod-"), x-debug: present`. */
function headersText(headers: readonly HeaderCondition[]): string {
  return headers.map((h) => `${h.name}: ${headerMatchText(h.match)}`).join(', ');
}

export function limitKey(limit: Limit): string {
  return `${(limit.methods ?? ['*']).join(',')} ${(limit.paths ?? ['*']).join(',')}${limit.headers === undefined ? '' : ` [${headersText(limit.headers)}]`}`;
}

/** Merged, de-duplicated, sorted; an unrestricted limit absorbs the others. */
function mergeLimits(limits: readonly Limit[]): Limit[] {
  if (limits.some((l) => l.methods === undefined && l.paths === undefined && l.headers === undefined)) return [{}];
  const byKey = new Map(limits.map((l) => [limitKey(l), l]));
  return [...byKey.keys()].sort(compareStrings).map((k) => byKey.get(k) as Limit);
}

/** Limits as text: `GET,POST /checkout, /checkout/*`; `any request` or, on TCP, `any connection`. */
export function describeLimits(limits: readonly Limit[], protocol: Protocol): string {
  if (limits.length === 0) return 'nothing';
  if (!isHttpProtocol(protocol)) return 'any connection';
  return limits
    .map((l) => {
      if (l.methods === undefined && l.paths === undefined && l.headers === undefined) return 'any request';
      const headers = l.headers === undefined ? undefined : `with ${headersText(l.headers)}`;
      return [l.methods?.join(','), l.paths?.join(', '), headers].filter((s) => s !== undefined).join(' ');
    })
    .join('; ');
}

function limitAdmits(limit: Limit, operation: Operation): boolean {
  if (limit.headers !== undefined && !limit.headers.every((h) => headerMatches(h.match, headerValue(operation.headers, h.name)))) return false;
  if (limit.methods !== undefined && (operation.method === undefined || !limit.methods.includes(operation.method))) return false;
  if (limit.paths === undefined) return true;
  const path = operation.path;
  return path !== undefined && limit.paths.some((p) => pathMatches(pathMatchOf(p), path));
}

/** The requests that probe one edge: its source's clients × the operations of the port. */
export function probeRequests(source: SourceModel, destination: string, port: PortModel, operations: readonly Operation[]): Request[] {
  // A request identity is probed with the tokens it accepts; every other source without a token.
  const own = operations.filter((op) => (source.kind === 'requestIdentity' ? requestIdentityMatches(source, op.token) : op.token === undefined));
  return clientsFor(source).flatMap((client) => own.map((op) => ({ client, destination, port: port.port, ...op })));
}

/** Whether the request reaches the port without an identity (as `decide()` reads it). */
export function isPlaintextRequest(request: Request, mode: MtlsMode): boolean {
  return request.client.kind === 'plaintext' || request.client.kind === 'kubelet' || !request.client.tls || !hasPeerIdentity(mode);
}

interface Candidate {
  source: SourceModel;
  service: ServiceModel;
  port: PortModel;
  limits: Limit[];
  rules: RuleModel[];
}

/**
 * The mTLS mode an edge shows. The proxy admin port is the proxy's own server: it takes a scraper's mTLS and a
 * block's plaintext alike (model.ts, 9.), whatever the workload's mode.
 */
export function edgeMtls(model: PolicyModel, service: ServiceModel, port: PortModel): MtlsMode {
  return isProxyAdminPort(model, service, port.port) ? 'PERMISSIVE' : effectiveMtls(model, service, port);
}

/** The model's access matrix, ordered by destination, port number and source. */
export function accessMatrix(model: PolicyModel): AccessEdge[] {
  const services = servicesById(model);
  const candidates = new Map<string, Candidate>();
  const add = (source: SourceModel, service: ServiceModel, port: PortModel, limit: Limit, rule?: RuleModel): void => {
    const key = `${service.id}\u0000${port.name}\u0000${sourceKey(source)}`;
    const candidate = candidates.get(key) ?? { source, service, port, limits: [], rules: [] };
    candidate.limits.push(limit);
    if (rule !== undefined) candidate.rules.push(rule);
    candidates.set(key, candidate);
  };
  // Ports open to anyone but the denies: defaultAction 'allow' (port, service, namespace, mesh) or an audited destination.
  const open = (service: ServiceModel, port: PortModel): boolean =>
    effectiveDefaultAction(model, service, port) === 'allow' || effectiveEnforcement(model, service) === 'audit';
  for (const service of model.services) for (const port of service.ports) if (open(service, port)) add({ kind: 'anyone' }, service, port, {});
  // The proxy admin port (model.ts, 9.): each scraper's GET /metrics, whatever the rules say.
  for (const service of model.services) {
    const admin = proxyAdminPortOf(model, service);
    if (admin === undefined) continue;
    for (const scraper of model.mesh.linkerd?.proxyAdmin?.scrapedBy ?? [])
      add(scraper, service, admin, { methods: ['GET'], paths: [PROXY_ADMIN_METRICS_PATH] });
  }
  for (const rule of model.rules) {
    if (rule.action !== 'allow') continue;
    const service = services.get(rule.destination);
    if (service === undefined) continue;
    for (const portName of rule.ports) {
      const port = portNamed(service, portName);
      if (port === undefined || open(service, port)) continue;
      for (const source of rule.sources) add(source, service, port, limitOf(rule), rule);
    }
  }

  const edges: AccessEdge[] = [];
  for (const { source, service, port, limits, rules } of candidates.values()) {
    const merged = mergeLimits(limits);
    const mode = edgeMtls(model, service, port);
    const operations = operationsFor([model], service.id, port).filter((op) => merged.some((l) => limitAdmits(l, op)));
    let used = false;
    let plaintext = false;
    const denies = new Map<string, Limit>();
    for (const request of probeRequests(source, service.id, port, operations)) {
      const decision = decide(model, request, services);
      if (decision.allowed) {
        used = true;
        if (isPlaintextRequest(request, mode)) plaintext = true;
      } else {
        for (const cited of decision.rules) {
          const rule = model.rules.find((r) => r.id === cited.id);
          if (rule !== undefined && rule.action === 'deny') denies.set(limitKey(limitOf(rule)), limitOf(rule));
        }
      }
    }
    if (!used) continue;
    const first = [...rules].sort(
      (a, b) => compareStrings(a.location?.file ?? '', b.location?.file ?? '') || (a.location?.start ?? 0) - (b.location?.start ?? 0),
    )[0];
    edges.push({
      source: sourceKey(source),
      sourceModel: source,
      destination: service.id,
      port: port.name,
      portNumber: port.port,
      protocol: port.protocol,
      mtls: mode,
      limits: merged,
      except: mergeLimits([...denies.values()]),
      plaintext,
      rules: [...new Set(rules.map((r) => r.id))].sort(compareStrings),
      ...(first?.location === undefined ? {} : { location: first.location }),
    });
  }
  return edges.sort(compareEdges);
}

export function compareEdges(
  a: Pick<AccessEdge, 'destination' | 'portNumber' | 'source'>,
  b: Pick<AccessEdge, 'destination' | 'portNumber' | 'source'>,
): number {
  return compareStrings(a.destination, b.destination) || a.portNumber - b.portNumber || compareStrings(a.source, b.source);
}

/** `shop/frontend → shop/checkout:http (8080)`. */
export function edgeKey(edge: Pick<AccessEdge, 'source' | 'destination' | 'port'>): string {
  return `${edge.source} → ${edge.destination}:${edge.port}`;
}
