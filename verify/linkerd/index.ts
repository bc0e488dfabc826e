/**
 * A Linkerd policy semantics simulator: decides one inbound request the way Linkerd's policy controller and
 * proxy would, from the manifest objects alone (plus the destination pod's facts). It is the independent
 * check of the Linkerd target and imports nothing from `targets/` or `compiler/`.
 *
 * Every rule below follows shared/docs/linkerd.md (section numbers in comments). Route precedence and header
 * matches also follow linkerd2-proxy `linkerd/http/route/src/{http,grpc}/match*.rs`, under both orders a proxy may
 * run (`Precedence`). Whatever the manifests cannot tell (object age, the proxy version where the orders disagree,
 * pod probes, query parameters, webhook-dependent outcomes) ends in an `unsupported` verdict with the reason, never
 * in a guess.
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
import { blockWithin, inBlock, isV4Mapped, parseIp, parseIpBlock, type Ip, type IpBlock as Cidr, type IpSyntax } from '../ip';

/** The default inbound policies (linkerd.md §7). */
export type DefaultPolicy = 'all-unauthenticated' | 'cluster-unauthenticated' | 'all-authenticated' | 'cluster-authenticated' | 'deny' | 'audit';

const DEFAULT_POLICIES: readonly DefaultPolicy[] = [
  'all-unauthenticated',
  'cluster-unauthenticated',
  'all-authenticated',
  'cluster-authenticated',
  'deny',
  'audit',
];

/** linkerd.md §7: the install default of `clusterNetworks`. */
const DEFAULT_CLUSTER_NETWORKS: readonly string[] = ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'];

export interface LinkerdSimulatorConfig {
  readonly trustDomain: string;
  readonly clusterDefaultPolicy?: DefaultPolicy;
  readonly clusterNetworks?: readonly string[];
  readonly controlPlaneNamespace?: string;
  /** The install's `proxy.probeNetworks`, which authorize the automatic probe route (linkerd.md §7). Default everywhere. */
  readonly probeNetworks?: readonly string[];
}

const POLICY = 'policy.linkerd.io';
const GATEWAY = 'gateway.networking.k8s.io';
const ANNOTATION_DEFAULT = 'config.linkerd.io/default-inbound-policy';
const ANNOTATION_REQUIRE_IDENTITY = 'config.linkerd.io/proxy-require-identity-inbound-ports';
const ANNOTATION_OPAQUE = 'config.linkerd.io/opaque-ports';
/** linkerd.md §7: the default opaque-ports set. */
const DEFAULT_OPAQUE_PORTS = [25, 587, 3306, 4444, 5432, 6379, 9300, 11211];
const PROXY_PROTOCOLS = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'] as const;
type ProxyProtocol = (typeof PROXY_PROTOCOLS)[number];

/** Served versions per group/kind (linkerd.md §1 and the CRDs). Anything else is not an object the cluster accepts. */
const SERVED: Record<string, readonly string[]> = {
  [`${POLICY}/Server`]: ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'],
  [`${POLICY}/AuthorizationPolicy`]: ['v1alpha1'],
  [`${POLICY}/MeshTLSAuthentication`]: ['v1alpha1'],
  [`${POLICY}/NetworkAuthentication`]: ['v1alpha1'],
  [`${POLICY}/HTTPRoute`]: ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'],
  [`${POLICY}/ServerAuthorization`]: ['v1alpha1', 'v1beta1'],
  [`${GATEWAY}/HTTPRoute`]: ['v1', 'v1beta1'],
  [`${GATEWAY}/GRPCRoute`]: ['v1', 'v1alpha2'],
  [`core/Namespace`]: ['v1'],
};

// ─────────────────────────────────────────────────────────────────────────────── small helpers

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** Kubernetes prunes null values of non-nullable fields before defaulting: treat null as absent. */
const present = (v: unknown): boolean => v !== undefined && v !== null;

/** An empty or omitted group means the core group (linkerd.md §3, `targets_kind`). */
const normGroup = (g: unknown): string => (typeof g === 'string' && g !== '' ? g : 'core');

// ─────────────────────────────────────────────────────────────────────────────── IP addresses

/**
 * The address syntax this simulator reads: IPv4 parts with leading zeros are read as decimal. linkerd.md does
 * not say what the policy controller's parser does with them; the compiler never writes them.
 */
const IP_SYNTAX: IpSyntax = { leadingZeros: true };
const parseCidr = (text: string): Cidr | undefined => parseIpBlock(text, IP_SYNTAX);

interface Network {
  readonly cidr: Cidr;
  readonly except: readonly Cidr[];
  /** The blocks as written, for `distinctions`; empty for the built-in every-address and localhost networks. */
  readonly texts: readonly string[];
}

const ALL_NETWORKS: readonly Network[] = [
  { cidr: parseCidr('0.0.0.0/0') as Cidr, except: [], texts: [] },
  { cidr: parseCidr('::/0') as Cidr, except: [], texts: [] },
];
const LOCALHOST_NETWORKS: readonly Network[] = [
  { cidr: parseCidr('127.0.0.1/32') as Cidr, except: [], texts: [] },
  { cidr: parseCidr('::1/128') as Cidr, except: [], texts: [] },
];

const inNetworks = (ip: Ip, networks: readonly Network[]): boolean => networks.some((n) => inBlock(ip, n.cidr) && !n.except.some((e) => inBlock(ip, e)));

/** `{cidr, except?}` entries; an error text when one is malformed or breaks the webhook checks 14–15. */
function parseNetworks(value: unknown, where: string): Network[] | string {
  const list = arr(value);
  if (list === undefined) return `${where}: networks is not a list`;
  const out: Network[] = [];
  for (const entry of list) {
    const cidrText = isObj(entry) ? str(entry['cidr']) : undefined;
    const cidr = cidrText === undefined ? undefined : parseCidr(cidrText);
    if (cidr === undefined) return `${where}: "${String(cidrText)}" is not a CIDR`;
    const except: Cidr[] = [];
    const texts: string[] = [cidrText as string];
    for (const e of arr(isObj(entry) ? entry['except'] : undefined) ?? []) {
      const ex = typeof e === 'string' ? parseCidr(e) : undefined;
      if (ex === undefined) return `${where}: except "${String(e)}" is not a CIDR`;
      if (!blockWithin(ex, cidr)) return `${where}: except ${String(e)} lies outside ${cidrText} (webhook rule 14)`;
      if (ex.prefix <= cidr.prefix) return `${where}: except ${String(e)} covers the whole of ${cidrText} (webhook rule 15)`;
      except.push(ex);
      texts.push(e as string);
    }
    out.push({ cidr, except, texts });
  }
  return out;
}

// ─────────────────────────────────────────────────────────────────────────────── objects

interface Obj {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly metadata: ManifestObject['metadata'];
  readonly spec: Json;
  readonly ref: string;
  /** Two different manifests for this object: which one the cluster holds depends on apply order. */
  readonly conflict: boolean;
}

interface Index {
  readonly byKind: Map<string, Obj[]>;
  /** The same objects by kind and namespace: a request looks only at its destination's namespace. */
  readonly byKindNamespace: Map<string, Obj[]>;
  /** The same objects by kind, namespace and name (the key is unique: repeated manifests are one object). */
  readonly byName: Map<string, Obj>;
  /** Routes by kind and namespace, then by the name of each parent ref they carry; built when first asked. */
  readonly byParentName: Map<string, Map<string, Obj[]>>;
  readonly namespaces: Map<string, { annotations: Map<string, Set<string>>; refs: string[] }>;
  /** Objects the API server would refuse, by namespace. */
  readonly ignored: { readonly namespace: string; readonly why: string }[];
}

const refOf = (kind: string, namespace: string, name: string): string => (namespace === '' ? `${kind} ${name}` : `${kind} ${namespace}/${name}`);

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (isObj(value)) {
    return `{${Object.keys(value)
      .filter((k) => k !== 'status')
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

const indexCache = new WeakMap<readonly ManifestObject[], Index>();

function buildIndex(objects: readonly ManifestObject[]): Index {
  const cached = indexCache.get(objects);
  if (cached !== undefined) return cached;
  const byKind = new Map<string, Obj[]>();
  const namespaces: Index['namespaces'] = new Map();
  const ignored: Index['ignored'] = [];
  // The canonical text of an object is only needed when its key repeats: computed then, not for every object.
  const seen = new Map<string, { obj: Obj; apiVersion: string; text?: string; conflict: boolean }>();
  const textOf = (apiVersion: string, obj: Obj): string => stable({ apiVersion, spec: obj.spec, labels: obj.metadata.labels ?? {} });
  for (const o of objects) {
    if (!isObj(o) || !isObj(o.metadata)) continue;
    const apiVersion = str(o.apiVersion);
    const kind = str(o.kind) ?? '?';
    const name = str(o.metadata.name) ?? '?';
    if (apiVersion === undefined) {
      ignored.push({ namespace: str(o.metadata.namespace) ?? '', why: `${kind} ${name} has no apiVersion, so the API server refuses it` });
      continue;
    }
    const slash = apiVersion.lastIndexOf('/');
    const group = slash < 0 ? 'core' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    const served = SERVED[`${group}/${kind}`];
    if (served === undefined) continue; // not a kind Linkerd inbound policy reads
    if (!served.includes(version)) {
      ignored.push({ namespace: str(o.metadata.namespace) ?? '', why: `${kind} ${name}: ${apiVersion} is not a served version, so the API server refuses it` });
      continue;
    }
    if (kind === 'Namespace') {
      let ns = namespaces.get(name);
      if (ns === undefined) namespaces.set(name, (ns = { annotations: new Map(), refs: [] }));
      ns.refs.push(refOf('Namespace', '', name));
      for (const [k, v] of Object.entries(o.metadata.annotations ?? {})) {
        let set = ns.annotations.get(k);
        if (set === undefined) ns.annotations.set(k, (set = new Set()));
        set.add(String(v));
      }
      continue;
    }
    const namespace = str(o.metadata.namespace) ?? 'default';
    const spec = isObj(o['spec']) ? o['spec'] : {};
    const key = `${group}/${kind}/${namespace}/${name}`;
    const obj: Obj = { group, version, kind, namespace, name, metadata: o.metadata, spec, ref: refOf(kind, namespace, name), conflict: false };
    const before = seen.get(key);
    if (before !== undefined) {
      before.text ??= textOf(before.apiVersion, before.obj);
      if (before.text !== textOf(apiVersion, obj)) before.conflict = true;
      continue;
    }
    seen.set(key, { obj, apiVersion, conflict: false });
  }
  const byKindNamespace = new Map<string, Obj[]>();
  const byName = new Map<string, Obj>();
  for (const { obj, conflict } of seen.values()) {
    const held = conflict ? { ...obj, conflict } : obj;
    byName.set(`${obj.group}/${obj.kind}\u0000${obj.namespace}\u0000${obj.name}`, held);
    for (const [map, k] of [
      [byKind, `${obj.group}/${obj.kind}`],
      [byKindNamespace, `${obj.group}/${obj.kind}\u0000${obj.namespace}`],
    ] as const) {
      let list = map.get(k);
      if (list === undefined) map.set(k, (list = []));
      list.push(held);
    }
  }
  const index = { byKind, byKindNamespace, byName, byParentName: new Map(), namespaces, ignored };
  indexCache.set(objects, index);
  return index;
}

function list(index: Index, group: string, kind: string, namespace?: string): readonly Obj[] {
  return (namespace === undefined ? index.byKind.get(`${group}/${kind}`) : index.byKindNamespace.get(`${group}/${kind}\u0000${namespace}`)) ?? [];
}

/**
 * The routes of a kind in a namespace that name `server` in a parent ref: the only ones `parentRefAttaches` can
 * attach to it, found without reading every route of the namespace for every port.
 */
function routesNaming(index: Index, group: string, kind: string, namespace: string, server: string): readonly Obj[] {
  const key = `${group}/${kind}\u0000${namespace}`;
  let byParent = index.byParentName.get(key);
  if (byParent === undefined) {
    byParent = new Map();
    for (const route of list(index, group, kind, namespace)) {
      const names = new Set((arr(route.spec['parentRefs']) ?? []).map((p) => (isObj(p) ? p['name'] : undefined)).filter((n) => typeof n === 'string'));
      for (const name of names) {
        const routes = byParent.get(name);
        if (routes === undefined) byParent.set(name, [route]);
        else routes.push(route);
      }
    }
    index.byParentName.set(key, byParent);
  }
  return byParent.get(server) ?? [];
}

/**
 * Whether the route a policy targets exists: asked for every policy of a namespace for each of its Servers, so
 * answered once per policy.
 */
const routeTargets = new WeakMap<Obj, boolean>();

function targetRouteExists(index: Index, policy: Obj, group: string, kind: string, name: string): boolean {
  let exists = routeTargets.get(policy);
  if (exists === undefined) routeTargets.set(policy, (exists = lookupQuiet(index, group, kind, policy.namespace, name) !== undefined));
  return exists;
}

function lookup(index: Index, group: string, kind: string, namespace: string, name: string): Obj | undefined {
  const found = lookupQuiet(index, group, kind, namespace, name);
  if (found?.conflict)
    throw new Unsupported(`the manifests hold two different versions of ${found.ref}; which one the cluster keeps depends on apply order`, [found.ref]);
  return found;
}

const lookupQuiet = (index: Index, group: string, kind: string, namespace: string, name: string): Obj | undefined =>
  index.byName.get(`${group}/${kind}\u0000${namespace}\u0000${name}`);

// ─────────────────────────────────────────────────────────────────────────────── label selectors (§2)

/** `k8s/api/src/labels.rs`: matchLabels AND matchExpressions; NotIn matches a missing key; illegal expressions match nothing. */
function selectorMatches(selector: unknown, labels: Readonly<Record<string, string>>, where: string): boolean {
  if (!isObj(selector)) return false;
  const matchLabels = selector['matchLabels'];
  if (present(matchLabels)) {
    if (!isObj(matchLabels)) throw new Unsupported(`${where}: matchLabels is not a map`);
    for (const [k, v] of Object.entries(matchLabels)) if (labels[k] !== String(v)) return false;
  }
  for (const e of arr(selector['matchExpressions']) ?? []) {
    if (!isObj(e)) return false;
    const key = str(e['key']) ?? '';
    const op = e['operator'];
    const hasValues = 'values' in e && e['values'] !== null;
    const values = (arr(e['values']) ?? []).map(String);
    const value = Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
    switch (op) {
      case 'In':
        if (!hasValues) return false; // illegal: matches nothing
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (!hasValues) return false;
        if (value !== undefined && values.includes(value)) return false; // a missing key passes NotIn
        break;
      case 'Exists':
        if (hasValues) return false; // a values key, even [], is illegal
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (hasValues) return false;
        if (value !== undefined) return false;
        break;
      default:
        throw new Unsupported(`${where}: match expression operator ${JSON.stringify(op)} is not one the CRD accepts`);
    }
  }
  return true;
}

// ─────────────────────────────────────────────────────────────────────────────── authorizations

type IdentityMatch = { readonly any: true } | { readonly suffix: string } | { readonly exact: string };

interface Authz {
  readonly label: string;
  readonly objects: readonly string[];
  /** undefined: no identity needed (plaintext passes); 'tls': any mesh identity; else one of these. */
  readonly identities?: 'tls' | readonly IdentityMatch[];
  readonly networks: readonly Network[];
  readonly audit?: boolean;
  /** Set when the simulator cannot model this grant: it decides nothing alone. */
  readonly unsupported?: string;
}

interface Client {
  readonly identity?: string;
  readonly ip: Ip;
}

function identityMatches(m: IdentityMatch, id: string): boolean {
  if ('any' in m) return true;
  if ('suffix' in m) return id.endsWith(`.${m.suffix}`);
  return id === m.exact;
}

function authzAdmits(a: Authz, client: Client): boolean {
  if (!inNetworks(client.ip, a.networks)) return false;
  if (a.identities === undefined) return true;
  if (client.identity === undefined) return false; // no identity ⇒ plaintext
  if (a.identities === 'tls') return true;
  const id = client.identity;
  return a.identities.some((m) => identityMatches(m, id));
}

/** linkerd.md §4: `*`, `*.suffix`, exact; the webhook's DNS-like pattern or a spiffe URI. */
const DNS_LIKE = /^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
function identityFromString(s: string): IdentityMatch | undefined {
  if (s === '*') return { any: true };
  if (s.startsWith('spiffe://')) return /^spiffe:\/\/[a-z0-9._-]+(\/[^/]+)*$/i.test(s) ? { exact: s } : undefined;
  if (!DNS_LIKE.test(s)) return undefined;
  if (s.startsWith('*.')) return { suffix: s.slice(2) };
  if (s.includes('*')) return undefined;
  return { exact: s };
}

interface Ctx {
  readonly index: Index;
  readonly trustDomain: string;
  readonly cp: string;
  readonly clusterNetworks: readonly Network[];
  readonly clusterDefault: DefaultPolicy;
  readonly probeNetworks: readonly Cidr[];
  /** The probe networks as written, for `distinctions`. */
  readonly probeNetworkTexts: readonly string[];
  /** Things the reader should know (ignored objects and why). */
  readonly notes: string[];
  readonly cache: PlanCache;
}

/**
 * The identity a client of another trust domain or outside Kubernetes presents: a Kubernetes workload of another
 * trust domain has the DNS-like name of its own control plane's scheme (linkerd.md §9; `k8s/index/src/cluster_info.rs`,
 * assuming the same control-plane namespace); a mesh-expansion workload its SPIFFE URI (linkerd.md §4, §9, the
 * ExternalWorkload docs' `spiffe://root.linkerd.cluster.local/external-workload`).
 */
function foreignIdentity(ctx: Ctx, spiffeId: string): string {
  const workload = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(spiffeId);
  return workload === null ? spiffeId : `${workload[3]}.${workload[2]}.serviceaccount.identity.${ctx.cp}.${workload[1]}`;
}

const saIdentity = (ctx: Ctx, ns: string, sa: string): string => `${sa}.${ns}.serviceaccount.identity.${ctx.cp}.${ctx.trustDomain}`;
const nsSuffix = (ctx: Ctx, ns: string): string => `${ns}.serviceaccount.identity.${ctx.cp}.${ctx.trustDomain}`;

/** linkerd.md §7 table: a default policy as an authorization. */
function defaultAuthz(ctx: Ctx, policy: DefaultPolicy, label: string, objects: readonly string[]): Authz[] {
  switch (policy) {
    case 'all-unauthenticated':
      return [{ label, objects, networks: ALL_NETWORKS }];
    case 'cluster-unauthenticated':
      return [{ label, objects, networks: ctx.clusterNetworks }];
    case 'all-authenticated':
      return [{ label, objects, networks: ALL_NETWORKS, identities: 'tls' }];
    case 'cluster-authenticated':
      return [{ label, objects, networks: ctx.clusterNetworks, identities: 'tls' }];
    case 'deny':
      return [];
    case 'audit':
      return [{ label, objects, networks: ALL_NETWORKS, audit: true }];
  }
}

const LOCALHOST: Authz = { label: 'localhost (the proxy always admits 127.0.0.1 and ::1)', objects: [], networks: LOCALHOST_NETWORKS };

/** linkerd.md §4: a MeshTLSAuthentication's identities, or why the index refuses it. */
function meshTlsIdentities(ctx: Ctx, m: Obj): IdentityMatch[] | string {
  const ids = m.spec['identities'];
  const refs = m.spec['identityRefs'];
  if (present(ids) === present(refs)) return `${m.ref} must set exactly one of identities / identityRefs`;
  const out: IdentityMatch[] = [];
  if (present(ids)) {
    for (const s of arr(ids) ?? []) {
      const parsed = typeof s === 'string' ? identityFromString(s) : undefined;
      if (parsed === undefined) return `${m.ref}: identity ${JSON.stringify(s)} is neither a DNS-like name nor a SPIFFE ID (webhook rule 10)`;
      out.push(parsed);
    }
  } else {
    for (const r of arr(refs) ?? []) {
      if (!isObj(r)) return `${m.ref}: an identityRef is not an object`;
      const name = str(r['name']);
      if (name === undefined) return `${m.ref}: an identityRef has no name (the webhook rejects it; the "all objects" meaning is not implemented)`;
      const group = normGroup(r['group']);
      if (r['kind'] === 'ServiceAccount' && group === 'core') out.push({ exact: saIdentity(ctx, str(r['namespace']) ?? m.namespace, name) });
      else if (r['kind'] === 'Namespace' && group === 'core') {
        if (present(r['namespace'])) return `${m.ref}: a Namespace identityRef may not carry a namespace (webhook rule 11)`;
        out.push({ suffix: nsSuffix(ctx, name) });
      } else return `${m.ref}: identityRef kind ${String(r['kind'])} is neither ServiceAccount nor Namespace`;
    }
  }
  if (out.length === 0) return `${m.ref} resolves to no identity`;
  return out;
}

/** linkerd.md §3: one AuthorizationPolicy as an authorization, or undefined when the policy is ignored (noted). */
function policyAuthz(ctx: Ctx, p: Obj): Authz | undefined {
  const refs = arr(p.spec['requiredAuthenticationRefs']);
  if (refs === undefined) {
    ctx.notes.push(`${p.ref} has no requiredAuthenticationRefs list (a required field), so the API server refuses it`);
    return undefined;
  }
  let mtls: Obj[] = [];
  const sas: { name: string; namespace: string }[] = [];
  const nets: Obj[] = [];
  const objects = [p.ref];
  const skip = (why: string): undefined => {
    ctx.notes.push(`${p.ref} is ignored: ${why}`);
    return undefined;
  };
  for (const r of refs) {
    if (!isObj(r)) return skip('an authentication ref is not an object');
    const kind = r['kind'];
    const group = normGroup(r['group']);
    const name = str(r['name']);
    if (name === undefined) return skip('an authentication ref has no name');
    const ns = str(r['namespace']) ?? p.namespace;
    if (kind === 'MeshTLSAuthentication' && group === POLICY) {
      const m = lookup(ctx.index, POLICY, 'MeshTLSAuthentication', ns, name);
      if (m === undefined) return skip(`MeshTLSAuthentication ${ns}/${name} does not exist`);
      mtls = [...mtls, m];
    } else if (kind === 'NetworkAuthentication' && group === POLICY) {
      const n = lookup(ctx.index, POLICY, 'NetworkAuthentication', ns, name);
      if (n === undefined) return skip(`NetworkAuthentication ${ns}/${name} does not exist`);
      nets.push(n);
    } else if (kind === 'ServiceAccount' && group === 'core') {
      sas.push({ name, namespace: ns });
    } else {
      return skip(`authentication ref kind ${String(kind)} (group ${group}) is not supported (webhook rule 8)`);
    }
  }
  // Webhook rules 4–7; the index refuses the same combinations.
  if (mtls.length > 1) return skip('it names more than one MeshTLSAuthentication (webhook rule 4)');
  if (sas.length > 1) return skip('it names more than one ServiceAccount (webhook rule 5)');
  if (mtls.length > 0 && sas.length > 0) return skip('it names a MeshTLSAuthentication and a ServiceAccount together (webhook rule 6)');
  if (nets.length > 1) return skip('it names more than one NetworkAuthentication (webhook rule 7)');
  let identities: readonly IdentityMatch[] | undefined;
  const m = mtls[0];
  if (m !== undefined) {
    const ids = meshTlsIdentities(ctx, m);
    if (typeof ids === 'string') return skip(ids);
    identities = ids;
    objects.push(m.ref);
  }
  const sa = sas[0];
  if (sa !== undefined) identities = [{ exact: saIdentity(ctx, sa.namespace, sa.name) }];
  let networks: readonly Network[] = ALL_NETWORKS; // no network ref ⇒ every address, not the cluster networks
  const n = nets[0];
  if (n !== undefined) {
    const entries = arr(n.spec['networks']);
    if (entries === undefined || entries.length === 0) return skip(`${n.ref} lists no network (webhook rule 13)`);
    const parsed = parseNetworks(entries, n.ref);
    if (typeof parsed === 'string') return skip(parsed);
    networks = parsed;
    objects.push(n.ref);
  }
  const who =
    identities === undefined
      ? 'any client, plaintext included'
      : sa !== undefined
        ? `ServiceAccount ${sa.namespace}/${sa.name}`
        : `the identities of ${m?.ref ?? ''}`;
  const where = n === undefined ? 'from any address' : `from the networks of ${n.ref}`;
  return { label: `${p.ref} (${who}, ${where})`, objects, networks, ...(identities === undefined ? {} : { identities }) };
}

/** linkerd.md §12: a legacy ServerAuthorization as an authorization. */
function serverAuthorizationAuthz(ctx: Ctx, s: Obj): Authz {
  const base = { label: s.ref, objects: [s.ref] };
  const client = s.spec['client'];
  if (!isObj(client)) return { ...base, networks: [], unsupported: `${s.ref} has no client` };
  let networks: readonly Network[] = ctx.clusterNetworks; // networks omitted ⇒ the cluster networks
  if (present(client['networks'])) {
    const parsed = parseNetworks(client['networks'], s.ref);
    if (typeof parsed === 'string') return { ...base, networks: [], unsupported: `${parsed}; the webhook rejects it (rule 18)` };
    networks = parsed;
  }
  const mesh = client['meshTLS'];
  if (client['unauthenticated'] === true) {
    if (present(mesh)) return { ...base, networks: [], unsupported: `${s.ref} combines unauthenticated with meshTLS (webhook rule 16)` };
    return { ...base, label: `${s.ref} (unauthenticated clients)`, networks };
  }
  if (!isObj(mesh)) return { ...base, networks: [], unsupported: `${s.ref} sets neither unauthenticated nor meshTLS` };
  const ids = arr(mesh['identities']) ?? [];
  const sas = arr(mesh['serviceAccounts']) ?? [];
  if (mesh['unauthenticatedTLS'] === true) {
    if (ids.length > 0 || sas.length > 0)
      return { ...base, networks: [], unsupported: `${s.ref} combines unauthenticatedTLS with identities (webhook rule 17)` };
    return { ...base, label: `${s.ref} (any TLS client)`, networks, identities: 'tls' };
  }
  const matches: IdentityMatch[] = [];
  for (const i of ids) {
    const parsed = typeof i === 'string' ? identityFromString(i) : undefined;
    if (parsed === undefined) return { ...base, networks: [], unsupported: `${s.ref}: identity ${JSON.stringify(i)} is not valid` };
    matches.push(parsed);
  }
  for (const a of sas) {
    const name = isObj(a) ? str(a['name']) : undefined;
    if (name === undefined || !isObj(a)) return { ...base, networks: [], unsupported: `${s.ref}: a serviceAccount has no name` };
    matches.push({ exact: saIdentity(ctx, str(a['namespace']) ?? s.namespace, name) });
  }
  if (matches.length === 0) return { ...base, networks: [], unsupported: `${s.ref}: meshTLS names no identity, service account or unauthenticatedTLS` };
  return { ...base, label: `${s.ref} (meshTLS identities)`, networks, identities: matches };
}

interface Verdict {
  readonly allowed: boolean | 'unsupported';
  readonly by?: Authz;
  readonly why: string;
  readonly objects: readonly string[];
}

/** Allow-only (linkerd.md §11): any grant admits; an unmodelable grant blocks only a deny. */
function evaluate(authzs: readonly Authz[], client: Client): Verdict {
  const admitting = authzs.find((a) => a.unsupported === undefined && authzAdmits(a, client));
  if (admitting !== undefined) return { allowed: true, by: admitting, why: admitting.label, objects: admitting.objects };
  const unknown = authzs.filter((a) => a.unsupported !== undefined);
  if (unknown.length > 0) {
    return { allowed: 'unsupported', why: unknown.map((a) => a.unsupported).join('; '), objects: unknown.flatMap((a) => a.objects) };
  }
  return { allowed: false, why: authzs.length === 0 ? 'no authorization applies' : 'no authorization admits this client', objects: [] };
}

// ─────────────────────────────────────────────────────────────────────────────── routes (§6)

/**
 * How one route match matched a request: what route precedence ranks. `len` is the path-match length (gRPC: the
 * service name's), `method` whether a method matched (gRPC: the method name's length).
 */
interface Summary {
  readonly grpc: boolean;
  readonly exact: boolean;
  readonly len: number;
  readonly method: number;
  readonly headers: number;
  readonly query: number;
}

/**
 * The two route precedence orders of linkerd2-proxy (§6). `released`: path-match length, then header count, query
 * count, method (linkerd2-proxy main, linkerd/http/route/src/http/match.rs `impl Ord for RequestMatch`, path.rs
 * `impl Ord for PathMatch`). `gateway-api`: an Exact path first, then length, then method, header count, query
 * count (linkerd/linkerd2-proxy#4604, commit e9f2d1232, the Gateway API HTTPRouteRule order). gRPC ranks the same
 * in both: service length, method length, header count (grpc/match.rs `impl Ord for RouteMatch`). A request whose
 * decision depends on which order the proxy runs is `unsupported`: manifests do not say the proxy version.
 */
type Precedence = 'released' | 'gateway-api';
const PRECEDENCES: readonly Precedence[] = ['released', 'gateway-api'];

function rank(s: Summary, precedence: Precedence): readonly number[] {
  if (s.grpc) return [s.len, s.method, s.headers];
  return precedence === 'released' ? [s.len, s.headers, s.query, s.method] : [s.exact ? 1 : 0, s.len, s.method, s.headers, s.query];
}

function cmpSummary(a: Summary, b: Summary, precedence: Precedence): number {
  const ra = rank(a, precedence);
  const rb = rank(b, precedence);
  for (let i = 0; i < ra.length; i++) {
    const d = (ra[i] ?? 0) - (rb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** What the catch-all PathPrefix "/" (and a rule without matches) scores (linkerd2-proxy `RequestMatch::default`). */
const DEFAULT_SUMMARY: Summary = { grpc: false, exact: false, len: 1, method: 0, headers: 0, query: 0 };

interface Route {
  readonly obj: Obj;
  readonly grpc: boolean;
}

interface RouteHit {
  readonly route: Route;
  readonly summary: Summary;
}

/** A match outcome: a summary, no match, or unknown (it would need request data the contract does not carry). */
type MatchOutcome = { readonly summary: Summary } | 'no' | { readonly unknown: string; readonly summary: Summary };

/** A path match's outcome: its length and whether it is an Exact match, or undefined (no match). */
function httpPathScore(path: unknown, reqPath: string, where: string): { readonly len: number; readonly exact: boolean } | undefined {
  const p = isObj(path) ? path : {};
  const type = present(p['type']) ? p['type'] : 'PathPrefix'; // omitted type ⇒ PathPrefix
  const value = present(p['value']) ? str(p['value']) : '/';
  if (value === undefined) throw new Unsupported(`${where}: a path value is not a string`);
  if (type === 'Exact' || type === 'PathPrefix') {
    if (!value.startsWith('/')) throw new Unsupported(`${where}: path "${value}" is not absolute (webhook rule 19 rejects the route)`);
    if (type === 'Exact') return reqPath === value ? { len: value.length, exact: true } : undefined;
    // linkerd2-proxy path.rs: whole segments, trailing slashes ignored; "/" matches everything with length 1.
    if (value === '/') return { len: 1, exact: false };
    const prefix = value.replace(/\/+$/, '');
    const trimmed = reqPath.replace(/\/+$/, '');
    if (!trimmed.startsWith(prefix)) return undefined;
    const rest = trimmed.slice(prefix.length);
    return rest === '' || rest.startsWith('/') ? { len: prefix.length, exact: false } : undefined;
  }
  if (type === 'RegularExpression') return fullMatch(value, reqPath, where) ? { len: reqPath.length, exact: false } : undefined;
  throw new Unsupported(`${where}: path match type ${JSON.stringify(type)} is not one the CRD accepts`);
}

/** Does a regular expression match the whole text (Rust `Regex::find` anchored at both ends by the caller, as linkerd2-proxy checks)? */
function fullMatch(pattern: string, text: string, where: string): boolean {
  const re = compiledPattern(pattern);
  if (re === undefined) throw new Unsupported(`${where}: regex ${JSON.stringify(pattern)} cannot be evaluated here`);
  const m = re.exec(text);
  // The whole text must match (leftmost match anchored at both ends).
  return m !== null && m.index === 0 && m[0].length === text.length;
}

/** Each expression compiled once (routes repeat a few expressions over every request); undefined: it does not compile. */
const compiledPatterns = new Map<string, RegExp | undefined>();

function compiledPattern(pattern: string): RegExp | undefined {
  if (compiledPatterns.has(pattern)) return compiledPatterns.get(pattern);
  if (compiledPatterns.size >= 4096) compiledPatterns.clear();
  let re: RegExp | undefined;
  try {
    re = new RegExp(jsPattern(pattern), 'u');
  } catch {
    re = undefined;
  }
  compiledPatterns.set(pattern, re);
  return re;
}

/**
 * A Rust regex in JavaScript's unicode syntax: Rust reads a backslash before any punctuation as that character
 * (regex crate docs, "Escape sequences": any meta character, and `#`, `&`, `-`, `~` among them), where JavaScript's
 * unicode mode accepts only its own syntax characters; such escapes are written as `\xHH`.
 */
function jsPattern(pattern: string): string {
  return pattern.replace(/\\([^A-Za-z0-9])/gu, (_, c: string) => {
    const code = c.codePointAt(0) ?? 0;
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** The Gateway API header name syntax (the HTTPRoute CRD's `headers[].name` pattern). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** http's `HeaderValue::to_str` succeeds only on visible ASCII and tab; other values never reach a regex. */
const VISIBLE_ASCII = /^[\t\x20-\x7e]*$/;

/**
 * Header matches, all of which must hold (linkerd2-proxy linkerd/http/route/src/http/match/header.rs
 * `MatchHeader::is_match`). The name compares case-insensitively: the policy controller parses it into an http
 * `HeaderName` (policy-controller k8s/index/src/routes/http.rs `header_match`), which lower-cases it, as it does
 * every request header name. `Exact` (the default type) holds when any value of the header equals the value;
 * `RegularExpression` when any value that is visible ASCII matches the expression from its first to its last
 * character. Undefined: no header matches; a count: how many (what precedence ranks).
 */
function headerMatchCount(list: unknown, req: SimulatedRequest, where: string): number | undefined {
  if (!present(list)) return 0;
  const entries = arr(list);
  if (entries === undefined) throw new Unsupported(`${where}: headers is not a list`);
  const names = new Set<string>();
  for (const entry of entries) {
    const h = isObj(entry) ? entry : {};
    const name = str(h['name']);
    const value = str(h['value']);
    const type = present(h['type']) ? h['type'] : 'Exact';
    if (name === undefined || !HEADER_NAME.test(name) || value === undefined || value === '')
      throw new Unsupported(`${where}: a header match has no valid name or an empty value, which the CRD rejects`);
    const lower = name.toLowerCase();
    // The CRD keys the list by name; names that differ only in case pass it, and what the proxy does then is not documented.
    if (names.has(lower)) throw new Unsupported(`${where}: two header matches name ${lower}`);
    names.add(lower);
    const values = Object.entries(req.headers ?? {}).flatMap(([n, v]) => (n.toLowerCase() === lower ? [v] : []));
    let holds: boolean;
    if (type === 'Exact') holds = values.includes(value);
    else if (type === 'RegularExpression') holds = values.some((v) => VISIBLE_ASCII.test(v) && fullMatch(value, v, where));
    else throw new Unsupported(`${where}: header match type ${JSON.stringify(type)} is not one the CRD accepts`);
    if (!holds) return undefined;
  }
  return entries.length;
}

function httpMatch(m: unknown, req: SimulatedRequest, where: string): MatchOutcome {
  const match = isObj(m) ? m : {};
  const reqPath = req.path;
  if (reqPath === undefined) throw new Unsupported(`the request carries no path, and ${where} decides by path`);
  const path = httpPathScore(match['path'], reqPath, where);
  if (path === undefined) return 'no';
  let method = 0;
  if (present(match['method'])) {
    if (req.method === undefined) throw new Unsupported(`the request carries no method, and ${where} matches on one`);
    if (req.method !== match['method']) return 'no';
    method = 1;
  }
  const headers = headerMatchCount(match['headers'], req, where);
  if (headers === undefined) return 'no';
  const query = (arr(match['queryParams']) ?? []).length;
  const summary: Summary = { grpc: false, exact: path.exact, len: path.len, method, headers, query };
  if (query > 0) return { unknown: `${where} matches on query parameters, which the request does not carry`, summary };
  return { summary };
}

function grpcMatch(m: unknown, req: SimulatedRequest, where: string): MatchOutcome {
  const match = isObj(m) ? m : {};
  // linkerd2-proxy grpc match: only POST requests match a gRPC route (gRPC is always POST).
  if (req.method !== undefined && req.method !== 'POST') return 'no';
  let service = 0;
  let methodLen = 0;
  // linkerd2-proxy MatchRpc::match_length: the path splits on "/" into "", service, method (further parts
  // ignored); a path without those parts matches no gRPC route, even one without a method match.
  if (req.path === undefined) throw new Unsupported(`the request carries no path (/service/method), and ${where} decides by it`);
  const parts = req.path.split('/');
  if (parts[0] !== '' || parts[1] === undefined || parts[2] === undefined) return 'no';
  const rpc = match['method'];
  if (present(rpc)) {
    if (!isObj(rpc)) throw new Unsupported(`${where}: a method match is not an object`);
    const type = present(rpc['type']) ? rpc['type'] : 'Exact';
    if (type !== 'Exact') throw new Unsupported(`${where}: GRPCRoute method match type ${JSON.stringify(type)} is not modelled`);
    const wantService = str(rpc['service']);
    const wantMethod = str(rpc['method']);
    if (wantService === undefined && wantMethod === undefined)
      throw new Unsupported(`${where}: a GRPC method match names neither service nor method (webhook rule 24)`);
    if (wantService !== undefined) {
      if (parts[1] !== wantService) return 'no';
      service = wantService.length;
    }
    if (wantMethod !== undefined) {
      if (parts[2] !== wantMethod) return 'no';
      methodLen = wantMethod.length;
    }
  }
  // GRPCRoute header matches are read by the same MatchHeader (linkerd2-proxy grpc/match.rs).
  const headers = headerMatchCount(match['headers'], req, where);
  if (headers === undefined) return 'no';
  return { summary: { grpc: true, exact: false, len: service, method: methodLen, headers, query: 0 } };
}

/** The best match of one route under one precedence order: a summary, undefined (no match), or throws Unsupported. */
/** `<route> rule <n>` of each rule of a route, written once per route: routes are scored for every request. */
const routeRuleWheres = new WeakMap<Obj, string[]>();

function ruleWheres(route: Obj, count: number): readonly string[] {
  let wheres = routeRuleWheres.get(route);
  if (wheres === undefined) routeRuleWheres.set(route, (wheres = []));
  for (let i = wheres.length; i < count; i++) wheres.push(`${route.ref} rule ${i + 1}`);
  return wheres;
}

function routeScore(route: Route, req: SimulatedRequest, precedence: Precedence): { summary: Summary } | { unknown: string; summary: Summary } | undefined {
  const { obj, grpc } = route;
  const hostnames = arr(obj.spec['hostnames']) ?? [];
  if (hostnames.length > 0) throw new Unsupported(`${obj.ref} matches on hostnames, and the request carries no Host`, [obj.ref]);
  // Omitted rules: HTTPRoute CRDs default to one PathPrefix "/" rule; GRPCRoute has no default (matches nothing).
  const rules = present(obj.spec['rules']) ? (arr(obj.spec['rules']) ?? []) : grpc ? [] : [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }];
  let best: { summary: Summary } | undefined;
  let bestUnknown: { unknown: string; summary: Summary } | undefined;
  const wheres = ruleWheres(obj, rules.length);
  rules.forEach((rule, i) => {
    const where = wheres[i] as string;
    const r = isObj(rule) ? rule : {};
    // Omitted matches: the HTTPRoute CRD default (PathPrefix "/"); an empty list or a GRPC rule without matches
    // matches everything, scored like PathPrefix "/" (linkerd2-proxy RequestMatch::default) or no rpc match.
    const matches = present(r['matches']) ? (arr(r['matches']) ?? []) : [];
    const outcomes: MatchOutcome[] =
      matches.length === 0
        ? [grpc ? grpcMatch({}, req, where) : { summary: DEFAULT_SUMMARY }]
        : matches.map((m) => (grpc ? grpcMatch(m, req, where) : httpMatch(m, req, where)));
    for (const o of outcomes) {
      if (o === 'no') continue;
      if ('unknown' in o) {
        if (bestUnknown === undefined || cmpSummary(o.summary, bestUnknown.summary, precedence) > 0) bestUnknown = o;
      } else if (best === undefined || cmpSummary(o.summary, best.summary, precedence) > 0) best = o;
    }
  });
  if (bestUnknown !== undefined && (best === undefined || cmpSummary(bestUnknown.summary, best.summary, precedence) >= 0)) return bestUnknown;
  return best;
}

/** The routes that match a request best under one precedence order (ties included), or why that cannot be known. */
type BestRoutes = { readonly top: readonly RouteHit[] } | { readonly blocking: readonly { readonly route: Route; readonly why: string }[] };

function bestRoutes(routes: readonly Route[], req: SimulatedRequest, precedence: Precedence): BestRoutes {
  const hits: RouteHit[] = [];
  const unknowns: { route: Route; why: string; summary: Summary }[] = [];
  for (const route of routes) {
    const s = routeScore(route, req, precedence);
    if (s === undefined) continue;
    if ('unknown' in s) unknowns.push({ route, why: s.unknown, summary: s.summary });
    else hits.push({ route, summary: s.summary });
  }
  hits.sort((a, b) => cmpSummary(b.summary, a.summary, precedence));
  const first = hits[0];
  const blocking = unknowns.filter((u) => first === undefined || cmpSummary(u.summary, first.summary, precedence) >= 0);
  if (blocking.length > 0) return { blocking };
  return { top: first === undefined ? [] : hits.filter((h) => cmpSummary(h.summary, first.summary, precedence) === 0) };
}

/**
 * linkerd.md §6: a parent ref attaches a route to a Server when it names group policy.linkerd.io, kind Server,
 * the route's own namespace, and no port or sectionName. Returns a reason text when the outcome is undocumented.
 */
function parentRefAttaches(route: Obj, server: Obj): 'yes' | 'no' | string {
  const defaultGroup = route.group === POLICY ? POLICY : GATEWAY; // each CRD's parentRef group default
  let own = false;
  const invalid: string[] = [];
  for (const p of arr(route.spec['parentRefs']) ?? []) {
    if (!isObj(p)) continue;
    const group = present(p['group']) ? normGroup(p['group']) : defaultGroup;
    const kind = present(p['kind']) ? p['kind'] : 'Gateway'; // both CRDs default kind to Gateway
    if (group !== POLICY || kind !== 'Server') continue;
    const ns = str(p['namespace']) ?? route.namespace;
    const problem =
      ns !== route.namespace
        ? 'names a Server in another namespace'
        : present(p['port'])
          ? 'sets a port'
          : present(p['sectionName'])
            ? 'sets a sectionName'
            : undefined;
    if (problem !== undefined) invalid.push(`a Server parent ref (${String(p['name'])}) that ${problem}`);
    else if (p['name'] === server.name) own = true;
  }
  if (!own) return 'no';
  if (invalid.length > 0)
    return `${route.ref} attaches to ${server.ref} but also has ${invalid.join(' and ')}; whether the invalid ref voids the whole route is not documented`;
  return 'yes';
}

// ─────────────────────────────────────────────────────────────────────────────── the simulator

function portList(value: string): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 65535) return undefined;
    for (let p = lo; p <= hi; p++) out.add(p);
  }
  return out;
}

/** One namespace annotation (from Namespace patches), or throws when two patches disagree. */
function nsAnnotation(ctx: Ctx, ns: string, key: string): { value: string; ref: string } | undefined {
  const entry = ctx.index.namespaces.get(ns);
  const values = entry?.annotations.get(key);
  if (entry === undefined || values === undefined) return undefined;
  if (values.size > 1)
    throw new Unsupported(
      `Namespace ${ns} is given different ${key} values (${[...values].join(', ')}); which one the pods got depends on apply order`,
      entry.refs,
    );
  return { value: [...values][0] ?? '', ref: entry.refs[0] ?? refOf('Namespace', '', ns) };
}

interface Traffic {
  /** The connection carries HTTP (HTTP/1, HTTP/2 or gRPC). */
  readonly http: boolean;
}

function decision(verdict: SimulatedDecision['verdict'], reason: string, objects: readonly string[], ctx: Ctx): SimulatedDecision {
  const notes = [...new Set(ctx.notes)];
  const full = notes.length === 0 ? reason : `${reason} (note: ${notes.join('; ')})`;
  return { verdict, reason: full, objects: [...new Set(objects)] };
}

/**
 * linkerd.md §6, §7: while a port has no Server, or a Server without routes, an automatic route admits GET on
 * each httpGet probe path of the pod spec, unauthenticated, from `proxy.probeNetworks`. Undefined: it does not.
 */
function automaticProbeRoute(ctx: Ctx, req: SimulatedRequest, ip: Ip): string | undefined {
  const probe = podProbeOf(req);
  if (probe?.path === undefined || !ctx.probeNetworks.some((net) => inBlock(ip, net))) return undefined;
  return `the automatic probe route admits GET ${probe.path} from proxy.probeNetworks, unauthenticated (no route of its own replaced it)`;
}

function decideDefault(ctx: Ctx, req: SimulatedRequest, client: Client, traffic: Traffic, why: string): SimulatedDecision {
  const ns = req.destination.namespace;
  let policy = ctx.clusterDefault;
  let source = 'the cluster default';
  const objects: string[] = [];
  const annotated = nsAnnotation(ctx, ns, ANNOTATION_DEFAULT);
  if (annotated !== undefined) {
    if ((DEFAULT_POLICIES as readonly string[]).includes(annotated.value)) {
      policy = annotated.value as DefaultPolicy;
      source = `the ${ANNOTATION_DEFAULT} annotation of ${annotated.ref}`;
      objects.push(annotated.ref);
    } else {
      ctx.notes.push(
        `${annotated.ref} sets ${ANNOTATION_DEFAULT} to the invalid value "${annotated.value}", which is only logged; the cluster default applies`,
      );
    }
  }
  const requireIdentity = nsAnnotation(ctx, ns, ANNOTATION_REQUIRE_IDENTITY);
  if (requireIdentity !== undefined) {
    const ports = portList(requireIdentity.value);
    if (ports === undefined)
      throw new Unsupported(`${requireIdentity.ref}: ${ANNOTATION_REQUIRE_IDENTITY} "${requireIdentity.value}" is not a port list`, [requireIdentity.ref]);
    if (ports.has(req.port) && (policy === 'all-unauthenticated' || policy === 'cluster-unauthenticated')) {
      policy = policy === 'all-unauthenticated' ? 'all-authenticated' : 'cluster-authenticated';
      source += ` made authenticated by ${ANNOTATION_REQUIRE_IDENTITY} on ${requireIdentity.ref}`;
      objects.push(requireIdentity.ref);
    }
  }
  const authzs = [...defaultAuthz(ctx, policy, `the default policy ${policy}`, objects), LOCALHOST];
  const v = evaluate(authzs, client);
  const head = `${why}, so the default policy applies: ${policy} (from ${source})`;
  if (v.allowed === true) {
    const audit = v.by?.audit === true ? '; audit mode lets it through and only logs it' : '';
    return decision('allow', `${head}; admitted by ${v.why}${audit}`, [...objects, ...v.objects], ctx);
  }
  let opaque = DEFAULT_OPAQUE_PORTS.includes(req.port);
  const opaqueAnnotation = nsAnnotation(ctx, ns, ANNOTATION_OPAQUE);
  if (opaqueAnnotation !== undefined) opaque = portList(opaqueAnnotation.value)?.has(req.port) ?? opaque;
  const probeRoute = traffic.http && !opaque ? automaticProbeRoute(ctx, req, client.ip) : undefined;
  if (probeRoute !== undefined) return decision('allow', `${head}; it does not admit this client, but ${probeRoute}`, objects, ctx);
  return decision('deny', `${head}; it does not admit this client`, objects, ctx);
}

/** What decides requests to one port of one workload, whatever the client, method and path (§2, §3, §6, §12). */
interface Plan {
  readonly traffic: Traffic;
  /** Why no Server applies, when none does. */
  readonly why?: string;
  readonly server?: Obj;
  readonly proto?: ProxyProtocol;
  readonly serverAuthzs?: readonly Authz[];
  readonly routes?: readonly Route[];
  readonly connectionLevel?: boolean;
}

/** A plan, or the Unsupported its reading threw, with the notes written on the way: both replayed on every request. */
type PlanReading = { readonly plan: Plan; readonly notes: readonly string[] } | { readonly error: unknown; readonly notes: readonly string[] };

/** Plans per simulator: by index, workload, and `port/httpHinted`; route authorizations by route. */
interface PlanCache {
  readonly plans: WeakMap<Index, WeakMap<Workload, Map<string, PlanReading>>>;
  readonly routeAuthzs: WeakMap<
    Obj,
    { readonly authzs: readonly Authz[]; readonly notes: readonly string[] } | { readonly error: unknown; readonly notes: readonly string[] }
  >;
}

function planOf(ctx: Ctx, dest: Workload, port: number, httpHinted: boolean): Plan {
  let byWorkload = ctx.cache.plans.get(ctx.index);
  if (byWorkload === undefined) ctx.cache.plans.set(ctx.index, (byWorkload = new WeakMap()));
  let byPort = byWorkload.get(dest);
  if (byPort === undefined) byWorkload.set(dest, (byPort = new Map()));
  const key = `${port}/${httpHinted}`;
  let entry = byPort.get(key);
  if (entry === undefined) {
    const notes: string[] = [];
    const own: Ctx = { ...ctx, notes };
    try {
      entry = { plan: computePlan(own, dest, port, httpHinted), notes };
    } catch (error) {
      entry = { error, notes };
    }
    byPort.set(key, entry);
  }
  ctx.notes.push(...entry.notes);
  if ('error' in entry) throw entry.error;
  return entry.plan;
}

/** The authorizations that target one route (§3), read once per route. */
function routeAuthzsOf(ctx: Ctx, r: Obj): readonly Authz[] {
  let entry = ctx.cache.routeAuthzs.get(r);
  if (entry === undefined) {
    const notes: string[] = [];
    const own: Ctx = { ...ctx, notes };
    try {
      const authzs: Authz[] = [];
      for (const p of list(own.index, POLICY, 'AuthorizationPolicy', r.namespace)) {
        const t = p.spec['targetRef'];
        if (!isObj(t) || t['kind'] !== r.kind || t['name'] !== r.name) continue;
        const group = normGroup(t['group']);
        // HTTPRoute either group (each its own route); GRPCRoute only the Gateway API group.
        if (group !== r.group) continue;
        if (p.conflict) throw new Unsupported(`the manifests hold two different versions of ${p.ref}`, [p.ref]);
        const a = policyAuthz(own, p);
        if (a !== undefined) authzs.push(a);
      }
      entry = { authzs, notes };
    } catch (error) {
      entry = { error, notes };
    }
    ctx.cache.routeAuthzs.set(r, entry);
  }
  ctx.notes.push(...entry.notes);
  if ('error' in entry) throw entry.error;
  return entry.authzs;
}

/**
 * The labels of a meshed pod as Servers see them: its template's, plus `linkerd.io/control-plane-ns: <cp>`, which the
 * proxy injector adds to every pod it injects (linkerd/linkerd2 `pkg/k8s/labels.go` ControllerNSLabel, set by
 * `pkg/inject/inject.go`); `linkerd viz allow-scrapes` selects meshed pods by it.
 */
function meshedPodLabels(ctx: Ctx, dest: Workload): Readonly<Record<string, string>> {
  return { ...dest.labels, 'linkerd.io/control-plane-ns': ctx.cp };
}

function computePlan(ctx: Ctx, dest: Workload, port: number, httpHinted: boolean): Plan {
  // Gateways. A Gateway API implementation's pods (an Envoy-based gateway) are meshed like any workload
  // (`linkerd.io/inject`, e.g. through the Gateway's `spec.infrastructure.annotations`,
  // https://gateway-api.sigs.k8s.io/guides/infrastructure): their proxy's inbound side enforces Servers and
  // authorizations as for every meshed pod, and its outbound calls carry the pod's service-account identity over mTLS
  // ("like all pods, traffic to a meshed ingress has both an inbound and an outbound component",
  // https://linkerd.io/2/tasks/using-ingress). So they are simulated as ordinary pods; a meshed caller presents its
  // identity to them. Istio's ingress gateway deployment is an Istio proxy, not a Linkerd-meshed pod: not modelled.
  if (dest.gateway?.kind === 'istio-ingress')
    throw new Unsupported(`${dest.namespace}/${dest.name} is an Istio ingress gateway, which runs Istio's proxy and no Linkerd proxy`);
  const declared = dest.ports.filter((p) => p.port === port);
  const protocols = new Set(declared.map((p) => p.protocol));
  if (protocols.size > 1) throw new Unsupported(`port ${port} is declared with several protocols`);
  const appProtocol = declared[0]?.protocol;
  if (appProtocol === 'tcp' && httpHinted) throw new Unsupported(`port ${port} is declared as tcp, yet the request has an HTTP method or path`);
  const traffic: Traffic = { http: appProtocol === undefined ? httpHinted : appProtocol !== 'tcp' };

  // §2: Servers in the pod's namespace that select the pod and the port.
  const selecting: Obj[] = [];
  const podLabels = meshedPodLabels(ctx, dest);
  for (const s of list(ctx.index, POLICY, 'Server', dest.namespace)) {
    if (!present(s.spec['podSelector'])) continue; // externalWorkloadSelector selects no pod
    if (!selectorMatches(s.spec['podSelector'], podLabels, s.ref)) continue;
    const serverPort = s.spec['port'];
    if (typeof serverPort === 'number') {
      if (serverPort !== port) continue;
    } else if (typeof serverPort === 'string') {
      if (/^\d+$/.test(serverPort))
        throw new Unsupported(`${s.ref}: port "${serverPort}" is a number written as a string; whether it is read as a number or a name is not documented`, [
          s.ref,
        ]);
      // A name resolves against the pod's declared ports; a name the pod lacks means the Server does not apply.
      if (!dest.ports.some((p) => p.name === serverPort && p.port === port)) continue;
    } else continue;
    if (s.conflict) throw new Unsupported(`the manifests hold two different versions of ${s.ref}; which one the cluster keeps depends on apply order`, [s.ref]);
    selecting.push(s);
  }
  if (selecting.length > 1) {
    const refs = selecting.map((s) => s.ref);
    throw new Unsupported(
      `${refs.join(' and ')} all select port ${port} of ${dest.namespace}/${dest.name}; the oldest one wins, and manifests do not tell creation order`,
      refs,
    );
  }
  const server = selecting[0];
  if (server === undefined) return { traffic, why: `no Server selects port ${port} of ${dest.namespace}/${dest.name}` };

  // Server fields.
  const protoValue = present(server.spec['proxyProtocol']) ? server.spec['proxyProtocol'] : 'unknown';
  if (!(PROXY_PROTOCOLS as readonly unknown[]).includes(protoValue)) {
    throw new Unsupported(
      `${server.ref}: proxyProtocol ${JSON.stringify(protoValue)} is not one of ${PROXY_PROTOCOLS.join(', ')}; the webhook rejects it, and without the webhook the outcome is not documented`,
      [server.ref],
    );
  }
  const proto = protoValue as ProxyProtocol;
  let accessPolicy: DefaultPolicy = 'deny';
  if (server.version === 'v1beta3') {
    const value = present(server.spec['accessPolicy']) ? server.spec['accessPolicy'] : 'deny';
    if (!(DEFAULT_POLICIES as readonly unknown[]).includes(value)) {
      throw new Unsupported(
        `${server.ref}: accessPolicy ${JSON.stringify(value)} is invalid; the webhook rejects the Server (default policy) but without the webhook the index treats it as deny`,
        [server.ref],
      );
    }
    accessPolicy = value as DefaultPolicy;
  } else if (present(server.spec['accessPolicy'])) {
    ctx.notes.push(`${server.ref} is written as ${server.version}, whose schema has no accessPolicy: the field is pruned and the stored default deny applies`);
  }

  // §3 / §12: server-level authorizations.
  const serverAuthzs: Authz[] = [];
  for (const p of list(ctx.index, POLICY, 'AuthorizationPolicy', server.namespace)) {
    const t = p.spec['targetRef'];
    if (!isObj(t)) continue;
    const group = normGroup(t['group']);
    const toServer = t['kind'] === 'Server' && group === POLICY && t['name'] === server.name;
    const toNamespace = t['kind'] === 'Namespace' && group === 'core' && t['name'] === p.namespace;
    if (t['kind'] === 'Server' && group !== POLICY && t['name'] === server.name)
      ctx.notes.push(`${p.ref} targets kind Server without group ${POLICY}, an unsupported target`);
    if (t['kind'] === 'Namespace' && t['name'] !== p.namespace)
      ctx.notes.push(`${p.ref} targets Namespace ${String(t['name'])}, not its own namespace, so it applies nowhere`);
    if (
      (t['kind'] === 'HTTPRoute' || t['kind'] === 'GRPCRoute') &&
      typeof t['name'] === 'string' &&
      !targetRouteExists(ctx.index, p, group, t['kind'], t['name'])
    ) {
      ctx.notes.push(`${p.ref} targets ${t['kind']} ${p.namespace}/${t['name']} (group ${group}), which does not exist`);
    }
    if (!toServer && !toNamespace) continue;
    if (p.conflict) throw new Unsupported(`the manifests hold two different versions of ${p.ref}`, [p.ref]);
    const a = policyAuthz(ctx, p);
    if (a !== undefined) serverAuthzs.push(toNamespace ? { ...a, label: `${a.label}, targeting Namespace ${p.namespace}` } : a);
  }
  for (const s of list(ctx.index, POLICY, 'ServerAuthorization', server.namespace)) {
    const target = s.spec['server'];
    if (!isObj(target)) continue;
    const byName = present(target['name']) && target['name'] === server.name;
    const bySelector = !present(target['name']) && present(target['selector']) && selectorMatches(target['selector'], server.metadata.labels ?? {}, s.ref);
    if (!byName && !bySelector) continue;
    if (s.conflict) throw new Unsupported(`the manifests hold two different versions of ${s.ref}`, [s.ref]);
    serverAuthzs.push(serverAuthorizationAuthz(ctx, s));
  }
  serverAuthzs.push(...defaultAuthz(ctx, accessPolicy, `the accessPolicy ${accessPolicy} of ${server.ref}`, [server.ref]), LOCALHOST);

  // §6: which routes count.
  const connectionLevel = proto === 'opaque' || proto === 'TLS' || (proto === 'unknown' && !traffic.http);
  if (!connectionLevel && !traffic.http)
    throw new Unsupported(`${server.ref} is ${proto}, but the port carries non-HTTP traffic; what the proxy does then is not documented`, [server.ref]);
  const routeKinds: [string, string][] =
    proto === 'gRPC'
      ? [[GATEWAY, 'GRPCRoute']]
      : [
          [POLICY, 'HTTPRoute'],
          [GATEWAY, 'HTTPRoute'],
        ];
  const routes: Route[] = [];
  if (!connectionLevel) {
    for (const [group, kind] of routeKinds) {
      for (const r of routesNaming(ctx.index, group, kind, server.namespace, server.name)) {
        const attaches = parentRefAttaches(r, server);
        if (attaches === 'no') continue;
        if (attaches !== 'yes') throw new Unsupported(attaches, [r.ref, server.ref]);
        if (r.conflict) throw new Unsupported(`the manifests hold two different versions of ${r.ref}`, [r.ref]);
        routes.push({ obj: r, grpc: kind === 'GRPCRoute' });
      }
    }
  }
  const ignoredKinds: [string, string][] =
    proto === 'gRPC'
      ? [
          [POLICY, 'HTTPRoute'],
          [GATEWAY, 'HTTPRoute'],
        ]
      : connectionLevel
        ? [
            [POLICY, 'HTTPRoute'],
            [GATEWAY, 'HTTPRoute'],
            [GATEWAY, 'GRPCRoute'],
          ]
        : [[GATEWAY, 'GRPCRoute']];
  for (const [group, kind] of ignoredKinds) {
    for (const r of routesNaming(ctx.index, group, kind, server.namespace, server.name)) {
      if (parentRefAttaches(r, server) === 'yes')
        ctx.notes.push(
          `${r.ref} is attached to ${server.ref} but ignored: a ${proto} Server ${connectionLevel ? 'uses no routes for this traffic' : `uses only ${proto === 'gRPC' ? 'GRPCRoutes' : 'HTTPRoutes'}`}`,
        );
    }
  }

  return { traffic, server, proto, serverAuthzs, routes, connectionLevel };
}

/** The client as the proxy sees it: its address and, over mTLS, its identity name (§4). */
function clientOf(ctx: Ctx, request: SimulatedRequest['client']): Client {
  const ip = parseIp(request.ip, IP_SYNTAX);
  if (ip === undefined) throw new Unsupported(`client IP "${request.ip}" is not an IP address`);
  if (isV4Mapped(ip)) throw new Unsupported(`client IP ${request.ip} is IPv4-mapped IPv6; how the proxy matches it against networks is not documented`);
  if (ip.family === 4 && ip.bits >> 24n === 127n && request.ip !== '127.0.0.1')
    throw new Unsupported(`client IP ${request.ip} is loopback but not 127.0.0.1; linkerd.md names only 127.0.0.1 and ::1 as localhost`);
  const identity =
    request.identity !== undefined
      ? saIdentity(ctx, request.identity.namespace, request.identity.serviceAccount)
      : request.spiffeId === undefined
        ? undefined
        : foreignIdentity(ctx, request.spiffeId);
  return identity === undefined ? { ip } : { ip, identity };
}

/**
 * What the proxy sees of a client on one port (see `MeshSimulator.clientKey`): which authorizations of the
 * Server and of every route attached to it admit the client (§3, §11); the route a request takes depends on
 * the request alone (§6). Without a Server, whether it has an identity and is in the cluster networks or
 * localhost, all a default policy reads (§7).
 */
function clientKeyOf(ctx: Ctx, dest: Workload, port: number, request: SimulatedRequest['client']): string {
  const client = clientOf(ctx, request);
  const declared = dest.ports.find((p) => p.port === port);
  const plan = planOf(ctx, dest, port, declared === undefined || declared.protocol !== 'tcp');
  const bit = (a: Authz): string => (a.unsupported !== undefined ? 'x' : authzAdmits(a, client) ? '1' : '0');
  // Whether the automatic probe route would admit it (`automaticProbeRoute`).
  const probing = ctx.probeNetworks.some((net) => inBlock(client.ip, net)) ? 'n' : '-';
  if (plan.server === undefined) {
    return `default ${client.identity !== undefined} ${inNetworks(client.ip, ctx.clusterNetworks)} ${inNetworks(client.ip, LOCALHOST_NETWORKS)} ${probing}`;
  }
  let key = probing + (plan.serverAuthzs ?? []).map(bit).join('');
  for (const route of plan.routes ?? []) {
    key += `|${orUnsupported(
      () => routeAuthzsOf(ctx, route.obj).map(bit).join(''),
      () => 'e',
    )}`;
  }
  return key;
}

/** The mirror of `clientKeyOf`: the routes an operation (method, path, headers) takes (the best match and its ties under each precedence order, §6), or none. */
function operationKeyOf(ctx: Ctx, dest: Workload, port: number, operation: SimulatedOperation): string {
  const declared = dest.ports.find((p) => p.port === port);
  const plan = planOf(ctx, dest, port, declared === undefined ? operation.method !== undefined || operation.path !== undefined : declared.protocol !== 'tcp');
  const routes = plan.routes ?? [];
  const req = { client: { ip: '192.0.2.1' }, destination: dest, port, ...operation } as SimulatedRequest;
  // Without routes, the automatic probe route admits a GET on a pod probe path (`automaticProbeRoute`).
  if (plan.server === undefined || routes.length === 0) return podProbeOf(req)?.path === undefined ? '' : 'probe';
  return PRECEDENCES.map((precedence) => {
    const best = bestRoutes(routes, req, precedence);
    if ('blocking' in best) return `unsupported ${best.blocking.map((u) => u.why).join('; ')}`;
    if (best.top.length === 0) return 'none';
    return best.top.map((h) => h.route.obj.ref).join(' ');
  }).join(' | ');
}

function decideRequest(ctx: Ctx, req: SimulatedRequest): SimulatedDecision {
  const client = clientOf(ctx, req.client);
  const dest: Workload = req.destination;
  // linkerd/linkerd2#7777: the proxy accepts every inbound TCP connection itself, so the kubelet's tcpSocket
  // probe succeeds while the proxy runs, whatever the policy says (and without testing the application).
  const tcpProbe = podProbeOf(req);
  if (req.client.node === true && tcpProbe !== undefined && tcpProbe.path === undefined)
    return decision(
      'allow',
      `the kubelet's TCP probe of port ${req.port} connects to the proxy, which accepts every connection (linkerd/linkerd2#7777)`,
      [],
      ctx,
    );
  const httpHinted = req.method !== undefined || req.path !== undefined;
  const plan = planOf(ctx, dest, req.port, httpHinted);
  const { traffic, server, proto, serverAuthzs = [], routes = [], connectionLevel = false } = plan;
  if (server === undefined || proto === undefined) return decideDefault(ctx, req, client, traffic, plan.why ?? '');
  const head = `${server.ref} (${proto}) selects port ${req.port} of ${dest.namespace}/${dest.name}`;
  if (routes.length === 0) {
    const v = evaluate(serverAuthzs, client);
    const level = connectionLevel
      ? 'checked per connection against the server-level authorizations'
      : 'it has no routes, so the server-level authorizations decide';
    if (v.allowed === 'unsupported')
      throw new Unsupported(`${head}; ${level}; none of the modelled ones admits the client, and ${v.why}`, [server.ref, ...v.objects]);
    if (v.allowed) {
      const audit = v.by?.audit === true ? '; audit mode lets it through and only logs it' : '';
      return decision('allow', `${head}; ${level}; admitted by ${v.why}${audit}`, [server.ref, ...v.objects], ctx);
    }
    const probeRoute = connectionLevel ? undefined : automaticProbeRoute(ctx, req, client.ip);
    if (probeRoute !== undefined) return decision('allow', `${head}; ${level}; ${v.why}, but ${probeRoute}`, [server.ref], ctx);
    return decision('deny', `${head}; ${level}; ${v.why}, so it is denied`, [server.ref], ctx);
  }

  // §6: the single best-matching route decides, under each precedence order the proxy may run.
  const [released, gatewayApi] = PRECEDENCES.map((precedence) => decideByRoute(ctx, req, client, head, plan, precedence));
  if (released === undefined || gatewayApi === undefined) throw new Unsupported('internal: no precedence outcome');
  if (released.verdict !== gatewayApi.verdict)
    throw new Unsupported(
      `${head}; the best-matching route depends on the proxy's route precedence, and the two orders decide differently: ` +
        `with header count before method (linkerd2-proxy releases) ${released.verdict} (${released.reason}); with method before header count ` +
        `and Exact paths first (linkerd/linkerd2-proxy#4604, the Gateway API order) ${gatewayApi.verdict} (${gatewayApi.reason})`,
      [...new Set([...released.objects, ...gatewayApi.objects])],
    );
  return released;
}

/** The decision of the best-matching route (§6) under one precedence order; throws Unsupported where it cannot tell. */
function decideByRoute(ctx: Ctx, req: SimulatedRequest, client: Client, head: string, plan: Plan, precedence: Precedence): SimulatedDecision {
  const { server, serverAuthzs = [], routes = [] } = plan;
  if (server === undefined) throw new Unsupported('internal: routes without a Server');
  const best = bestRoutes(routes, req, precedence);
  if ('blocking' in best) throw new Unsupported(best.blocking.map((u) => u.why).join('; '), [server.ref, ...best.blocking.map((u) => u.route.obj.ref)]);
  const routeRefs = routes.map((r) => r.obj.ref);
  if (best.top.length === 0) {
    const probe = req.method === undefined || req.method === 'GET' ? '; once a Server has routes, probes lose their automatic route too' : '';
    return decision(
      'deny',
      `${head}; it has routes (${routeRefs.join(', ')}) and none matches ${req.method ?? ''} ${req.path ?? ''}, so the proxy answers 404 (gRPC NOT_FOUND)${probe}`,
      [server.ref, ...routeRefs],
      ctx,
    );
  }
  const outcomes = best.top.map((h) => {
    const routeAuthzs = routeAuthzsOf(ctx, h.route.obj);
    // Server-level authorizations are appended to every route.
    return { hit: h, verdict: evaluate([...routeAuthzs, ...serverAuthzs], client) };
  });
  const kinds = new Set(outcomes.map((o) => String(o.verdict.allowed)));
  const first = outcomes[0];
  if (first === undefined) throw new Unsupported('internal: no route outcome');
  if (kinds.size > 1) {
    const refs = outcomes.map((o) => o.hit.route.obj.ref);
    throw new Unsupported(
      `${head}; routes ${refs.join(' and ')} match this request equally well, and they decide differently (${outcomes.map((o) => `${o.hit.route.obj.ref}: ${o.verdict.allowed === true ? 'allow' : o.verdict.allowed === false ? 'deny' : 'unsupported'}`).join(', ')}); the older route wins and manifests do not tell creation order`,
      [server.ref, ...refs],
    );
  }
  const tieNote =
    outcomes.length > 1
      ? ` (tied with ${outcomes
          .slice(1)
          .map((o) => o.hit.route.obj.ref)
          .join(', ')}, which decide the same)`
      : '';
  const route = first.hit.route.obj;
  const v = first.verdict;
  const chosen = `${head}; the best-matching route is ${route.ref}${tieNote}`;
  if (v.allowed === 'unsupported')
    throw new Unsupported(`${chosen}; none of the modelled authorizations admits the client, and ${v.why}`, [server.ref, route.ref, ...v.objects]);
  if (v.allowed) {
    const audit = v.by?.audit === true ? '; audit mode lets it through and only logs it' : '';
    return decision('allow', `${chosen}; admitted by ${v.why}${audit}`, [server.ref, ...outcomes.map((o) => o.hit.route.obj.ref), ...v.objects], ctx);
  }
  return decision(
    'deny',
    `${chosen}; ${v.why} on that route (its own authorizations plus the server-level ones), so the proxy answers 403 (gRPC PERMISSION_DENIED)`,
    [server.ref, ...outcomes.map((o) => o.hit.route.obj.ref)],
    ctx,
  );
}

// ─────────────────────────────────────────────────────────────────────────────── distinctions

/**
 * What decides requests to one port of a workload compares them with (see `Distinctions` in
 * verify/simulator.ts): the identities and networks of every authorization of the Server that selects the
 * port and of its routes, the routes' paths and methods, and the cluster networks when a default policy
 * `cluster-*` decides (linkerd.md §2–§7, §12). Localhost, which the proxy always admits, is the pod's own
 * traffic and no client's address.
 */
function distinctionsOf(ctx: Ctx, dest: Workload, port: number): Distinctions {
  const declared = dest.ports.find((p) => p.port === port);
  const identities: { namespace: string; serviceAccount: string }[] = [];
  const namespaces: string[] = [];
  const cidrs: string[] = [];
  const methods: string[] = [];
  const paths: { kind: 'exact' | 'prefix' | 'suffix'; value: string }[] = [];
  const unlisted: string[] = [];
  const unlistedOperations: string[] = [];
  const spiffeIds: string[] = [];
  const trustDomains: string[] = [];
  const tail = `.serviceaccount.identity.${ctx.cp}.${ctx.trustDomain}`;
  // A name of this control plane's scheme in any trust domain, `<sa>.<ns>.serviceaccount.identity.<cp>.<td>`
  // (`foreignIdentity`), and a suffix of every identity of a namespace or of a trust domain.
  const workloadName = new RegExp(`^([^.]+)\\.([^.]+)\\.serviceaccount\\.identity\\.${ctx.cp.replace(/[.]/g, '\\.')}\\.(.+)$`);
  const domainSuffix = new RegExp(`^(?:([^.]+)\\.)?serviceaccount\\.identity\\.${ctx.cp.replace(/[.]/g, '\\.')}\\.(.+)$`);
  const addAuthz = (a: Authz): void => {
    for (const n of a.networks) cidrs.push(...n.texts);
    if (a.identities === undefined || a.identities === 'tls') return;
    for (const m of a.identities) {
      if ('any' in m) continue;
      if ('exact' in m) {
        // A mesh-expansion workload presents its SPIFFE URI itself (linkerd.md §4, §9).
        if (m.exact.startsWith('spiffe://')) {
          spiffeIds.push(m.exact);
          continue;
        }
        const name = workloadName.exec(m.exact);
        if (name === null) continue; // no identity a client presents
        const [, sa = '', ns = '', td = ''] = name;
        if (td === ctx.trustDomain) identities.push({ namespace: ns, serviceAccount: sa });
        else spiffeIds.push(`spiffe://${td}/ns/${ns}/sa/${sa}`);
        continue;
      }
      const suffix = domainSuffix.exec(m.suffix);
      if (suffix !== null) {
        const [, ns, td = ''] = suffix;
        if (td !== ctx.trustDomain) trustDomains.push(td);
        if (ns !== undefined) namespaces.push(ns);
      } else if (!tail.slice(1).endsWith(m.suffix)) unlisted.push(`identity suffix *.${m.suffix}`);
    }
  };
  let plan: Plan;
  try {
    plan = planOf({ ...ctx, notes: [] }, dest, port, declared === undefined || declared.protocol !== 'tcp');
  } catch {
    return {}; // every request to the port is `unsupported`: nothing to tell apart
  }
  // The automatic probe route (`automaticProbeRoute`): a GET on each probe path from the probe networks.
  for (const probe of dest.probes ?? []) {
    if (probe.port !== port || probe.path === undefined) continue;
    paths.push({ kind: 'exact', value: probe.path });
    methods.push('GET');
    cidrs.push(...ctx.probeNetworkTexts);
  }
  if (plan.server === undefined) {
    let policy = ctx.clusterDefault;
    try {
      const annotated = nsAnnotation(ctx, dest.namespace, ANNOTATION_DEFAULT);
      if (annotated !== undefined && (DEFAULT_POLICIES as readonly string[]).includes(annotated.value)) policy = annotated.value as DefaultPolicy;
    } catch {
      return {};
    }
    if (policy.startsWith('cluster-')) for (const n of ctx.clusterNetworks) cidrs.push(...n.texts);
    return { cidrs, methods, paths };
  }
  for (const a of plan.serverAuthzs ?? []) addAuthz(a);
  for (const route of plan.routes ?? []) {
    try {
      for (const a of routeAuthzsOf({ ...ctx, notes: [] }, route.obj)) addAuthz(a);
    } catch {
      // Requests this route decides are `unsupported`.
    }
    for (const rule of arr(route.obj.spec['rules']) ?? []) {
      for (const match of (isObj(rule) ? arr(rule['matches']) : undefined) ?? []) {
        if (!isObj(match)) continue;
        if (route.grpc) {
          const rpc = isObj(match['method']) ? match['method'] : {};
          const service = str(rpc['service']);
          const method = str(rpc['method']);
          if (service !== undefined && method !== undefined) paths.push({ kind: 'exact', value: `/${service}/${method}` });
          else if (service !== undefined) paths.push({ kind: 'prefix', value: `/${service}/` });
          else if (method !== undefined) paths.push({ kind: 'suffix', value: `/${method}` });
          continue;
        }
        const method = str(match['method']);
        if (method !== undefined) methods.push(method);
        const path = isObj(match['path']) ? match['path'] : undefined;
        const value = path === undefined ? undefined : str(path['value']);
        if (path === undefined || value === undefined) continue;
        const type = present(path['type']) ? path['type'] : 'PathPrefix';
        if (type === 'Exact') paths.push({ kind: 'exact', value });
        else if (type === 'PathPrefix') paths.push({ kind: 'prefix', value });
        else {
          // `^<literal>.*$` is a string prefix and `^<literal>$` an exact path; another expression cannot be listed.
          const literal = /^\^((?:\\[^A-Za-z0-9]|[^\\.*+?()[\]{}|^$])*)(\.\*)?\$$/.exec(value);
          if (literal === null) unlistedOperations.push(`path expression ${value}`);
          else paths.push({ kind: literal[2] === undefined ? 'exact' : 'prefix', value: (literal[1] ?? '').replace(/\\(.)/g, '$1') });
        }
      }
    }
  }
  return { identities, namespaces, spiffeIds, trustDomains, cidrs, methods, paths, unlisted, unlistedOperations };
}

export function createLinkerdSimulator(config: LinkerdSimulatorConfig): MeshSimulator {
  const clusterDefault = config.clusterDefaultPolicy ?? 'all-unauthenticated';
  if (!DEFAULT_POLICIES.includes(clusterDefault)) throw new Error(`unknown default inbound policy ${String(clusterDefault)}`);
  const clusterNetworks = (config.clusterNetworks ?? DEFAULT_CLUSTER_NETWORKS).map((c) => {
    const cidr = parseCidr(c);
    if (cidr === undefined) throw new Error(`clusterNetworks: "${c}" is not a CIDR`);
    return { cidr, except: [], texts: [c] };
  });
  const cp = config.controlPlaneNamespace ?? 'linkerd';
  const probeNetworks = (config.probeNetworks ?? ['0.0.0.0/0', '::/0']).map((c) => {
    const cidr = parseCidr(c);
    if (cidr === undefined) throw new Error(`probeNetworks: "${c}" is not a CIDR`);
    return cidr;
  });
  const probeNetworkTexts = config.probeNetworks ?? ['0.0.0.0/0', '::/0'];
  const cache: PlanCache = { plans: new WeakMap(), routeAuthzs: new WeakMap() };
  // One simulation context per object set (its index is cached), with the notes a decision reports.
  const contextFor = (objects: readonly ManifestObject[], notes: string[] = []): Ctx => ({
    index: buildIndex(objects),
    trustDomain: config.trustDomain,
    cp,
    clusterNetworks,
    clusterDefault,
    cache,
    probeNetworks,
    probeNetworkTexts,
    notes,
  });
  return {
    name: 'linkerd',
    // linkerd2-proxy's admin server (`linkerd-admin`, 4191: /metrics, /live, /ready) is an inbound port like any other
    // (charts/partials/templates/proxy.tpl: LINKERD2_PROXY_ADMIN_LISTEN_ADDR), so Servers and routes govern it (linkerd/linkerd2 viz/cmd/allow-scrapes.go).
    proxyAdminPort: 4191,
    distinctions: (objects, destination, port) => distinctionsOf(contextFor(objects), destination, port),
    operationKey: (objects, destination, port, operation) =>
      orUnsupported(() => operationKeyOf(contextFor(objects), destination, port, operation), unsupportedKey),
    clientKey: (objects, destination, port, client) => orUnsupported(() => clientKeyOf(contextFor(objects), destination, port, client), unsupportedKey),
    decide(objects: readonly ManifestObject[], request: SimulatedRequest): SimulatedDecision {
      const index = buildIndex(objects);
      const ctx = contextFor(
        objects,
        index.ignored.filter((i) => i.namespace === request.destination.namespace).map((i) => i.why),
      );
      return orUnsupported(
        () => decideRequest(ctx, request),
        (e) => decision('unsupported', e.message, e.objects, ctx),
      );
    },
  };
}
