/**
 * An Istio ambient semantics simulator: decides one request the way an ambient mesh would, from the emitted
 * objects alone (Namespace and Service labels, waypoint Gateways, PeerAuthentication, AuthorizationPolicy).
 * It is the independent check of the ambient target, so it imports nothing from `targets/`, `compiler/` or
 * `model/`; every rule it applies is a sourced fact of docs/ambient.md (cited as §n).
 *
 * A request crosses up to two enforcement points, and each sees a different caller (§5):
 *   client ──HBONE──▶ waypoint (policies with targetRefs; sees the client) ──HBONE──▶ destination ztunnel
 *   (policies with a selector or none; sees the waypoint) ──▶ pod.
 * Without a waypoint, the destination ztunnel sees the client itself. What the simulator cannot know (the
 * waypoint pod's address) is `unsupported`, never a guess.
 *
 * @example
 * const ambient = createIstioAmbientSimulator({ rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
 * ambient.decide(objects, { client: { ip: '10.0.0.1', identity: { namespace: 'shop', serviceAccount: 'api' } }, destination: web, port: 8080 });
 */
import {
  orUnsupported,
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
import { envoyBasePath } from '../envoy-path';

export interface IstioAmbientSimulatorConfig {
  /** MeshConfig `rootNamespace`: policies there apply to every namespace (§2). */
  readonly rootNamespace: string;
  /** MeshConfig `trustDomain`: the trust domain of every workload certificate. */
  readonly trustDomain: string;
}

type Json = Record<string, unknown>;

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/**
 * The strings of a list, and the maps of a list (`records`), each read once per list: the simulator asks for them on
 * every request, and the parsed manifests never change.
 */
const stringLists = new WeakMap<readonly unknown[], readonly string[]>();
const strings = (v: unknown): readonly string[] => {
  if (!Array.isArray(v)) return [];
  let known = stringLists.get(v);
  if (known === undefined) stringLists.set(v, (known = v.filter((x): x is string => typeof x === 'string')));
  return known;
};
const recordLists = new WeakMap<readonly unknown[], readonly Json[]>();
const records = (v: unknown): readonly Json[] | undefined => {
  if (!Array.isArray(v)) return undefined;
  let known = recordLists.get(v);
  if (known === undefined) recordLists.set(v, (known = v.filter(isRecord)));
  return known;
};
const refOf = (o: ManifestObject): string => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const specOf = (o: ManifestObject): Json => (isRecord(o['spec']) ? o['spec'] : {});

function selects(spec: Json, labels: Readonly<Record<string, string>>): boolean | 'none' {
  const selector = spec['selector'];
  if (!isRecord(selector)) return 'none';
  const match = isRecord(selector['matchLabels']) ? selector['matchLabels'] : {};
  return Object.entries(match).every(([k, v]) => labels[k] === v);
}

// ---------------------------------------------------------------------------------------------------------------
// Addresses: an IP block is `a.b.c.d[/n]` or an IPv6 address `[/n]` (AuthorizationPolicy reference).

/** `readIpBytes` remembered per text: a request's address is compared with every block of every rule. */
const ipBytesOf = new Map<string, readonly number[] | undefined>();

function ipBytes(text: string): readonly number[] | undefined {
  if (ipBytesOf.has(text)) return ipBytesOf.get(text);
  if (ipBytesOf.size >= 100_000) ipBytesOf.clear();
  const bytes = readIpBytes(text);
  ipBytesOf.set(text, bytes);
  return bytes;
}

function readIpBytes(text: string): number[] | undefined {
  if (text.includes('.')) {
    const parts = text.split('.').map(Number);
    return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255) ? parts : undefined;
  }
  const [head = '', tail, ...rest] = text.split('::');
  if (rest.length > 0) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const missing = 8 - front.length - back.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  const all = [...front, ...Array<string>(missing).fill('0'), ...back];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function inBlock(ip: string, block: string): boolean {
  const [address = '', prefixText] = block.split('/');
  const network = ipBytes(address);
  const client = ipBytes(ip);
  if (network === undefined || client === undefined) throw new Unsupported(`unreadable IP block '${block}'`);
  if (network.length !== client.length) return false;
  const prefix = prefixText === undefined ? network.length * 8 : Number(prefixText);
  for (let bit = 0; bit < prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if (((network[Math.floor(bit / 8)] ?? 0) & mask) !== ((client[Math.floor(bit / 8)] ?? 0) & mask)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// AuthorizationPolicy evaluation, shared by both enforcement points

/** Who an enforcement point sees: the peer identity of the connection (absent for plaintext) and its source address. */
interface Peer {
  readonly principal?: string;
  readonly namespace?: string;
  /** Undefined when the address is one the simulator cannot know (the waypoint pod's). */
  readonly ip?: string;
}

interface Call {
  readonly port: number;
  readonly http: boolean;
  readonly method?: string;
  readonly path?: string;
  /** Request headers by lower-case name (Envoy lower-cases header names, so matching ignores their case). */
  readonly headers: ReadonlyMap<string, string>;
}

/** Istio string matching: exact, `*`, `prefix*` or `*suffix`. */
function matchesValue(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

const SOURCE_FIELDS = new Set(['principals', 'notPrincipals', 'namespaces', 'ipBlocks']);
const OPERATION_FIELDS = new Set(['ports', 'methods', 'paths']);
/** Fields that need the HTTP request, which ztunnel never parses (§3). */
const L7_FIELDS = new Set(['methods', 'notMethods', 'paths', 'notPaths', 'hosts', 'notHosts', 'requestPrincipals', 'notRequestPrincipals']);

/** Sources and operations whose fields were found modelled (the check is per object; one that fails throws every time). */
const modelledFields = new WeakSet<Json>();

function sourceMatches(source: Json, peer: Peer, ref: string): boolean {
  if (!modelledFields.has(source)) {
    for (const field of Object.keys(source)) if (!SOURCE_FIELDS.has(field)) throw new Unsupported(`source field ${field} is not modelled`, [ref]);
    modelledFields.add(source);
  }
  const principals = source['principals'];
  const namespaces = source['namespaces'];
  const notPrincipals = source['notPrincipals'];
  const ipBlocks = source['ipBlocks'];
  // A connection without identity has no principal, so every `notPrincipals` pattern holds for it (`['*']`: plaintext only).
  if (notPrincipals !== undefined && peer.principal !== undefined && strings(notPrincipals).some((p) => matchesValue(p, peer.principal as string)))
    return false;
  if (principals !== undefined && (peer.principal === undefined || !strings(principals).some((p) => matchesValue(p, peer.principal as string)))) return false;
  if (namespaces !== undefined && (peer.namespace === undefined || !strings(namespaces).some((n) => matchesValue(n, peer.namespace as string)))) return false;
  if (ipBlocks !== undefined) {
    if (peer.ip === undefined) throw new Unsupported("ipBlocks at a ztunnel behind a waypoint: the waypoint pod's address is not known", [ref]);
    if (!strings(ipBlocks).some((b) => inBlock(peer.ip as string, b))) return false;
  }
  return true;
}

function operationMatches(operation: Json, call: Call, ref: string): boolean {
  if (!modelledFields.has(operation)) {
    for (const field of Object.keys(operation)) if (!OPERATION_FIELDS.has(field)) throw new Unsupported(`operation field ${field} is not modelled`, [ref]);
    modelledFields.add(operation);
  }
  const ports = operation['ports'];
  const methods = operation['methods'];
  const paths = operation['paths'];
  if (ports !== undefined && !strings(ports).includes(String(call.port))) return false;
  // On a TCP port there is no request, so a method or path never matches.
  if (methods !== undefined && (!call.http || call.method === undefined || !strings(methods).includes(call.method))) return false;
  if (paths !== undefined) {
    // The waypoint is Envoy with Istio's default BASE path normalization (../envoy-path.ts cites the source).
    const normalized = call.http && call.path !== undefined ? envoyBasePath(call.path) : 'rejected';
    if (normalized === 'rejected' || !strings(paths).some((p) => matchesValue(p, normalized.path))) return false;
  }
  return true;
}

/**
 * `when` conditions: only `request.headers[<name>]` with `values` is modelled. A waypoint is an Envoy that reads
 * AuthorizationPolicy as a sidecar does (istio.io/latest/docs/ambient/usage/l7-features/), so the header forms are
 * the sidecar's: `*` present (even empty), `v*` prefix, `*v` suffix, else exact (istio
 * pilot/pkg/security/authz/matcher/header.go). On TCP there is no header to match.
 */
function whenMatches(conditions: unknown, call: Call, ref: string): boolean {
  if (!Array.isArray(conditions)) throw new Unsupported('`when` is not a list', [ref]);
  return conditions.every((condition) => {
    if (!isRecord(condition) || condition['notValues'] !== undefined) throw new Unsupported('a `when` entry other than key + values is not modelled', [ref]);
    const name = /^request\.headers\[(.+)\]$/.exec(String(condition['key']))?.[1];
    if (name === undefined) throw new Unsupported(`\`when\` key ${String(condition['key'])} is not modelled`, [ref]);
    const actual = call.http ? call.headers.get(name.toLowerCase()) : undefined;
    return actual !== undefined && strings(condition['values']).some((v) => (v === '*' ? true : matchesValue(v, actual)));
  });
}

function ruleMatches(rule: Json, peer: Peer, call: Call, ref: string): boolean {
  if (rule['when'] !== undefined && !whenMatches(rule['when'], call, ref)) return false;
  const from = records(rule['from']);
  const to = records(rule['to']);
  const fromOk = from === undefined || from.some((f) => sourceMatches(isRecord(f['source']) ? f['source'] : {}, peer, ref));
  const toOk = to === undefined || to.some((t) => operationMatches(isRecord(t['operation']) ? t['operation'] : {}, call, ref));
  return fromOk && toOk;
}

/** `readsL7Field` remembered per policy spec: asked on every request to the workload. */
const l7Specs = new WeakMap<Json, boolean>();

function hasL7Field(spec: Json): boolean {
  let known = l7Specs.get(spec);
  if (known === undefined) l7Specs.set(spec, (known = readsL7Field(spec)));
  return known;
}

function readsL7Field(spec: Json): boolean {
  const rules = records(spec['rules']) ?? [];
  return rules.some((rule) => {
    const to = records(rule['to']) ?? [];
    const from = records(rule['from']) ?? [];
    const fields = [
      ...to.flatMap((t) => (isRecord(t['operation']) ? Object.keys(t['operation']) : [])),
      ...from.flatMap((f) => (isRecord(f['source']) ? Object.keys(f['source']) : [])),
    ];
    const when = records(rule['when']) ?? [];
    return fields.some((f) => L7_FIELDS.has(f)) || when.some((c) => String(c['key']).startsWith('request.'));
  });
}

/** DENY first, then ALLOW: with no ALLOW policy everything is allowed, otherwise one must match (§2). */
function evaluate(where: string, policies: readonly ManifestObject[], peer: Peer, call: Call): SimulatedDecision {
  const matching = (action: string) =>
    policies.filter((p) => {
      const spec = specOf(p);
      const rules = records(spec['rules']) ?? [];
      return (spec['action'] ?? 'ALLOW') === action && rules.some((r) => ruleMatches(r, peer, call, refOf(p)));
    });
  for (const p of policies) {
    const action = specOf(p)['action'] ?? 'ALLOW';
    if (action !== 'ALLOW' && action !== 'DENY') throw new Unsupported(`action ${String(action)} is not modelled`, [refOf(p)]);
  }
  const denies = matching('DENY');
  if (denies.length > 0) return { verdict: 'deny', reason: `${where}: a DENY policy matches`, objects: denies.map(refOf) };
  const allowPolicies = policies.filter((p) => (specOf(p)['action'] ?? 'ALLOW') === 'ALLOW');
  if (allowPolicies.length === 0) return { verdict: 'allow', reason: `${where}: no ALLOW policy applies`, objects: [] };
  const allows = matching('ALLOW');
  if (allows.length > 0) return { verdict: 'allow', reason: `${where}: an ALLOW policy matches`, objects: allows.map(refOf) };
  return { verdict: 'deny', reason: `${where}: ALLOW policies apply and none matches`, objects: allowPolicies.map(refOf) };
}

// ---------------------------------------------------------------------------------------------------------------
// The mesh

interface Waypoint {
  readonly namespace: string;
  readonly name: string;
  readonly principal: string;
  readonly ref: string;
}

/** The objects by kind and namespace, indexed once per set of objects: a request only looks at its own namespaces. */
const indexes = new WeakMap<readonly ManifestObject[], Map<string, ManifestObject[]>>();

function indexOf(objects: readonly ManifestObject[]): Map<string, ManifestObject[]> {
  let index = indexes.get(objects);
  if (index === undefined) {
    index = new Map();
    for (const o of objects) {
      for (const key of [o.kind, `${o.kind}\u0000${o.metadata.namespace ?? ''}`]) {
        const list = index.get(key);
        if (list === undefined) index.set(key, [o]);
        else list.push(o);
      }
    }
    indexes.set(objects, index);
  }
  return index;
}

/** A view's answers, remembered with the Unsupported they throw (thrown again on every later ask). */
type Remembered<T> = { readonly value: T } | { readonly error: unknown };

function remember<T>(cache: Map<string, Remembered<unknown>>, key: string, compute: () => T): T {
  let entry = cache.get(key) as Remembered<T> | undefined;
  if (entry === undefined) {
    try {
      entry = { value: compute() };
    } catch (error) {
      entry = { error };
    }
    cache.set(key, entry);
  }
  if ('error' in entry) throw entry.error;
  return entry.value;
}

/** One view per set of objects and destination workload: its answers do not depend on the request. */
const views = new WeakMap<readonly ManifestObject[], WeakMap<Workload, Map<string, AmbientView>>>();

function viewOf(config: IstioAmbientSimulatorConfig, objects: readonly ManifestObject[], destination: Workload): AmbientView {
  let byWorkload = views.get(objects);
  if (byWorkload === undefined) views.set(objects, (byWorkload = new WeakMap()));
  let byConfig = byWorkload.get(destination);
  if (byConfig === undefined) byWorkload.set(destination, (byConfig = new Map()));
  const key = `${config.rootNamespace}\u0000${config.trustDomain}`;
  let view = byConfig.get(key);
  if (view === undefined) byConfig.set(key, (view = new AmbientView(config, objects, destination)));
  return view;
}

class AmbientView {
  private readonly memo = new Map<string, Remembered<unknown>>();

  constructor(
    private readonly config: IstioAmbientSimulatorConfig,
    private readonly objects: readonly ManifestObject[],
    private readonly destination: Workload,
  ) {}

  private of(kind: string, namespace?: string): readonly ManifestObject[] {
    return indexOf(this.objects).get(namespace === undefined ? kind : `${kind}\u0000${namespace}`) ?? [];
  }

  private namespaceLabel(label: string): string | undefined {
    const values = new Set(
      this.of('Namespace')
        .filter((n) => n.metadata.name === this.destination.namespace)
        .map((n) => n.metadata.labels?.[label])
        .filter((v): v is string => v !== undefined),
    );
    if (values.size > 1) throw new Unsupported(`two Namespace objects disagree on ${label}`);
    return [...values][0];
  }

  /** §1: a pod label overrides its namespace's. */
  inAmbient(): boolean {
    return remember(this.memo, 'ambient', () => this.computeInAmbient());
  }

  private computeInAmbient(): boolean {
    return (this.destination.labels['istio.io/dataplane-mode'] ?? this.namespaceLabel('istio.io/dataplane-mode')) === 'ambient';
  }

  /** §1, §4: Service label, else Namespace label; effective only for a waypoint Gateway that serves services. */
  waypoint(): Waypoint | undefined {
    return remember(this.memo, 'waypoint', () => this.computeWaypoint());
  }

  private computeWaypoint(): Waypoint | undefined {
    const service = this.of('Service', this.destination.namespace).find((s) => s.metadata.name === this.destination.name);
    const value = service?.metadata.labels?.['istio.io/use-waypoint'] ?? this.namespaceLabel('istio.io/use-waypoint');
    if (value === undefined || value === 'none') return undefined;
    const [namespace, name] = value.includes('/') ? value.split('/') : [this.destination.namespace, value];
    const gateway = this.of('Gateway', namespace).find((g) => g.metadata.name === name);
    if (gateway === undefined) throw new Unsupported(`the destination uses waypoint ${namespace}/${name}, which is not among the objects`);
    const spec = specOf(gateway);
    if (spec['gatewayClassName'] !== 'istio-waypoint') throw new Unsupported(`${refOf(gateway)} is not of class istio-waypoint`, [refOf(gateway)]);
    const serves = gateway.metadata.labels?.['istio.io/waypoint-for'] ?? 'service';
    if (serves !== 'service' && serves !== 'all') return undefined;
    const account = gateway.metadata.annotations?.['gateway.istio.io/service-account'] ?? name;
    return {
      namespace: namespace ?? '',
      name: name ?? '',
      principal: `${this.config.trustDomain}/ns/${namespace ?? ''}/sa/${account}`,
      ref: refOf(gateway),
    };
  }

  /**
   * AuthorizationPolicies that are enforced. A dry-run one (`istio.io/dry-run: "true"`) is never enforced: istiod
   * treats it as absent for ztunnel (istio/istio#55414, "ambient: do not process dry-run rules", Istio 1.25) and a
   * waypoint, an Envoy, builds it into shadow rules that only log (istio pilot/pkg/security/authz/builder, see
   * https://istio.io/latest/docs/tasks/security/authorization/authz-dry-run/). A value that is not a bool is
   * rejected by the webhook: not modelled.
   */
  private isEnforced(p: ManifestObject): boolean {
    const dryRun = p.metadata.annotations?.['istio.io/dry-run'];
    if (dryRun === undefined) return true;
    // Go's strconv.ParseBool, which istiod applies to the annotation.
    if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(dryRun)) return false;
    if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(dryRun)) return true;
    throw new Unsupported(`${refOf(p)}: istio.io/dry-run "${dryRun}" is not a bool (rejected by the webhook)`, [refOf(p)]);
  }

  /** §6: workload, then namespace, then mesh PeerAuthentication; DISABLE is ignored (PERMISSIVE); default PERMISSIVE. */
  mtlsMode(port: number): { readonly mode: 'STRICT' | 'PERMISSIVE'; readonly objects: readonly string[] } {
    return remember(this.memo, `mtls ${port}`, () => this.computeMtlsMode(port));
  }

  private computeMtlsMode(port: number): { readonly mode: 'STRICT' | 'PERMISSIVE'; readonly objects: readonly string[] } {
    const levels = [
      this.of('PeerAuthentication', this.destination.namespace).filter(
        (p) => this.destination.namespace !== this.config.rootNamespace && selects(specOf(p), this.destination.labels) === true,
      ),
      this.of('PeerAuthentication', this.destination.namespace).filter((p) => selects(specOf(p), this.destination.labels) === 'none'),
      this.of('PeerAuthentication', this.config.rootNamespace).filter((p) => selects(specOf(p), this.destination.labels) === 'none'),
    ];
    for (const [level, policies] of levels.entries()) {
      const modes = policies.map((p) => {
        const spec = specOf(p);
        const portLevel = level === 0 && isRecord(spec['portLevelMtls']) ? spec['portLevelMtls'][String(port)] : undefined;
        const chosen = isRecord(portLevel) ? portLevel : isRecord(spec['mtls']) ? spec['mtls'] : {};
        return { mode: chosen['mode'] as string | undefined, ref: refOf(p) };
      });
      const set = new Set(modes.map((m) => m.mode).filter((m): m is string => m !== undefined && m !== 'UNSET'));
      if (set.size > 1)
        throw new Unsupported(
          'two PeerAuthentications of the same level disagree',
          modes.map((m) => m.ref),
        );
      const mode = [...set][0];
      if (mode !== undefined) return { mode: mode === 'STRICT' ? 'STRICT' : 'PERMISSIVE', objects: modes.map((m) => m.ref) };
    }
    return { mode: 'PERMISSIVE', objects: [] };
  }

  /** §2: policies without targetRefs, in the root namespace or the destination's, selecting its pods or the whole namespace. */
  ztunnelPolicies(): readonly ManifestObject[] {
    return remember(this.memo, 'ztunnel', () => this.computeZtunnelPolicies());
  }

  private computeZtunnelPolicies(): ManifestObject[] {
    const namespaces = [...new Set([this.destination.namespace, this.config.rootNamespace])];
    return namespaces
      .flatMap((ns) => this.of('AuthorizationPolicy', ns))
      .filter((p) => this.isEnforced(p))
      .filter((p) => {
        const spec = specOf(p);
        if (spec['targetRefs'] !== undefined || spec['targetRef'] !== undefined) return false;
        const namespace = p.metadata.namespace;
        if (namespace !== this.destination.namespace && namespace !== this.config.rootNamespace) return false;
        return selects(spec, this.destination.labels) !== false;
      });
  }

  /** §4: policies attached with targetRefs to the destination's Service or to its waypoint's Gateway. */
  waypointPolicies(waypoint: Waypoint): readonly ManifestObject[] {
    return remember(this.memo, `waypoint ${waypoint.ref}`, () => this.computeWaypointPolicies(waypoint));
  }

  private computeWaypointPolicies(waypoint: Waypoint): ManifestObject[] {
    const namespaces = [...new Set([this.destination.namespace, waypoint.namespace])];
    return namespaces
      .flatMap((ns) => this.of('AuthorizationPolicy', ns))
      .filter((p) => this.isEnforced(p))
      .filter((p) => {
        const spec = specOf(p);
        const refs = [...(Array.isArray(spec['targetRefs']) ? spec['targetRefs'] : []), ...(isRecord(spec['targetRef']) ? [spec['targetRef']] : [])].filter(
          isRecord,
        );
        return refs.some(
          (r) =>
            (r['kind'] === 'Service' &&
              (r['group'] ?? '') === '' &&
              r['name'] === this.destination.name &&
              p.metadata.namespace === this.destination.namespace) ||
            (r['kind'] === 'Gateway' &&
              r['group'] === 'gateway.networking.k8s.io' &&
              r['name'] === waypoint.name &&
              p.metadata.namespace === waypoint.namespace),
        );
      });
  }
}

/** What an enforcement point sees of a request, its fields set one by one (this runs for every request and operation key). */
function callOf(port: number, http: boolean, operation: SimulatedOperation): Call {
  const call: { -readonly [K in keyof Call]: Call[K] } = {
    port,
    http,
    headers: new Map(Object.entries(operation.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
  };
  if (operation.method !== undefined) call.method = operation.method;
  if (operation.path !== undefined) call.path = operation.path;
  return call;
}

function decide(config: IstioAmbientSimulatorConfig, objects: readonly ManifestObject[], request: SimulatedRequest): SimulatedDecision {
  const view = viewOf(config, objects, request.destination);
  const port = request.destination.ports.find((p) => p.port === request.port);
  if (port === undefined) return { verdict: 'deny', reason: `port ${request.port} is not a port of the workload`, objects: [] };
  const call = callOf(request.port, port.protocol !== 'tcp', request);
  if (!view.inAmbient()) return { verdict: 'allow', reason: 'the destination is not in the ambient mesh, so nothing enforces policy (§1)', objects: [] };

  const identity = request.client.identity ?? foreignWorkload(request.client.spiffeId);
  const mtls = view.mtlsMode(request.port);
  if (identity === undefined && mtls.mode === 'STRICT') {
    return { verdict: 'deny', reason: 'ztunnel refuses a plaintext client on a STRICT port (§6, §7)', objects: mtls.objects };
  }
  const waypoint = view.waypoint();
  const ztunnel = view.ztunnelPolicies();
  const l7 = ztunnel.filter((p) => hasL7Field(specOf(p)));
  if (l7.length > 0) {
    return { verdict: 'deny', reason: 'a ztunnel policy has HTTP fields, so ztunnel drops all traffic to the workload (§3)', objects: l7.map(refOf) };
  }
  const client = peerOf(config, request.client);
  // §7: plaintext traffic never reaches a waypoint; the destination ztunnel decides it alone.
  if (waypoint === undefined || identity === undefined) return evaluate('destination ztunnel', ztunnel, client, call);
  const atWaypoint = evaluate(`waypoint ${waypoint.namespace}/${waypoint.name}`, view.waypointPolicies(waypoint), client, call);
  if (atWaypoint.verdict !== 'allow') return atWaypoint;
  // §5: the destination ztunnel sees the waypoint, not the client.
  const waypointPeer: Peer = { principal: waypoint.principal, namespace: waypoint.namespace };
  const atZtunnel = evaluate('destination ztunnel (sees the waypoint)', ztunnel, waypointPeer, call);
  return { ...atZtunnel, reason: `${atWaypoint.reason}; then ${atZtunnel.reason}`, objects: [...new Set([...atWaypoint.objects, ...atZtunnel.objects])] };
}

/**
 * The values the policies able to decide a request to one port of the destination compare it with: the
 * destination ztunnel's and, when the destination uses a waypoint, the waypoint's (§2, §4).
 */
function distinctionsOf(config: IstioAmbientSimulatorConfig, objects: readonly ManifestObject[], destination: Workload, port: number): Distinctions {
  const view = viewOf(config, objects, destination);
  const policies: ManifestObject[] = [...view.ztunnelPolicies()];
  const waypoint = view.waypoint();
  if (waypoint !== undefined) policies.push(...view.waypointPolicies(waypoint));
  const identities: { namespace: string; serviceAccount: string }[] = [];
  const namespaces: string[] = [];
  const spiffeIds: string[] = [];
  const trustDomains: string[] = [];
  const cidrs: string[] = [];
  const methods: string[] = [];
  const paths: { kind: 'exact' | 'prefix' | 'suffix'; value: string }[] = [];
  const unlisted: string[] = [];
  const unlistedOperations: string[] = [];
  const pattern = (value: string): { kind: 'exact' | 'prefix' | 'suffix'; value: string } | undefined =>
    value === '*'
      ? undefined
      : value.endsWith('*')
        ? { kind: 'prefix', value: value.slice(0, -1) }
        : value.startsWith('*')
          ? { kind: 'suffix', value: value.slice(1) }
          : { kind: 'exact', value };
  for (const policy of policies) {
    const rules = records(specOf(policy)['rules']) ?? [];
    for (const rule of rules) {
      const to = Array.isArray(rule['to']) ? rule['to'].filter(isRecord).map((t) => (isRecord(t['operation']) ? t['operation'] : {})) : undefined;
      // A rule whose every operation lists ports without this one cannot match here.
      if (to !== undefined && !to.some((o) => o['ports'] === undefined || strings(o['ports']).includes(String(port)))) continue;
      for (const operation of to ?? []) {
        for (const m of strings(operation['methods'])) (m.includes('*') ? unlistedOperations : methods).push(m);
        for (const p of strings(operation['paths'])) {
          const path = pattern(p);
          if (path !== undefined) paths.push(path);
        }
      }
      const from = Array.isArray(rule['from']) ? rule['from'].filter(isRecord).map((f) => (isRecord(f['source']) ? f['source'] : {})) : [];
      for (const source of from) {
        for (const principal of [...strings(source['principals']), ...strings(source['notPrincipals'])]) {
          if (principal === '*') continue;
          const [td, nsKey, ns, saKey, sa] = principal.split('/');
          if (nsKey === 'ns' && saKey === 'sa' && ns !== undefined && sa !== undefined && !ns.includes('*')) {
            // Another trust domain's principal: its workloads are probed as SPIFFE IDs (`foreignWorkload`).
            const foreign = td !== undefined && td !== config.trustDomain && !td.includes('*') ? td : undefined;
            if (foreign !== undefined) trustDomains.push(foreign);
            if (sa === '*') namespaces.push(ns);
            else if (!sa.includes('*')) {
              identities.push({ namespace: ns, serviceAccount: sa });
              if (foreign !== undefined) spiffeIds.push(`spiffe://${foreign}/ns/${ns}/sa/${sa}`);
            } else unlisted.push(`principal pattern ${principal}`);
          } else unlisted.push(`principal pattern ${principal}`);
        }
        for (const ns of strings(source['namespaces'])) if (ns !== '*') (ns.includes('*') ? unlisted : namespaces).push(ns);
        cidrs.push(...strings(source['ipBlocks']));
      }
    }
  }
  return { identities, namespaces, spiffeIds, trustDomains, cidrs, methods, paths, unlisted, unlistedOperations };
}

/**
 * What decides a client on one port (see `MeshSimulator.clientKey`): plaintext or not, and for each rule of
 * the policies of the enforcement point that sees it (the waypoint for mesh clients of a waypoint service,
 * else the destination ztunnel, §5, §7), whether its `from` part admits the client. The ztunnel behind a
 * waypoint sees the waypoint, whoever the client is.
 */
function clientKeyOf(
  config: IstioAmbientSimulatorConfig,
  objects: readonly ManifestObject[],
  destination: Workload,
  client: SimulatedRequest['client'],
): string {
  const view = viewOf(config, objects, destination);
  const identity = client.identity ?? foreignWorkload(client.spiffeId);
  const peer = peerOf(config, client);
  const waypoint = view.waypoint();
  const policies = waypoint === undefined || identity === undefined ? view.ztunnelPolicies() : view.waypointPolicies(waypoint);
  let key = identity === undefined ? 'p' : 'm';
  for (const policy of policies) {
    key += '|';
    for (const rule of records(specOf(policy)['rules']) ?? []) {
      const from = records(rule['from']);
      key += from === undefined || from.some((f) => sourceMatches(isRecord(f['source']) ? f['source'] : {}, peer, refOf(policy))) ? '1' : '0';
    }
  }
  return key;
}

/** The mirror of `clientKeyOf`: for each rule of the policies that can apply, whether its `when` and `to` parts admit the call. */
function operationKeyOf(
  config: IstioAmbientSimulatorConfig,
  objects: readonly ManifestObject[],
  destination: Workload,
  port: number,
  operation: SimulatedOperation,
): string {
  const view = viewOf(config, objects, destination);
  const declared = destination.ports.find((p) => p.port === port);
  const call = callOf(port, declared !== undefined && declared.protocol !== 'tcp', operation);
  const waypoint = view.waypoint();
  const policies = [...view.ztunnelPolicies(), ...(waypoint === undefined ? [] : view.waypointPolicies(waypoint))];
  let key = '';
  for (const policy of policies) {
    key += '|';
    for (const rule of records(specOf(policy)['rules']) ?? []) {
      const to = records(rule['to']);
      let when: boolean;
      try {
        when = rule['when'] === undefined || whenMatches(rule['when'], call, refOf(policy));
      } catch (error) {
        // A `when` the simulator does not model makes every request that reaches the rule `unsupported`, whatever its operation.
        if (!(error instanceof Unsupported)) throw error;
        key += 'x';
        continue;
      }
      key += when && (to === undefined || to.some((t) => operationMatches(isRecord(t['operation']) ? t['operation'] : {}, call, refOf(policy)))) ? '1' : '0';
    }
  }
  return key;
}

/**
 * A client of another trust domain: ztunnel's identities are always `spiffe://<td>/ns/<ns>/sa/<sa>` (istio/ztunnel
 * `src/identity.rs`, `Identity::Spiffe`), so a certificate with another SPIFFE path is not one ztunnel can carry.
 */
/** The client as a policy sees it: its principal (of this or another trust domain) and namespace, and its address. */
function peerOf(config: IstioAmbientSimulatorConfig, client: SimulatedRequest['client']): Peer {
  const identity = client.identity ?? foreignWorkload(client.spiffeId);
  if (identity === undefined) return { ip: client.ip };
  return {
    principal: `${'trustDomain' in identity ? identity.trustDomain : config.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`,
    namespace: identity.namespace,
    ip: client.ip,
  };
}

function foreignWorkload(spiffeId: string | undefined): { namespace: string; serviceAccount: string; trustDomain: string } | undefined {
  if (spiffeId === undefined) return undefined;
  const workload = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(spiffeId);
  if (workload === null)
    throw new Unsupported(`client ${spiffeId} is not a Kubernetes SPIFFE ID, which ztunnel identities always are (ztunnel src/identity.rs)`, []);
  return { trustDomain: workload[1] as string, namespace: workload[2] as string, serviceAccount: workload[3] as string };
}

export function createIstioAmbientSimulator(config: IstioAmbientSimulatorConfig): MeshSimulator {
  return {
    name: 'istio-ambient',
    // An object the simulator cannot read makes the requests `unsupported`: nothing to tell apart.
    distinctions: (objects, destination, port) =>
      orUnsupported(
        () => distinctionsOf(config, objects, destination, port),
        () => ({}),
      ),
    operationKey: (objects, destination, port, operation) => orUnsupported(() => operationKeyOf(config, objects, destination, port, operation), unsupportedKey),
    clientKey: (objects, destination, _port, client) => orUnsupported(() => clientKeyOf(config, objects, destination, client), unsupportedKey),
    decide(objects, request) {
      // The istio-cni node agent SNATs the node's own traffic to the pod (the kubelet's probes) to 169.254.7.127,
      // and the pod's redirection rules let that address past ztunnel: no policy applies to it
      // (https://istio.io/latest/docs/ambient/usage/networkpolicy, "Ambient, health probes, and Kubernetes NetworkPolicy").
      if (request.client.node === true)
        return { verdict: 'allow', reason: 'traffic from the node (the kubelet) is SNATed to 169.254.7.127 and bypasses ztunnel', objects: [] };
      return orUnsupported(
        () => decide(config, objects, request),
        (error): SimulatedDecision => ({ verdict: 'unsupported', reason: error.message, objects: error.objects }),
      );
    },
  };
}
