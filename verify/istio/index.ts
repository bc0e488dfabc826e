/**
 * An Istio (sidecar) semantics simulator: decides one request the way the destination's sidecar would, from the
 * `security.istio.io` PeerAuthentication and AuthorizationPolicy objects alone. It is the independent check of the
 * Istio target, so it imports nothing from `targets/` or `compiler/`; every rule it applies is one of the sourced
 * facts in shared/docs/istio.md (cited as §n.m below).
 *
 * Matching uses three-valued logic: a condition the simulator cannot model is `unknown`, which only decides the
 * request (verdict `unsupported`) when the known conditions around it do not already settle the outcome.
 *
 * @example
 * const istio = createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
 * istio.decide(objects, { client: { ip: '10.0.0.1' }, destination: web, port: 8080, method: 'GET', path: '/' });
 */
import {
  orUnsupported,
  podProbeOf,
  Unsupported,
  unsupportedKey,
  type Distinctions,
  type ManifestObject,
  type MeshSimulator,
  type SimulatedDecision,
  type SimulatedOperation,
  type SimulatedRequest,
  type Workload,
} from '../simulator';
import { inBlock, isV4Mapped, parseIp, parseIpBlock, type Ip } from '../ip';
import { envoyBasePath } from '../envoy-path';

export interface IstioSimulatorConfig {
  /** MeshConfig `rootNamespace` (Istio's default is `istio-system`). */
  readonly rootNamespace: string;
  /** MeshConfig `trustDomain` (Istio's default is `cluster.local`): the trust domain of every client certificate. */
  readonly trustDomain: string;
  /** MeshConfig `trustDomainAliases`. */
  readonly trustDomainAliases?: readonly string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Three-valued logic

/** A condition the simulator cannot model; `objects` are the policies that carry it. */
interface Unknown {
  readonly unknown: string;
  readonly objects: readonly string[];
}
type Tri = boolean | Unknown;

const isUnknown = (t: Tri): t is Unknown => typeof t === 'object';

/**
 * Three-valued AND (`settles` false) and OR (`settles` true): one settling value decides; otherwise the first
 * unknown, so the verdict names what it could not evaluate; otherwise the other value.
 */
function combine(values: readonly Tri[], settles: boolean): Tri {
  let firstUnknown: Unknown | undefined;
  for (const v of values) {
    if (v === settles) return settles;
    if (isUnknown(v)) firstUnknown ??= v;
  }
  return firstUnknown ?? !settles;
}

const and = (values: readonly Tri[]): Tri => combine(values, false);
const or = (values: readonly Tri[]): Tri => combine(values, true);

/**
 * `combine` of `each` over `items` without building the list (the verifier's hottest path): every item is
 * still evaluated, in order, so an item that throws `Unsupported` does so whatever the others say.
 */
function combineEach<T>(items: Iterable<T>, settles: boolean, each: (item: T) => Tri): Tri {
  let settled = false;
  let firstUnknown: Unknown | undefined;
  for (const item of items) {
    const v = each(item);
    if (v === settles) settled = true;
    else if (isUnknown(v)) firstUnknown ??= v;
  }
  return settled ? settles : (firstUnknown ?? !settles);
}

const not = (v: Tri): Tri => (isUnknown(v) ? v : !v);

// ---------------------------------------------------------------------------------------------------------------
// Readings of objects
//
// Reading an object (checking its fields, parsing its rules) depends on the object alone, and the verifier asks
// about thousands of requests over one set of objects: each reading is done once and remembered, together with
// the Unsupported it throws, which is thrown again at the same point of every later decision.

type Reading<T> = { readonly value: T } | { readonly error: unknown };

function reading<T>(read: () => T): Reading<T> {
  try {
    return { value: read() };
  } catch (error) {
    return { error };
  }
}

function readingValue<T>(r: Reading<T>): T {
  if ('error' in r) throw r.error;
  return r.value;
}

/** `read`, remembered per key object. */
function remembered<K extends object, V>(read: (key: K) => V): (key: K) => V {
  const cache = new WeakMap<K, Reading<V>>();
  return (key) => {
    let entry = cache.get(key);
    if (entry === undefined) {
      entry = reading(() => read(key));
      cache.set(key, entry);
    }
    return readingValue(entry);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Objects

type Json = Record<string, unknown>;

interface Policy {
  readonly kind: 'AuthorizationPolicy' | 'PeerAuthentication' | 'RequestAuthentication';
  readonly namespace: string;
  readonly name: string;
  readonly ref: string;
  readonly object: ManifestObject;
  readonly spec: Json;
}

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const SECURITY_GROUP = 'security.istio.io';
const SERVED_VERSIONS = new Set(['v1', 'v1beta1']);

/** The Istio security objects among the manifests; other kinds are not Istio security and play no part. */
const securityPolicies = remembered((objects: readonly ManifestObject[]): Policy[] => {
  const policies: Policy[] = [];
  for (const object of objects) {
    const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/', 2) : ['', object.apiVersion];
    if (group !== SECURITY_GROUP) continue;
    const ref0 = `${object.kind} ${object.metadata.namespace ?? '?'}/${object.metadata.name}`;
    if (!SERVED_VERSIONS.has(version ?? '')) {
      throw new Unsupported(`${ref0} uses ${object.apiVersion}; the security.istio.io CRDs serve only v1 and v1beta1`, [ref0]);
    }
    if (object.kind !== 'AuthorizationPolicy' && object.kind !== 'PeerAuthentication' && object.kind !== 'RequestAuthentication') {
      throw new Unsupported(`${ref0}: unknown security.istio.io kind ${object.kind}`, [ref0]);
    }
    const namespace = object.metadata.namespace;
    if (namespace === undefined || namespace === '') {
      throw new Unsupported(
        `${object.kind} ${object.metadata.name} has no metadata.namespace: it lands in whatever namespace kubectl applies it to, possibly the root namespace`,
        [`${object.kind} ?/${object.metadata.name}`],
      );
    }
    const spec = object['spec'] ?? {};
    const ref = `${object.kind} ${namespace}/${object.metadata.name}`;
    if (!isRecord(spec)) throw new Unsupported(`${ref}: spec is not an object`, [ref]);
    policies.push({ kind: object.kind, namespace, name: object.metadata.name, ref, object, spec });
  }
  return policies;
});

function checkKeys(value: Json, allowed: readonly string[], where: string, ref: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new Unsupported(`${ref}: unknown field \`${key}\` in ${where} (the CRD schema prunes or rejects it)`, [ref]);
    }
  }
}

/** `selector.matchLabels`, or undefined when the policy has no selector or an empty one (§1.3, §2). */
const matchLabels = remembered((policy: Policy): Record<string, string> | undefined => {
  const selector = policy.spec['selector'];
  if (selector === undefined || selector === null) return undefined;
  if (!isRecord(selector)) throw new Unsupported(`${policy.ref}: selector is not an object`, [policy.ref]);
  checkKeys(selector, ['matchLabels'], 'selector', policy.ref);
  const labels = selector['matchLabels'];
  if (labels === undefined || labels === null) return undefined;
  if (!isRecord(labels)) throw new Unsupported(`${policy.ref}: selector.matchLabels is not an object`, [policy.ref]);
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value !== 'string') throw new Unsupported(`${policy.ref}: label ${key} is not a string`, [policy.ref]);
    if (key === '' || key.includes('*') || value.includes('*')) {
      throw new Unsupported(`${policy.ref}: selector label "${key}: ${value}" is rejected (empty key or \`*\`, §1.9)`, [policy.ref]);
    }
    result[key] = value;
  }
  return Object.keys(result).length === 0 ? undefined : result;
});

const selects = (labels: Record<string, string>, pod: Workload): boolean => Object.entries(labels).every(([key, value]) => pod.labels[key] === value);

// ---------------------------------------------------------------------------------------------------------------
// PeerAuthentication (§2)

type MtlsMode = 'DISABLE' | 'PERMISSIVE' | 'STRICT';
const MODES = new Set(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);

interface ResolvedMtls {
  readonly mode: MtlsMode;
  /** The PeerAuthentication that set the mode, absent for the PERMISSIVE default. */
  readonly policy?: Policy;
  readonly how: string;
}

function modeOf(value: unknown, where: string, ref: string): MtlsMode | 'UNSET' {
  if (value === undefined || value === null) return 'UNSET';
  if (!isRecord(value)) throw new Unsupported(`${ref}: ${where} is not an object`, [ref]);
  checkKeys(value, ['mode'], where, ref);
  const mode = value['mode'] ?? 'UNSET';
  if (typeof mode !== 'string' || !MODES.has(mode)) throw new Unsupported(`${ref}: unknown mTLS mode ${String(mode)} in ${where}`, [ref]);
  return mode as MtlsMode | 'UNSET';
}

const validatePeerAuthentication = remembered((pa: Policy): void => {
  checkKeys(pa.spec, ['selector', 'mtls', 'portLevelMtls'], 'spec', pa.ref);
  if (pa.object.metadata.annotations?.['istio.io/dry-run'] !== undefined) {
    throw new Unsupported(`${pa.ref}: the istio.io/dry-run annotation is rejected on PeerAuthentication (§2 webhook)`, [pa.ref]);
  }
  const ports = pa.spec['portLevelMtls'];
  if (ports === undefined || ports === null) return;
  if (!isRecord(ports) || Object.keys(ports).length === 0) {
    throw new Unsupported(`${pa.ref}: portLevelMtls present but empty is rejected (§2)`, [pa.ref]);
  }
  if (matchLabels(pa) === undefined) {
    throw new Unsupported(`${pa.ref}: portLevelMtls without a non-empty selector is rejected ("portLevelMtls requires selector", §2)`, [pa.ref]);
  }
  for (const key of Object.keys(ports)) {
    const n = /^[0-9]+$/.test(key) ? Number(key) : NaN;
    if (!(n >= 1 && n <= 65535)) throw new Unsupported(`${pa.ref}: portLevelMtls key ${key} is not a port in 1-65535 (§2)`, [pa.ref]);
  }
});

function creationSeconds(policy: Policy): number | undefined {
  const stamp = (policy.object.metadata as { creationTimestamp?: unknown }).creationTimestamp;
  if (typeof stamp !== 'string') return undefined;
  const ms = Date.parse(stamp);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** The one PA that takes effect at a level: the oldest (1-second granularity, then name, then namespace) (§2). */
function oldest(level: string, candidates: readonly Policy[]): Policy | undefined {
  if (candidates.length <= 1) return candidates[0];
  const stamped = candidates.map((policy) => ({ policy, seconds: creationSeconds(policy) }));
  if (stamped.some((c) => c.seconds === undefined)) {
    throw new Unsupported(
      `${candidates.length} ${level} PeerAuthentications apply (${candidates.map((c) => c.ref).join(', ')}); Istio keeps only the oldest by creationTimestamp, which the manifests do not carry (§2, §3.7)`,
      candidates.map((c) => c.ref),
    );
  }
  stamped.sort(
    (a, b) =>
      (a.seconds as number) - (b.seconds as number) ||
      (a.policy.name < b.policy.name ? -1 : a.policy.name > b.policy.name ? 1 : 0) ||
      (a.policy.namespace < b.policy.namespace ? -1 : a.policy.namespace > b.policy.namespace ? 1 : 0),
  );
  return stamped[0]?.policy;
}

function resolveMtls(pas: readonly Policy[], pod: Workload, port: number, root: string): ResolvedMtls {
  const inPodNamespace = pod.namespace === root ? [] : pas.filter((p) => p.namespace === pod.namespace);
  const workloadLevel: Policy[] = [];
  const namespaceLevel: Policy[] = [];
  for (const pa of inPodNamespace) {
    const labels = matchLabels(pa);
    if (labels === undefined) namespaceLevel.push(pa);
    else if (selects(labels, pod)) workloadLevel.push(pa);
  }
  // A root-namespace PA with a selector is ignored by sidecars (§2); without one it is mesh-wide.
  const meshLevel = pas.filter((p) => p.namespace === root && matchLabels(p) === undefined);

  const workload = oldest('workload', workloadLevel);
  if (workload !== undefined) {
    validatePeerAuthentication(workload);
    const portLevel = workload.spec['portLevelMtls'];
    const portMode = isRecord(portLevel) ? modeOf(portLevel[String(port)], `portLevelMtls[${port}]`, workload.ref) : 'UNSET';
    if (portMode !== 'UNSET')
      return { mode: portMode, policy: workload, how: `port-level mTLS of workload PeerAuthentication ${workload.namespace}/${workload.name}` };
    const mode = modeOf(workload.spec['mtls'], 'mtls', workload.ref);
    if (mode !== 'UNSET') return { mode, policy: workload, how: `workload PeerAuthentication ${workload.namespace}/${workload.name}` };
  }
  const namespace = oldest('namespace-wide', namespaceLevel);
  if (namespace !== undefined) {
    validatePeerAuthentication(namespace);
    const mode = modeOf(namespace.spec['mtls'], 'mtls', namespace.ref);
    if (mode !== 'UNSET') return { mode, policy: namespace, how: `namespace PeerAuthentication ${namespace.namespace}/${namespace.name}` };
  }
  const mesh = oldest('mesh-wide', meshLevel);
  if (mesh !== undefined) {
    validatePeerAuthentication(mesh);
    const mode = modeOf(mesh.spec['mtls'], 'mtls', mesh.ref);
    if (mode !== 'UNSET') return { mode, policy: mesh, how: `mesh PeerAuthentication ${mesh.namespace}/${mesh.name}` };
  }
  return { mode: 'PERMISSIVE', how: 'default, as no PeerAuthentication sets a mode' };
}

// ---------------------------------------------------------------------------------------------------------------
// Value matching (§1.2, §1.4, §1.6, §1.8)

/** Istio's four value forms: `*` (present, non-empty), `x*` prefix, `*x` suffix, otherwise exact (a middle `*` is literal). */
function valueMatches(pattern: string, actual: string): boolean {
  if (pattern === '*') return actual.length > 0;
  if (pattern.startsWith('*')) return actual.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return actual.startsWith(pattern.slice(0, -1));
  return actual === pattern;
}

/** An IP or CIDR from `ipBlocks` / `source.ip` against the client address (§1.9 item 13). */
function ipMatches(value: string, client: Ip, ref: string): Tri {
  // Go's parser (used by the webhook) rejects IPv4 parts with leading zeros: the strict syntax.
  const block = parseIpBlock(value);
  if (block === undefined) throw new Unsupported(`${ref}: "${value}" is not an IP or CIDR (rejected by the webhook, §1.9)`, [ref]);
  if (isV4Mapped(block.ip) || isV4Mapped(client)) {
    return { unknown: `IPv4-mapped IPv6 address matching (${value} against the client) is not modelled`, objects: [ref] };
  }
  return inBlock(client, block);
}

function portMatches(value: string, port: number, ref: string): boolean {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(n <= 65535)) throw new Unsupported(`${ref}: port "${value}" is not an integer up to 65535 (rejected by the webhook, §1.6)`, [ref]);
  return n === port;
}

/** What Envoy does with a path beyond `BASE` normalization (../envoy-path.ts) that is not modelled. */
function pathNotModelled(path: string): boolean {
  return /\?|#/.test(path) || !/^[/\\]/.test(path);
}

// ---------------------------------------------------------------------------------------------------------------
// AuthorizationPolicy rules

const SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
  'serviceAccounts',
  'notServiceAccounts',
  'trustDomains',
  'notTrustDomains',
] as const;
const OPERATION_FIELDS = ['hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
/** HTTP-only fields (§1.7). */
const HTTP_ONLY_FIELDS = new Set(['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths', 'requestPrincipals', 'notRequestPrincipals']);

/** `when` keys that exist in Istio but need the HTTP request (§1.7). */
const isHttpOnlyKey = (key: string): boolean =>
  /^request\.headers\[.+\]$/.test(key) ||
  /^request\.auth\.claims\[.+\]$/.test(key) ||
  ['request.auth.principal', 'request.auth.audiences', 'request.auth.presenter'].includes(key);
/** `when` keys that exist in Istio and work on TCP, but that this simulator does not model. */
const isUnmodelledKey = (key: string): boolean =>
  ['remote.ip', 'destination.ip', 'source.serviceAccount', 'source.trustDomain', 'connection.sni'].includes(key) ||
  key.startsWith('experimental.envoy.filters.');
const MODELLED_KEYS = new Set(['source.ip', 'source.namespace', 'source.principal', 'destination.port']);

type Action = 'ALLOW' | 'DENY';

interface Context {
  readonly tcp: boolean;
  readonly port: number;
  readonly method: string | undefined;
  readonly methodProblem: string | undefined;
  readonly path: string | undefined;
  /** The peer's URI SAN (`spiffe://td/ns/x/sa/y`) when the connection is mTLS; absent on plaintext (§1.5). */
  readonly peer: string | undefined;
  readonly clientIp: Ip;
  /** The original client address `remoteIpBlocks` reads, or why it is not modelled for this request. */
  readonly remoteIp: Ip | { readonly unknown: string };
  /** Request headers by lower-case name: Envoy stores and matches header names lower-cased. */
  readonly headers: ReadonlyMap<string, string>;
  /** The verified JWT's `<iss>/<sub>` and claims, when a RequestAuthentication validated one. */
  readonly requestAuth: { readonly principal: string; readonly claims: Readonly<Record<string, string>> } | undefined;
  readonly config: Required<IstioSimulatorConfig>;
}

interface PolicyContext extends Context {
  readonly policy: Policy;
  readonly action: Action;
}

type MutablePolicyContext = { -readonly [K in keyof PolicyContext]: PolicyContext[K] };

/** Stands for the policy of a context until the first one is set (an object, so the field's shape never changes). */
const NO_POLICY: Policy = {
  kind: 'AuthorizationPolicy',
  namespace: '',
  name: '',
  ref: '',
  object: { apiVersion: '', kind: '', metadata: { name: '' } },
  spec: {},
};

/**
 * A context whose policy and action are set in turn for each policy, its request fields copied one by one: a
 * spread of `base` per key or decision was the largest cost of the Istio simulator.
 */
function policyContext(base: Context): MutablePolicyContext {
  return {
    tcp: base.tcp,
    port: base.port,
    method: base.method,
    methodProblem: base.methodProblem,
    path: base.path,
    peer: base.peer,
    clientIp: base.clientIp,
    remoteIp: base.remoteIp,
    headers: base.headers,
    requestAuth: base.requestAuth,
    config: base.config,
    policy: NO_POLICY,
    action: 'ALLOW',
  };
}

function stringList(value: unknown, where: string, ref: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Unsupported(`${ref}: ${where} is not a list of strings`, [ref]);
  if (value.some((v) => v === '')) throw new Unsupported(`${ref}: ${where} holds an empty string (rejected by the webhook, §1.9)`, [ref]);
  return value as string[];
}

/**
 * The principal values Istio generates for one policy principal: a principal `td/ns/x/sa/y` whose trust domain is the
 * mesh trust domain, an alias, or `cluster.local` is copied for the trust domain and every alias; others stay (§1.4).
 */
function expandPrincipal(value: string, config: Required<IstioSimulatorConfig>): string[] | { readonly unknown: string } {
  const local = [config.trustDomain, ...config.trustDomainAliases];
  const isLocal = (td: string): boolean => td === 'cluster.local' || local.includes(td);
  const parts = value.split('/');
  const td = parts[0] ?? '';
  if (value === '*' || td === '*') return [value];
  if (parts.length === 5) {
    if (td.includes('*')) return { unknown: `principal "${value}" has a wildcard trust domain; alias expansion of it is not modelled` };
    if (isLocal(td)) return [...new Set(local.map((d) => [d, ...parts.slice(1)].join('/')))];
    return [value];
  }
  if (parts.length > 1 && isLocal(td) && !(local.length === 1 && local[0] === td)) {
    return { unknown: `principal "${value}" is not of the form <td>/ns/<ns>/sa/<sa>; its trust-domain alias handling is not modelled` };
  }
  return [value];
}

/** `expandPrincipal`, remembered per simulator configuration: it depends on the value and the trust domains alone. */
const expandedPrincipals = new WeakMap<Required<IstioSimulatorConfig>, Map<string, ReturnType<typeof expandPrincipal>>>();

function principalValues(value: string, config: Required<IstioSimulatorConfig>): ReturnType<typeof expandPrincipal> {
  let known = expandedPrincipals.get(config);
  if (known === undefined) {
    known = new Map();
    expandedPrincipals.set(config, known);
  }
  let expanded = known.get(value);
  if (expanded === undefined) {
    expanded = expandPrincipal(value, config);
    known.set(value, expanded);
  }
  return expanded;
}

function principalMatches(value: string, ctx: PolicyContext): Tri {
  if (ctx.peer === undefined) return false;
  const id = ctx.peer.slice('spiffe://'.length);
  if (value === '*') return true; // any authenticated peer
  const expanded = principalValues(value, ctx.config);
  if (!Array.isArray(expanded)) return { unknown: expanded.unknown, objects: [ctx.policy.ref] };
  return expanded.some((p) => valueMatches(p, id));
}

function namespaceMatches(value: string, ctx: PolicyContext): Tri {
  if (ctx.peer === undefined) return false;
  // Istio turns the value into the regex `.*/ns/<value, * → .*>/.*` on the URI SAN (§1.2).
  if (!/^[A-Za-z0-9_.*-]+$/.test(value)) {
    return { unknown: `namespace value "${value}" contains regex characters whose RE2 meaning is not modelled`, objects: [ctx.policy.ref] };
  }
  return namespacePattern(value).test(ctx.peer);
}

/** The URI SAN regex of a namespace value, built once per value (Istio compiles it once per policy). */
const namespacePatterns = new Map<string, RegExp>();

function namespacePattern(value: string): RegExp {
  let pattern = namespacePatterns.get(value);
  if (pattern === undefined) {
    if (namespacePatterns.size >= 4096) namespacePatterns.clear();
    pattern = new RegExp(`^(?:.*/ns/${value.replaceAll('*', '.*')}/.*)$`);
    namespacePatterns.set(value, pattern);
  }
  return pattern;
}

function serviceAccountMatches(value: string, ctx: PolicyContext): Tri {
  const parts = value.split('/');
  if (parts.length > 2 || parts.some((p) => p === '') || value.includes('*') || value.length > 320) {
    throw new Unsupported(`${ctx.policy.ref}: serviceAccounts value "${value}" must be "sa" or "ns/sa" without \`*\` (§1.4, §1.9 item 15)`, [ctx.policy.ref]);
  }
  if (ctx.peer === undefined) return false;
  const [ns, sa] = parts.length === 2 ? [parts[0] ?? '', parts[1] ?? ''] : [ctx.policy.namespace, parts[0] ?? ''];
  const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^spiffe://.+/ns/${quote(ns)}/(.+/|)sa/${quote(sa)}(/.+)?$`).test(ctx.peer);
}

function methodMatches(value: string, ctx: PolicyContext): Tri {
  if (ctx.methodProblem !== undefined) return { unknown: ctx.methodProblem, objects: [ctx.policy.ref] };
  if (ctx.method === undefined) return { unknown: 'the HTTP request has no method to match `methods` against', objects: [ctx.policy.ref] };
  return valueMatches(value, ctx.method);
}

function pathMatches(value: string, ctx: PolicyContext): Tri {
  if (value.includes('{') || value.includes('}')) {
    return { unknown: `path template "${value}" (Envoy URI template matching) is not modelled`, objects: [ctx.policy.ref] };
  }
  if (ctx.path === undefined) return { unknown: 'the HTTP request has no path to match `paths` against', objects: [ctx.policy.ref] };
  if (pathNotModelled(ctx.path)) {
    return { unknown: `request path "${ctx.path}" (a query, fragment or relative path) is not modelled`, objects: [ctx.policy.ref] };
  }
  // Policies match the path after the default BASE normalization (MeshConfig pathNormalization, §1.8).
  const normalized = envoyBasePath(ctx.path);
  if (normalized === 'rejected') return { unknown: `request path "${ctx.path}" is rejected by Envoy with 400 (%00)`, objects: [ctx.policy.ref] };
  return valueMatches(value, normalized.path);
}

/** One value of one field or `when` key. */
function valueOf(key: string, value: string, ctx: PolicyContext): Tri {
  switch (key) {
    case 'principals':
    case 'source.principal':
      return principalMatches(value, ctx);
    case 'namespaces':
    case 'source.namespace':
      return namespaceMatches(value, ctx);
    case 'serviceAccounts':
      return serviceAccountMatches(value, ctx);
    case 'ipBlocks':
    case 'source.ip':
      return ipMatches(value, ctx.clientIp, ctx.policy.ref);
    case 'ports':
    case 'destination.port':
      return portMatches(value, ctx.port, ctx.policy.ref);
    case 'methods':
      return methodMatches(value, ctx);
    case 'paths':
      return pathMatches(value, ctx);
    case 'hosts':
      return { unknown: '`hosts` match the Host header, which a simulated request does not carry', objects: [ctx.policy.ref] };
    case 'requestPrincipals':
    case 'request.auth.principal':
      // `<iss>/<sub>` of the JWT a RequestAuthentication validated; none without a token or without a
      // RequestAuthentication on the workload, so such an ALLOW admits no one
      // (istio.io/latest/docs/reference/config/security/authorization-policy/ Source.requestPrincipals;
      // istio.io/latest/docs/tasks/security/authentication/authn-policy/ "Require a valid token").
      return ctx.requestAuth !== undefined && valueMatches(value, ctx.requestAuth.principal);
    case 'remoteIpBlocks':
      if ('unknown' in ctx.remoteIp) return { unknown: ctx.remoteIp.unknown, objects: [ctx.policy.ref] };
      return ipMatches(value, ctx.remoteIp, ctx.policy.ref);
    case 'trustDomains':
      return { unknown: '`trustDomains` (extended channel) are not modelled', objects: [ctx.policy.ref] };
    default: {
      // request.headers[<name>]: the header name matches case-insensitively (Envoy lower-cases both); `*` is
      // Envoy's present_match, true for a header sent with an empty value (istio pilot/pkg/security/authz/matcher/header.go;
      // istio.io/latest/docs/reference/config/security/conditions/).
      const header = /^request\.headers\[(.+)\]$/.exec(key)?.[1];
      if (header !== undefined) {
        const actual = ctx.headers.get(header.toLowerCase());
        return actual !== undefined && (value === '*' || valueMatches(value, actual));
      }
      // request.auth.claims[<name>]: a claim of the validated JWT (conditions reference); no token, no claims.
      const claim = /^request\.auth\.claims\[([^\][]+)\]$/.exec(key)?.[1];
      if (claim !== undefined) {
        const actual = ctx.requestAuth?.claims[claim];
        return actual !== undefined && valueMatches(value, actual);
      }
      if (isHttpOnlyKey(key)) return { unknown: `condition \`${key}\` is not modelled`, objects: [ctx.policy.ref] };
      return { unknown: `condition \`${key}\` is not modelled`, objects: [ctx.policy.ref] };
    }
  }
}

/** A field's key and sense: `notPrincipals` is the negation of `principals` (§1.2); read once per field name. */
const fieldKeys = new Map<string, { readonly negative: boolean; readonly key: string }>();

function fieldKey(field: string): { readonly negative: boolean; readonly key: string } {
  let known = fieldKeys.get(field);
  if (known === undefined) {
    const negative = /^not[A-Z]/.test(field);
    known = { negative, key: negative ? field[3]!.toLowerCase() + field.slice(4) : field };
    fieldKeys.set(field, known);
  }
  return known;
}

/** A field: values OR'ed; a `notX` field is `not(or(values))` (§1.2). Dropped HTTP-only fields count as absent (true). */
function fieldMatches(field: string, values: readonly string[], ctx: PolicyContext): Tri {
  if (values.length === 0) return true;
  if (ctx.tcp && HTTP_ONLY_FIELDS.has(field)) return true; // DENY on TCP: the HTTP-only condition is dropped (§1.7)
  const { negative, key } = fieldKey(field);
  // `combineEach(values, true, …)` written out: this runs for every value of every rule on every request.
  let settled = false;
  let firstUnknown: Unknown | undefined;
  for (const value of values) {
    const v = valueOf(key, value, ctx);
    if (v === true) settled = true;
    else if (isUnknown(v)) firstUnknown ??= v;
  }
  const matched: Tri = settled ? true : (firstUnknown ?? false);
  return negative ? not(matched) : matched;
}

function entriesOf(rule: Json, axis: 'from' | 'to', inner: 'source' | 'operation', ref: string): Json[] | undefined {
  const list = rule[axis];
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list) || list.length === 0) {
    throw new Unsupported(`${ref}: \`${axis}\` is present but empty (rejected by the webhook, §1.2, §1.9)`, [ref]);
  }
  return list.map((entry) => {
    if (!isRecord(entry)) throw new Unsupported(`${ref}: a null \`${axis}\` entry is rejected (§1.9)`, [ref]);
    checkKeys(entry, [inner], `${axis} entry`, ref);
    const body = entry[inner];
    if (!isRecord(body)) throw new Unsupported(`${ref}: \`${axis}.${inner}\` is null or missing (rejected by the webhook, §1.9)`, [ref]);
    return body;
  });
}

interface WhenCondition {
  readonly key: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

function whenOf(rule: Json, ref: string): WhenCondition[] {
  const list = rule['when'];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Unsupported(`${ref}: \`when\` is not a list`, [ref]);
  return list.map((c) => {
    if (!isRecord(c)) throw new Unsupported(`${ref}: a null \`when\` entry is rejected (§1.9)`, [ref]);
    checkKeys(c, ['key', 'values', 'notValues'], 'when', ref);
    const key = c['key'];
    if (typeof key !== 'string' || key === '') throw new Unsupported(`${ref}: a \`when\` entry needs a key (§1.9 item 20)`, [ref]);
    const values = stringList(c['values'], `when[${key}].values`, ref);
    const notValues = stringList(c['notValues'], `when[${key}].notValues`, ref);
    if (values.length === 0 && notValues.length === 0) {
      throw new Unsupported(`${ref}: \`when\` key ${key} has neither values nor notValues (rejected by the webhook, §1.9 item 20)`, [ref]);
    }
    if (!MODELLED_KEYS.has(key) && !isHttpOnlyKey(key) && !isUnmodelledKey(key)) {
      throw new Unsupported(`${ref}: unknown \`when\` key ${key} (rejected by the webhook; istiod skips the rule, §1.9 item 21)`, [ref]);
    }
    return { key, values, notValues };
  });
}

function sourceFields(source: Json, ref: string): Map<string, string[]> {
  checkKeys(source, SOURCE_FIELDS, 'source', ref);
  const fields = new Map<string, string[]>(SOURCE_FIELDS.map((f) => [f, stringList(source[f], `source.${f}`, ref)] as const).filter(([, v]) => v.length > 0));
  if (fields.size === 0) throw new Unsupported(`${ref}: \`from.source\` must not be empty (rejected by the webhook, §1.9 item 11)`, [ref]);
  const sa = fields.has('serviceAccounts') || fields.has('notServiceAccounts');
  if (sa && ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].some((f) => fields.has(f))) {
    throw new Unsupported(
      `${ref}: serviceAccounts cannot be combined with principals or namespaces in one source (rejected by CEL and the webhook, §1.4, §3.11)`,
      [ref],
    );
  }
  return fields;
}

function operationFields(operation: Json, ref: string): Map<string, string[]> {
  checkKeys(operation, OPERATION_FIELDS, 'operation', ref);
  const fields = new Map<string, string[]>(
    OPERATION_FIELDS.map((f) => [f, stringList(operation[f], `operation.${f}`, ref)] as const).filter(([, v]) => v.length > 0),
  );
  if (fields.size === 0) throw new Unsupported(`${ref}: \`to.operation\` must not be empty (rejected by the webhook, §1.9 item 17)`, [ref]);
  return fields;
}

/** A source's or an operation's fields as a list, made once per map: iterating a map allocates a pair per field. */
const fieldLists = new WeakMap<Map<string, string[]>, readonly (readonly [string, string[]])[]>();

function fieldList(fields: Map<string, string[]>): readonly (readonly [string, string[]])[] {
  let list = fieldLists.get(fields);
  if (list === undefined) fieldLists.set(fields, (list = [...fields]));
  return list;
}

/**
 * Fields AND'ed (`combineEach(fields, false, …)` written out); with `token` set, only the fields that read the
 * token (true) or only the others (false) count, the rest being true.
 */
function fieldsMatch(fields: Map<string, string[]>, ctx: PolicyContext, token?: boolean): Tri {
  let settled = false;
  let firstUnknown: Unknown | undefined;
  for (const [field, values] of fieldList(fields)) {
    if (token !== undefined && TOKEN_FIELDS.has(field) !== token) continue;
    const v = fieldMatches(field, values, ctx);
    if (v === false) settled = true;
    else if (isUnknown(v)) firstUnknown ??= v;
  }
  return settled ? false : (firstUnknown ?? true);
}

/** Entries (`from` or `to`) OR'ed (`combineEach(entries, true, fieldsMatch)` written out). */
function entriesMatch(entries: readonly Map<string, string[]>[], ctx: PolicyContext): Tri {
  let settled = false;
  let firstUnknown: Unknown | undefined;
  for (const fields of entries) {
    const v = fieldsMatch(fields, ctx);
    if (v === true) settled = true;
    else if (isUnknown(v)) firstUnknown ??= v;
  }
  return settled ? true : (firstUnknown ?? false);
}

/** A rule's fields, checked as the webhook checks them (§1.9). */
interface Rule {
  readonly from: readonly Map<string, string[]>[] | undefined;
  readonly to: readonly Map<string, string[]>[] | undefined;
  readonly when: readonly WhenCondition[];
}

function readRule(rule: unknown, ref: string): Rule {
  if (!isRecord(rule)) throw new Unsupported(`${ref}: a null rule is rejected (§1.9 item 9)`, [ref]);
  checkKeys(rule, ['from', 'to', 'when'], 'rule', ref);
  const from = entriesOf(rule, 'from', 'source', ref)?.map((s) => sourceFields(s, ref));
  const to = entriesOf(rule, 'to', 'operation', ref)?.map((o) => operationFields(o, ref));
  return { from, to, when: whenOf(rule, ref) };
}

/** The policy's rules, each read on its own (a bad rule is Unsupported when it is reached); undefined: no rules. */
const rulesOf = remembered((policy: Policy): Reading<Rule>[] | undefined => {
  const rules = policy.spec['rules'];
  if (rules === undefined || rules === null) return undefined;
  if (!Array.isArray(rules)) throw new Unsupported(`${policy.ref}: rules is not a list`, [policy.ref]);
  return rules.map((rule: unknown) => reading(() => readRule(rule, policy.ref)));
});

/** One rule: from, to and when AND'ed; from[] and to[] entries OR'ed (§1.2); TCP handling per §1.7. */
function ruleMatches({ from, to, when }: Rule, ctx: PolicyContext): Tri {
  if (ctx.tcp && ctx.action === 'ALLOW') {
    // §1.7: an ALLOW rule with any HTTP-only field is dropped entirely from the TCP filter chain.
    const httpOnly =
      [...(from ?? []), ...(to ?? [])].some((fields) => [...fields.keys()].some((f) => HTTP_ONLY_FIELDS.has(f))) || when.some((c) => isHttpOnlyKey(c.key));
    if (httpOnly) return false;
  }
  const conditions: Tri[] = [];
  if (from !== undefined) conditions.push(entriesMatch(from, ctx));
  if (to !== undefined) conditions.push(entriesMatch(to, ctx));
  for (const c of when) {
    if (ctx.tcp && isHttpOnlyKey(c.key)) continue; // DENY on TCP: the HTTP-only condition is dropped (§1.7)
    if (c.values.length > 0) conditions.push(combineEach(c.values, true, (v) => valueOf(c.key, v, ctx)));
    if (c.notValues.length > 0) conditions.push(not(combineEach(c.notValues, true, (v) => valueOf(c.key, v, ctx))));
  }
  return and(conditions);
}

/** Whether any rule of the policy matches; no rules means "match never" (§1.2). */
function policyMatches(ctx: PolicyContext): Tri {
  const rules = rulesOf(ctx.policy);
  if (rules === undefined) return false;
  return combineEach(rules, true, (rule) => ruleMatches(readingValue(rule), ctx));
}

// ---------------------------------------------------------------------------------------------------------------
// Which AuthorizationPolicies reach the workload (§1.1, §1.3)

const TRUE_VALUES = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_VALUES = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

interface Applicable {
  readonly policy: Policy;
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  readonly dryRun: boolean;
}

function applicablePolicies(aps: readonly Policy[], pod: Workload, root: string, notes: string[]): Applicable[] {
  const result: Applicable[] = [];
  for (const policy of aps) {
    if (policy.namespace !== pod.namespace && policy.namespace !== root) continue;
    checkKeys(policy.spec, ['selector', 'targetRef', 'targetRefs', 'rules', 'action', 'provider'], 'spec', policy.ref);
    const targetRefs = policy.spec['targetRefs'];
    const hasTargetRef = (policy.spec['targetRef'] !== undefined && policy.spec['targetRef'] !== null) || (Array.isArray(targetRefs) && targetRefs.length > 0);
    const hasSelector = policy.spec['selector'] !== undefined && policy.spec['selector'] !== null;
    if (hasTargetRef && hasSelector) {
      throw new Unsupported(`${policy.ref}: at most one of selector, targetRef and targetRefs may be set (rejected by CEL, §1.3)`, [policy.ref]);
    }
    if (hasTargetRef) {
      notes.push(`${policy.ref} has targetRefs and is ignored by sidecars`);
      continue;
    }
    const labels = matchLabels(policy);
    if (labels !== undefined && !selects(labels, pod)) continue;
    const action = policy.spec['action'] ?? 'ALLOW';
    if (action !== 'ALLOW' && action !== 'DENY' && action !== 'AUDIT' && action !== 'CUSTOM') {
      throw new Unsupported(`${policy.ref}: unknown action ${String(action)}`, [policy.ref]);
    }
    if (policy.spec['provider'] !== undefined && action !== 'CUSTOM') {
      throw new Unsupported(`${policy.ref}: provider is set but the action is not CUSTOM (rejected by the webhook, §1.9 item 7)`, [policy.ref]);
    }
    const annotation = policy.object.metadata.annotations?.['istio.io/dry-run'];
    let dryRun = false;
    if (annotation !== undefined) {
      if (!TRUE_VALUES.has(annotation) && !FALSE_VALUES.has(annotation)) {
        throw new Unsupported(`${policy.ref}: istio.io/dry-run "${annotation}" is not a bool (rejected by the webhook, §1.9 item 1)`, [policy.ref]);
      }
      if (action !== 'ALLOW' && action !== 'DENY') {
        throw new Unsupported(`${policy.ref}: istio.io/dry-run is only allowed with ALLOW or DENY (§1.9 item 1)`, [policy.ref]);
      }
      dryRun = TRUE_VALUES.has(annotation);
    }
    result.push({ policy, action, dryRun });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// What applies to one pod, read once
//
// The verifier decides thousands of requests per pod: the policies of the pod's namespace and of the root
// namespace are found through an index by namespace, and which of them apply to the pod is worked out once.

/** The security policies by namespace. */
const policiesByNamespace = remembered((objects: readonly ManifestObject[]): Map<string, Policy[]> => {
  const byNamespace = new Map<string, Policy[]>();
  for (const policy of securityPolicies(objects)) {
    const list = byNamespace.get(policy.namespace);
    if (list === undefined) byNamespace.set(policy.namespace, [policy]);
    else list.push(policy);
  }
  return byNamespace;
});

interface PodView {
  /** PeerAuthentications of the pod's namespace and of the root namespace (no other can apply, §2). */
  readonly peerAuthentications: readonly Policy[];
  /** RequestAuthentications of the pod's namespace and of the root namespace (`requestAuthenticationRules`). */
  readonly requestAuthentications: readonly Policy[];
  /** The mTLS mode of each port, resolved once. */
  readonly mtls: Map<number, Reading<ResolvedMtls>>;
  /** The AuthorizationPolicies that apply to the pod (§1.1, §1.3), with what the reader should know. */
  readonly authorization: Reading<{ readonly applicable: readonly Applicable[]; readonly notes: readonly string[] }>;
}

const podViews = new WeakMap<readonly ManifestObject[], WeakMap<Workload, Map<string, PodView>>>();

/**
 * The mTLS mode of a pod's port. A gateway's pods get no PeerAuthentication at all: their listeners are the
 * Gateway's servers, and mesh clients do not send them Istio mTLS (istio/istio#23284, #21343).
 */
function mtlsOf(view: PodView, pod: Workload, port: number, root: string): ResolvedMtls {
  if (pod.gateway !== undefined) return { mode: 'DISABLE', how: 'a gateway (PeerAuthentication does not apply to gateway pods, istio/istio#23284)' };
  let known = view.mtls.get(port);
  if (known === undefined) view.mtls.set(port, (known = reading(() => resolveMtls(view.peerAuthentications, pod, port, root))));
  return readingValue(known);
}

function podView(objects: readonly ManifestObject[], pod: Workload, root: string): PodView {
  let byPod = podViews.get(objects);
  if (byPod === undefined) podViews.set(objects, (byPod = new WeakMap()));
  let byRoot = byPod.get(pod);
  if (byRoot === undefined) byPod.set(pod, (byRoot = new Map()));
  const known = byRoot.get(root);
  if (known !== undefined) return known;
  const byNamespace = policiesByNamespace(objects);
  const candidates = [...(byNamespace.get(pod.namespace) ?? []), ...(pod.namespace === root ? [] : (byNamespace.get(root) ?? []))];
  const view: PodView = {
    peerAuthentications: candidates.filter((p) => p.kind === 'PeerAuthentication'),
    requestAuthentications: candidates.filter((p) => p.kind === 'RequestAuthentication'),
    mtls: new Map(),
    authorization: reading(() => {
      const notes: string[] = [];
      const aps = candidates.filter((p) => p.kind === 'AuthorizationPolicy');
      return { applicable: applicablePolicies(aps, pod, root, notes), notes };
    }),
  };
  byRoot.set(root, view);
  return view;
}

// ---------------------------------------------------------------------------------------------------------------
// RequestAuthentication

interface JwtRule {
  readonly issuer: string;
  readonly policy: Policy;
}

const JWT_RULE_FIELDS = [
  'issuer',
  'audiences',
  'jwksUri',
  'jwks',
  'fromHeaders',
  'fromParams',
  'outputPayloadToHeader',
  'forwardOriginalToken',
  'outputClaimToHeaders',
  'fromCookies',
  'timeout',
] as const;
/** jwtRule fields that change which tokens are read or accepted; the simulator does not model them. */
const UNMODELLED_JWT_FIELDS = ['audiences', 'fromHeaders', 'fromParams', 'fromCookies'];

/**
 * The jwtRules of every RequestAuthentication on the workload: selector-matching or namespace-wide ones of its
 * namespace and mesh-wide ones of the root namespace, all combined (request_authentication reference: "the
 * policies are merged"); targetRefs policies are for gateways and waypoints, not sidecars.
 */
function requestAuthenticationRules(ras: readonly Policy[], pod: Workload, root: string, notes: string[]): JwtRule[] {
  const rules: JwtRule[] = [];
  for (const ra of ras) {
    if (ra.namespace !== pod.namespace && ra.namespace !== root) continue;
    checkKeys(ra.spec, ['selector', 'targetRef', 'targetRefs', 'jwtRules'], 'spec', ra.ref);
    if (ra.spec['targetRef'] !== undefined || ra.spec['targetRefs'] !== undefined) {
      notes.push(`${ra.ref} has targetRefs and is ignored by sidecars`);
      continue;
    }
    const labels = matchLabels(ra);
    if (ra.namespace === root && ra.namespace !== pod.namespace && labels !== undefined) continue;
    if (labels !== undefined && !selects(labels, pod)) continue;
    const list = ra.spec['jwtRules'];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new Unsupported(`${ra.ref}: jwtRules is not a list`, [ra.ref]);
    for (const rule of list) {
      if (!isRecord(rule)) throw new Unsupported(`${ra.ref}: a jwtRule is not an object`, [ra.ref]);
      checkKeys(rule, JWT_RULE_FIELDS, 'jwtRule', ra.ref);
      const issuer = rule['issuer'];
      if (typeof issuer !== 'string' || issuer === '') throw new Unsupported(`${ra.ref}: a jwtRule has no issuer (required by the CRD)`, [ra.ref]);
      const unmodelled = UNMODELLED_JWT_FIELDS.find((f) => rule[f] !== undefined);
      if (unmodelled !== undefined) throw new Unsupported(`${ra.ref}: jwtRule \`${unmodelled}\` is not modelled`, [ra.ref]);
      rules.push({ issuer, policy: ra });
    }
  }
  return rules;
}

// ---------------------------------------------------------------------------------------------------------------
// The decision

const GATEWAY_LABELS = ['gateway.networking.k8s.io/gateway-name', 'gateway.istio.io/managed'];

function refsWhere(items: readonly { policy: Policy; match: Tri }[], pick: (t: Tri) => boolean): string[] {
  return items
    .filter((i) => pick(i.match))
    .map((i) => i.policy.ref)
    .sort();
}

function decideFor(
  view: PodView,
  request: SimulatedRequest,
  protocol: 'tcp' | 'http' | 'http2' | 'grpc',
  config: Required<IstioSimulatorConfig>,
): SimulatedDecision {
  const pod = request.destination;
  const root = config.rootNamespace;
  const notes: string[] = [];

  // 1. PeerAuthentication and the connection (§2); a gateway's pods get none (`mtlsOf`).
  const mtls = mtlsOf(view, pod, request.port, root);
  const certificate = certificateOf(request.client, config);
  const mutualTls = certificate !== undefined && mtls.mode !== 'DISABLE';
  const connection = mutualTls
    ? `mTLS as ${certificate}`
    : certificate === undefined
      ? 'plaintext (the client has no sidecar identity)'
      : pod.gateway
        ? 'plaintext (a gateway listener does not verify mesh certificates)'
        : 'plaintext (the port is DISABLE, so auto-mTLS sends plaintext)';
  if (mtls.mode === 'STRICT' && !mutualTls) {
    return {
      verdict: 'deny',
      reason: `connection reset: port ${request.port} is STRICT by ${mtls.how} and the client connects in ${connection}`,
      objects: mtls.policy === undefined ? [] : [mtls.policy.ref],
    };
  }
  notes.push(`port ${request.port} is ${mtls.mode} by ${mtls.how}; the connection is ${connection}`);

  // 2. RequestAuthentication: on HTTP only, a JWT is validated against the issuers of every RequestAuthentication
  // on the workload; an invalid one, or one of an issuer no jwtRule names, is refused with 401; a request without
  // a token passes without a request identity (istio.io/latest/docs/reference/config/security/request_authentication/;
  // envoyproxy/envoy#15194: a token of an unknown issuer is rejected, not treated as missing).
  let requestAuth: Context['requestAuth'];
  if (protocol !== 'tcp') {
    const jwtRules = requestAuthenticationRules(view.requestAuthentications, pod, root, notes);
    const jwt = request.jwt;
    if (jwt !== undefined && jwtRules.length > 0) {
      const rule = jwtRules.find((r) => r.issuer === jwt.iss);
      if (rule === undefined || !jwt.signedByIssuer) {
        return {
          verdict: 'deny',
          reason: sentence(
            `401: the JWT ${rule === undefined ? `of issuer ${jwt.iss} matches no jwtRule` : `of ${jwt.iss} fails verification`} of the RequestAuthentications on the workload`,
            notes,
          ),
          objects: [...new Set(jwtRules.map((r) => r.policy.ref))].sort(),
        };
      }
      requestAuth = { principal: `${jwt.iss}/${jwt.sub}`, claims: jwt.claims };
    } else if (jwt !== undefined) notes.push('no RequestAuthentication applies, so the JWT is not read');
  }

  // 3. AuthorizationPolicies (§1.1, §1.3).
  const { applicable, notes: podNotes } = readingValue(view.authorization);
  notes.push(...podNotes);
  const custom = applicable.filter((a) => a.action === 'CUSTOM');
  if (custom.length > 0) {
    return unsupported(
      `CUSTOM AuthorizationPolicy applies (the external authorizer's decision is not modelled)`,
      custom.map((a) => a.policy.ref),
      notes,
    );
  }
  for (const a of applicable) {
    if (a.dryRun) notes.push(`${a.policy.ref} is dry-run and not enforced`);
    if (a.action === 'AUDIT') notes.push(`${a.policy.ref} is AUDIT and never changes the outcome`);
  }
  const isGrpc = protocol === 'grpc';
  const base: Context = {
    tcp: protocol === 'tcp',
    port: request.port,
    method: isGrpc ? 'POST' : request.method,
    methodProblem: isGrpc && request.method !== undefined && request.method !== 'POST' ? `a gRPC request is always POST, not ${request.method}` : undefined,
    path: request.path,
    peer: mutualTls ? certificate : undefined,
    clientIp: clientIp(request.client.ip),
    remoteIp: remoteIpOf(request.destination, request.client, protocol),
    headers: new Map(Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
    requestAuth,
    config,
  };
  const ctx = policyContext(base);
  const evaluate = (action: Action): { policy: Policy; match: Tri }[] =>
    applicable
      .filter((a) => a.action === action && !a.dryRun)
      .map((a) => {
        const rules = a.policy.spec['rules'];
        if (action === 'DENY' && (rules === undefined || rules === null || (Array.isArray(rules) && rules.length === 0))) {
          notes.push(`${a.policy.ref} is a DENY without rules: the webhook rejects it and, if admitted, it never matches (§1.2)`);
        }
        ctx.policy = a.policy;
        ctx.action = action;
        return { policy: a.policy, match: policyMatches(ctx) };
      });
  const denies = evaluate('DENY');
  const allows = evaluate('ALLOW');
  if (base.tcp) notes.push(`port ${request.port} is TCP, so HTTP-only conditions are dropped from DENY rules and ALLOW rules holding them are dropped (§1.7)`);

  const denyMatch = or(denies.map((d) => d.match));
  if (denyMatch === true) {
    return { verdict: 'deny', reason: sentence(`denied: DENY policy matches the request`, notes), objects: refsWhere(denies, (t) => t === true) };
  }
  const allowMatch: Tri = allows.length === 0 ? true : or(allows.map((a) => a.match));
  const allowed = and([not(denyMatch), allowMatch]);
  if (allowed === true) {
    if (allows.length === 0) {
      return {
        verdict: 'allow',
        reason: sentence(
          denies.length === 0
            ? 'allowed: no enforced AuthorizationPolicy applies to the workload'
            : 'allowed: no DENY policy matches and no enforced ALLOW policy applies',
          notes,
        ),
        objects: [],
      };
    }
    return {
      verdict: 'allow',
      reason: sentence('allowed: no DENY policy matches and an ALLOW policy matches', notes),
      objects: refsWhere(allows, (t) => t === true),
    };
  }
  if (allowed === false) {
    return {
      verdict: 'deny',
      reason: sentence('denied: ALLOW policies apply to the workload and none matches the request', notes),
      objects: allows.map((a) => a.policy.ref).sort(),
    };
  }
  return unsupported(allowed.unknown, [...new Set(allowed.objects)].sort(), notes);
}

function sentence(main: string, notes: readonly string[]): string {
  return notes.length === 0 ? main : `${main} (${notes.join('; ')})`;
}

function unsupported(why: string, objects: readonly string[], notes: readonly string[]): SimulatedDecision {
  return { verdict: 'unsupported', reason: sentence(`unsupported: ${why}`, notes), objects };
}

/**
 * The address `remoteIpBlocks` reads (Istio `remote.ip`). At a gateway, Istio turns on Envoy's use_remote_address and
 * sets xff_num_trusted_hops to the gateway's numTrustedProxies; Envoy then appends the connection's address to
 * X-Forwarded-For and trusts the (N+1)-th address from the right, falling back to the connection's address when the
 * list is shorter (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-for;
 * Istio task https://istio.io/latest/docs/tasks/security/authorization/authz-ingress/, "numTrustedProxies").
 * A sidecar's remote address (PROXY protocol, its own XFF handling) is not modelled.
 */
function remoteIpOf(pod: Workload, client: SimulatedRequest['client'], protocol: 'tcp' | 'http' | 'http2' | 'grpc'): Ip | { readonly unknown: string } {
  const gateway = pod.gateway;
  if (gateway === undefined) {
    return { unknown: '`remoteIpBlocks` at a sidecar depend on PROXY protocol or X-Forwarded-For handling, which is not modelled' };
  }
  if (protocol === 'tcp') return { unknown: '`remoteIpBlocks` on a TCP gateway port depend on PROXY protocol, which is not modelled' };
  const appended = [...(client.forwardedFor ?? []), client.ip];
  const trusted = gateway.numTrustedProxies;
  return clientIp(appended.length >= trusted + 1 ? (appended[appended.length - 1 - trusted] as string) : client.ip);
}

/** The URI SAN of the client's certificate: a workload of this mesh, or a foreign or non-Kubernetes SPIFFE ID. */
function certificateOf(client: SimulatedRequest['client'], config: Required<IstioSimulatorConfig>): string | undefined {
  const identity = client.identity;
  return identity !== undefined ? `spiffe://${config.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}` : client.spiffeId;
}

function clientIp(text: string): Ip {
  const ip = parseIp(text);
  if (ip === undefined) throw new Unsupported(`client ip "${text}" is not an IP address`, []);
  return ip;
}

// ---------------------------------------------------------------------------------------------------------------
// Distinctions: the values the policies that apply to one pod compare a request on one port with

/** Collects one pod port's distinguishing values (see `Distinctions` in verify/simulator.ts). */
class Collector {
  readonly identities: { namespace: string; serviceAccount: string }[] = [];
  readonly namespaces: string[] = [];
  readonly spiffeIds: string[] = [];
  readonly trustDomains: string[] = [];
  readonly cidrs: string[] = [];
  readonly remoteCidrs: string[] = [];
  readonly methods: string[] = [];
  readonly paths: { kind: 'exact' | 'prefix' | 'suffix'; value: string }[] = [];
  readonly unlisted: string[] = [];
  readonly unlistedOperations: string[] = [];

  constructor(private readonly trustDomain: string) {}

  /**
   * A principal `td/ns/<ns>/sa/<sa>` (§1.4); `*` needs no value; `td/ns/<ns>/*` is the namespace. A principal of
   * another trust domain is also a SPIFFE ID to probe, and its trust domain one whose namespaces are probed.
   */
  principal(value: string): void {
    if (value === '*') return;
    const parts = value.split('/');
    const [td, nsKey, ns, saKey, sa] = parts;
    if (td !== undefined && td !== this.trustDomain && !td.includes('*') && td !== '') {
      this.trustDomains.push(td);
      if (parts.length > 1 && !value.includes('*')) this.spiffeIds.push(`spiffe://${value}`);
    }
    if (parts.length === 5 && nsKey === 'ns' && saKey === 'sa' && ns !== undefined && sa !== undefined && !ns.includes('*')) {
      if (!sa.includes('*')) return void this.identities.push({ namespace: ns, serviceAccount: sa });
      if (sa === '*') return void this.namespaces.push(ns);
    }
    if (parts.length === 4 && nsKey === 'ns' && ns !== undefined && !ns.includes('*') && parts[3] === '*') return void this.namespaces.push(ns);
    this.unlisted.push(`principal pattern "${value}"`);
  }

  /** A namespace value (§1.2): `*` needs no value; another wildcard cannot be listed. */
  namespace(value: string): void {
    if (value === '*') return;
    if (value.includes('*')) this.unlisted.push(`namespace pattern "${value}"`);
    else this.namespaces.push(value);
  }

  /** `serviceAccounts`: `sa` (the policy's namespace) or `ns/sa` (§1.4). */
  serviceAccount(value: string, policyNamespace: string): void {
    const [a, b] = value.split('/');
    if (b === undefined) this.identities.push({ namespace: policyNamespace, serviceAccount: a ?? '' });
    else this.identities.push({ namespace: a ?? '', serviceAccount: b });
  }

  method(value: string): void {
    if (value.includes('*')) this.unlistedOperations.push(`method pattern "${value}"`);
    else this.methods.push(value);
  }

  /** A path value: exact, `prefix*`, `*suffix`, or `*` (any path, no value) (§1.8). */
  path(value: string): void {
    if (value === '*') return;
    if (value.endsWith('*')) this.paths.push({ kind: 'prefix', value: value.slice(0, -1) });
    else if (value.startsWith('*')) this.paths.push({ kind: 'suffix', value: value.slice(1) });
    else this.paths.push({ kind: 'exact', value });
  }

  value(key: string, value: string, policyNamespace: string): void {
    switch (key) {
      case 'principals':
      case 'source.principal':
        return this.principal(value);
      case 'namespaces':
      case 'source.namespace':
        return this.namespace(value);
      case 'serviceAccounts':
        return this.serviceAccount(value, policyNamespace);
      case 'ipBlocks':
      case 'source.ip':
        return void this.cidrs.push(value);
      case 'remoteIpBlocks':
      case 'remote.ip':
        return void this.remoteCidrs.push(value);
      case 'methods':
        return this.method(value);
      case 'paths':
        return this.path(value);
      default:
        // Ports are the destination's own (every declared port is probed); hosts, JWT fields and the other
        // keys are not modelled, so requests they could decide are `unsupported`, not mis-decided.
        return;
    }
  }
}

/** Whether a rule can match on the port: a rule whose every `to` entry lists ports without it cannot (§1.2). */
function ruleReachesPort(rule: Rule, port: number): boolean {
  if (rule.to === undefined) return true;
  return rule.to.some((fields) => {
    const ports = fields.get('ports');
    return ports === undefined || ports.some((p) => p === String(port));
  });
}

function distinctionsFor(objects: readonly ManifestObject[], pod: Workload, port: number, config: Required<IstioSimulatorConfig>): Distinctions {
  const found = new Collector(config.trustDomain);
  const authorization = podView(objects, pod, config.rootNamespace).authorization;
  // An object the simulator cannot read makes every request `unsupported`: nothing to tell apart.
  if ('error' in authorization) return {};
  for (const { policy } of authorization.value.applicable) {
    let rules: Reading<Rule>[] | undefined;
    try {
      rules = rulesOf(policy);
    } catch {
      continue;
    }
    for (const r of rules ?? []) {
      if ('error' in r || !ruleReachesPort(r.value, port)) continue;
      for (const entries of [r.value.from ?? [], r.value.to ?? []]) {
        for (const fields of entries) {
          for (const [field, values] of fields) {
            const key = /^not[A-Z]/.test(field) ? field[3]!.toLowerCase() + field.slice(4) : field;
            for (const v of values) found.value(key, v, policy.namespace);
          }
        }
      }
      for (const c of r.value.when) for (const v of [...c.values, ...c.notValues]) found.value(c.key, v, policy.namespace);
    }
  }
  return found;
}

/** One character of a client key: a condition's three values. */
const triChar = (t: Tri): string => (t === true ? '1' : t === false ? '0' : 'u');

/**
 * What the sidecar sees of a client on one port (see `MeshSimulator.clientKey`): mTLS or plaintext, and for
 * each rule of each AuthorizationPolicy that applies to the pod, its `from` part and its `when` conditions on
 * the source (§1.2); `to` and the HTTP conditions depend on the request alone.
 */
function clientKeyFor(
  objects: readonly ManifestObject[],
  pod: Workload,
  port: number,
  client: SimulatedRequest['client'],
  config: Required<IstioSimulatorConfig>,
): string {
  const view = podView(objects, pod, config.rootNamespace);
  const mtls = mtlsOf(view, pod, port, config.rootNamespace);
  const certificate = certificateOf(client, config);
  const mutualTls = certificate !== undefined && mtls.mode !== 'DISABLE';
  if (mtls.mode === 'STRICT' && !mutualTls) return 'refused';
  let key = mutualTls ? 'm' : 'p';
  const { applicable } = readingValue(view.authorization);
  const protocol = pod.ports.find((p) => p.port === port)?.protocol ?? 'http';
  const base: Context = {
    tcp: protocol === 'tcp',
    port,
    method: undefined,
    methodProblem: undefined,
    path: undefined,
    peer: mutualTls ? certificate : undefined,
    clientIp: clientIp(client.ip),
    remoteIp: remoteIpOf(pod, client, protocol),
    headers: new Map(),
    requestAuth: undefined,
    config,
  };
  return key + rulePartsKey(applicable, base, 'from');
}

/**
 * The mirror of `clientKeyFor`: whether a RequestAuthentication refuses the token (401, before any policy, as in
 * `decideFor` step 2), else for each rule of each applicable policy its `to` part, its HTTP conditions (headers,
 * claims) and the request-principal fields of its `from` entries, read with the operation's headers and token.
 */
function operationKeyFor(
  objects: readonly ManifestObject[],
  pod: Workload,
  port: number,
  operation: SimulatedOperation,
  config: Required<IstioSimulatorConfig>,
): string {
  const view = podView(objects, pod, config.rootNamespace);
  const { applicable } = readingValue(view.authorization);
  const protocol = pod.ports.find((p) => p.port === port)?.protocol ?? 'http';
  const isGrpc = protocol === 'grpc';
  let requestAuth: Context['requestAuth'];
  const jwt = operation.jwt;
  if (protocol !== 'tcp' && jwt !== undefined) {
    const jwtRules = requestAuthenticationRules(view.requestAuthentications, pod, config.rootNamespace, []);
    if (jwtRules.length > 0) {
      if (!jwtRules.some((r) => r.issuer === jwt.iss)) return '401 issuer';
      if (!jwt.signedByIssuer) return '401 invalid';
      requestAuth = { principal: `${jwt.iss}/${jwt.sub}`, claims: jwt.claims };
    }
  }
  const base: Context = {
    tcp: protocol === 'tcp',
    port,
    method: isGrpc ? 'POST' : operation.method,
    methodProblem:
      isGrpc && operation.method !== undefined && operation.method !== 'POST' ? `a gRPC request is always POST, not ${operation.method}` : undefined,
    path: operation.path,
    peer: undefined,
    clientIp: clientIp('192.0.2.1'),
    remoteIp: clientIp('192.0.2.1'),
    headers: new Map(Object.entries(operation.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
    requestAuth,
    config,
  };
  return rulePartsKey(applicable, base, 'to');
}

/** Source fields that read the request's token, not the peer: the operation's side of a `from` entry. */
const TOKEN_FIELDS = new Set(['requestPrincipals', 'notRequestPrincipals']);

/** Whether a rule's `from` entries name request principals (read once per rule). */
const tokenReaders = new WeakMap<Rule, boolean>();

function readsToken(rule: Rule): boolean {
  let known = tokenReaders.get(rule);
  if (known === undefined) {
    known = rule.from !== undefined && rule.from.some((fields) => [...fields.keys()].some((f) => TOKEN_FIELDS.has(f)));
    tokenReaders.set(rule, known);
  }
  return known;
}

/**
 * For each rule of each applicable policy, how one side of it decides under `base`: `from` with the `when`
 * conditions on the source, or `to` with the HTTP conditions (on TCP those never match). A `from` entry that
 * also names request principals matches when its peer fields (`from`) and its token fields (`to`) both do, so
 * such a rule gets one character per entry on each side. `e`: the rule is invalid.
 */
/** A rule's key character while its parts are AND'ed: '1' all true so far, 'u' one unknown, '0' one false. */
type RuleState = '1' | 'u' | '0';

const worse = (state: RuleState, part: Tri): RuleState => (part === false ? '0' : isUnknown(part) && state === '1' ? 'u' : state);

function rulePartsKey(applicable: readonly Applicable[], base: Context, side: 'from' | 'to'): string {
  let key = '';
  const ctx = policyContext(base);
  for (const a of applicable) {
    ctx.policy = a.policy;
    ctx.action = a.action === 'DENY' ? 'DENY' : 'ALLOW';
    key += '|';
    for (const r of rulesOf(a.policy) ?? []) {
      if ('error' in r) {
        key += 'e';
        continue;
      }
      // The rule's parts AND'ed, each evaluated in order: false if one is false, else unknown if one is (`worse`).
      let state: RuleState = '1';
      const from = r.value.from;
      const split = readsToken(r.value);
      if (side === 'from' && from !== undefined) {
        if (split) for (const fields of from) key += triChar(fieldsMatch(fields, ctx, false));
        else state = worse(state, entriesMatch(from, ctx));
      }
      if (side === 'to') {
        if (split) for (const fields of from ?? []) key += triChar(fieldsMatch(fields, ctx, true));
        if (r.value.to !== undefined) state = worse(state, entriesMatch(r.value.to, ctx));
      }
      for (const c of r.value.when) {
        if (side === 'from' ? isHttpOnlyKey(c.key) : !isHttpOnlyKey(c.key) || ctx.tcp) continue;
        if (c.values.length > 0)
          state = worse(
            state,
            combineEach(c.values, true, (v) => valueOf(c.key, v, ctx)),
          );
        if (c.notValues.length > 0) state = worse(state, not(combineEach(c.notValues, true, (v) => valueOf(c.key, v, ctx))));
      }
      key += state;
    }
  }
  return key;
}

/**
 * Creates the Istio sidecar simulator.
 *
 * @example
 * createIstioSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local', trustDomainAliases: ['old-td'] })
 */
export function createIstioSimulator(config: IstioSimulatorConfig): MeshSimulator {
  const full: Required<IstioSimulatorConfig> = {
    rootNamespace: config.rootNamespace,
    trustDomain: config.trustDomain,
    trustDomainAliases: config.trustDomainAliases ?? [],
  };
  return {
    name: 'istio',
    // An object the simulator cannot read makes every request `unsupported`: nothing to tell apart.
    distinctions: (objects, destination, port) =>
      orUnsupported(
        () => distinctionsFor(objects, destination, port, full),
        () => ({}),
      ),
    operationKey: (objects, destination, port, operation) => orUnsupported(() => operationKeyFor(objects, destination, port, operation, full), unsupportedKey),
    clientKey: (objects, destination, port, client) => orUnsupported(() => clientKeyFor(objects, destination, port, client, full), unsupportedKey),
    decide(objects, request) {
      return orUnsupported(
        () => decideRequest(objects, request, full),
        (error): SimulatedDecision => ({ verdict: 'unsupported', reason: `unsupported: ${error.message}`, objects: [...error.objects] }),
      );
    },
  };
}

/** One request (see `MeshSimulator.decide`); throws `Unsupported` where the simulator cannot tell. */
function decideRequest(objects: readonly ManifestObject[], request: SimulatedRequest, full: Required<IstioSimulatorConfig>): SimulatedDecision {
  const pod = request.destination;
  const gatewayLabel = GATEWAY_LABELS.find((l) => pod.labels[l] !== undefined);
  const classicGateway = pod.labels['istio'] === 'ingressgateway' || pod.labels['istio'] === 'egressgateway';
  // A gateway whose pod facts are declared is simulated: its Envoy enforces selector policies like a sidecar's
  // (for Gateway API gateways while ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY is on, the default, §1.3), without
  // PeerAuthentication (decideFor). Policies attached by targetRefs to a Gateway are not modelled.
  if (pod.gateway !== undefined) {
    const attached = (policiesByNamespace(objects).get(pod.namespace) ?? []).find(
      (p) => p.kind === 'AuthorizationPolicy' && p.spec['targetRefs'] !== undefined,
    );
    if (pod.gateway.kind === 'gateway-api' && attached !== undefined) {
      return unsupported(
        `${attached.ref} attaches by targetRefs, which the simulator does not model for gateway ${pod.namespace}/${pod.name}`,
        [attached.ref],
        [],
      );
    }
  } else if (gatewayLabel !== undefined || classicGateway) {
    return unsupported(
      `${pod.namespace}/${pod.name} is a gateway or waypoint, not a sidecar workload (label ${gatewayLabel ?? 'istio'}); only sidecars are modelled`,
      [],
      [],
    );
  }
  if (!Number.isInteger(request.port) || request.port < 1 || request.port > 65535) {
    return unsupported(`port ${request.port} is not a port number`, [], []);
  }
  // The sidecar injector rewrites httpGet and tcpSocket probes to the pilot-agent (port 15020), which runs
  // them from inside the pod: they never pass the inbound policy. Default on; a pod opts out with
  // sidecar.istio.io/rewriteAppHTTPProbers: "false" (https://istio.io/latest/docs/ops/configuration/mesh/app-health-check/).
  if (request.client.node === true && podProbeOf(request) !== undefined) {
    return {
      verdict: 'allow',
      reason: `the kubelet's probe of port ${request.port} is rewritten to the sidecar agent, which runs it inside the pod`,
      objects: [],
    };
  }
  const declared = pod.ports.find((p) => p.port === request.port);
  const view = podView(objects, pod, full.rootNamespace);
  if (declared !== undefined) return decideFor(view, request, declared.protocol, full);
  // An undeclared port is still enforced (passthrough chain) but its protocol is sniffed (§1.6): decide only when
  // TCP and HTTP give the same verdict.
  const asTcp = decideFor(view, request, 'tcp', full);
  const asHttp = decideFor(view, request, 'http', full);
  if (asTcp.verdict === asHttp.verdict && asTcp.verdict !== 'unsupported') {
    return { ...asTcp, reason: `port ${request.port} is not declared on ${pod.namespace}/${pod.name}; as TCP and as HTTP alike: ${asTcp.reason}` };
  }
  return unsupported(
    `port ${request.port} is not declared on ${pod.namespace}/${pod.name}, so its protocol is sniffed, and the outcome differs between TCP (${asTcp.verdict}) and HTTP (${asHttp.verdict})`,
    [...new Set([...asTcp.objects, ...asHttp.objects])].sort(),
    [],
  );
}
