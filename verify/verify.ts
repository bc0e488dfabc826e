/**
 * Translation validation: for one build, enumerate the finite request space of the model (every source
 * kind × destination × port × representative methods and paths, near-misses included × mTLS/plaintext)
 * and compare the model's decision with what a mesh simulator decides from the emitted YAML alone.
 */
import { parseAllDocuments } from 'yaml';
import { decide, type Client, type Request } from '../compiler/decide';
import { isHttpProtocol, servicesById, type HttpMethod, type PolicyModel, type ServiceModel } from '../compiler/model';
import { parseCidr } from '../compiler/validate';
import type { ManifestObject, MeshSimulator, SimulatedDecision, SimulatedRequest, Workload } from './contract';

export interface Mismatch {
  readonly request: Request;
  /** What the model says. */
  readonly expected: boolean;
  readonly simulated: SimulatedDecision;
  /** The simulated mesh admits what the model denies: a breach, the worst kind. */
  readonly overPermissive: boolean;
  readonly modelReason: string;
  readonly rules: ReturnType<typeof decide>['rules'];
}

export interface VerificationResult {
  readonly checked: number;
  readonly mismatches: readonly Mismatch[];
  readonly unsupported: readonly { readonly request: Request; readonly reason: string }[];
}

/** A client IP no rule names: TEST-NET-1. */
const DEFAULT_IP = '192.0.2.10';
const OUTSIDER = { namespace: 'policyc-outside', serviceAccount: 'policyc-outsider' };
const PROBE_ACCOUNT = 'policyc-probe';
const GRPC_PATH = /^\/[^/]+\/[^/]+$/;

/** Objects as the cluster receives them, from rendered YAML files (kustomization files are not objects). */
export function manifestsFromFiles(files: ReadonlyMap<string, string>): ManifestObject[] {
  const objects: ManifestObject[] = [];
  for (const [file, text] of files) {
    if (file.endsWith('kustomization.yaml')) continue;
    for (const doc of parseAllDocuments(text)) {
      const value = doc.toJS() as ManifestObject | null;
      if (value !== null) objects.push(value);
    }
  }
  return objects;
}

export function workloadOf(service: ServiceModel): Workload {
  return {
    namespace: service.namespace,
    name: service.name,
    serviceAccount: service.serviceAccount,
    labels: service.selector,
    ports: service.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
  };
}

/** An address inside a CIDR (its network address + 1 when there is room), and one just outside it. */
function addressesAround(cidr: string): string[] {
  const parsed = parseCidr(cidr);
  if (parsed === undefined) return [];
  const bytes = [...parsed.bytes];
  const width = bytes.length * 8;
  const inside = [...bytes];
  if (parsed.prefix < width) inside[inside.length - 1] = (inside[inside.length - 1] ?? 0) | 1;
  const outside = [...bytes];
  if (parsed.prefix > 0) {
    const bit = parsed.prefix - 1;
    const index = Math.floor(bit / 8);
    outside[index] = (outside[index] ?? 0) ^ (0x80 >> (bit % 8));
  }
  const text = (b: number[]) =>
    b.length === 4
      ? b.join('.')
      : Array.from({ length: 8 }, (_, i) => (((b[i * 2] ?? 0) << 8) | (b[i * 2 + 1] ?? 0)).toString(16)).join(':');
  return [text(inside), ...(parsed.prefix > 0 ? [text(outside)] : [])];
}

/** Every client kind the model distinguishes, with representative IPs. */
export function clientsOf(model: PolicyModel): Client[] {
  const clients: Client[] = [];
  const ips = new Set([DEFAULT_IP]);
  const namespaces = new Set<string>(model.namespaces.map((n) => n.name));
  const identities = new Map<string, { namespace: string; serviceAccount: string }>();
  const callers = [...model.rules.flatMap((r) => r.sources), ...(model.assertions ?? []).map((a) => a.from)];
  for (const source of callers) {
    if (source.kind === 'ipBlock') for (const ip of addressesAround(source.cidr)) ips.add(ip);
    if (source.kind === 'namespace' || source.kind === 'outside') namespaces.add(source.namespace);
    if (source.kind === 'identity') identities.set(`${source.namespace}/${source.serviceAccount}`, source);
  }
  for (const ns of namespaces) identities.set(`${ns}/${PROBE_ACCOUNT}`, { namespace: ns, serviceAccount: PROBE_ACCOUNT });
  identities.set(`${OUTSIDER.namespace}/${OUTSIDER.serviceAccount}`, OUTSIDER);
  for (const ip of [...ips].sort()) {
    for (const svc of model.services) clients.push({ kind: 'service', service: svc.id, ip, tls: true });
    for (const id of [...identities.keys()].sort()) {
      const identity = identities.get(id);
      if (identity !== undefined) clients.push({ kind: 'identity', ...identity, ip, tls: true });
    }
    clients.push({ kind: 'plaintext', ip });
  }
  return clients;
}

/** Methods and paths that exercise every rule's edges: each value, near-misses, and something unmatched. */
function operationsFor(model: PolicyModel, service: ServiceModel, protocol: ServiceModel['ports'][number]['protocol']): { method?: HttpMethod; path?: string }[] {
  if (!isHttpProtocol(protocol)) return [{}];
  const methods = new Set<HttpMethod>(protocol === 'grpc' ? ['POST'] : ['GET', 'POST']);
  const paths = new Set<string>(['/', '/policyc-unmatched']);
  for (const rule of model.rules) {
    if (rule.destination !== service.id) continue;
    if (protocol !== 'grpc') for (const m of rule.methods ?? []) methods.add(m);
    for (const p of rule.paths ?? []) {
      paths.add(p.value);
      paths.add(`${p.value}x`);
      if (p.kind === 'prefix') {
        paths.add(`${p.value}a/b`);
        if (p.value.endsWith('/') && p.value.length > 1) paths.add(p.value.slice(0, -1));
      }
      if (p.value.length > 1) paths.add(p.value.slice(0, -1));
    }
  }
  if (protocol !== 'grpc') methods.add('DELETE');
  // A gRPC call's path is always /<package.Service>/<Method>: other shapes are not requests a gRPC client sends.
  const shaped = protocol === 'grpc' ? [...paths].map((p) => (p.endsWith('/') ? `${p}Call` : p)).concat('/policyc.Probe/Call').filter((p) => GRPC_PATH.test(p)) : [...paths];
  return [...methods].sort().flatMap((method) => [...new Set(shaped)].sort().map((path) => ({ method, path })));
}

export function requestSpace(model: PolicyModel): Request[] {
  const requests: Request[] = [];
  const clients = clientsOf(model);
  for (const service of model.services) {
    for (const port of service.ports) {
      for (const operation of operationsFor(model, service, port.protocol)) {
        for (const client of clients) requests.push({ client, destination: service.id, port: port.port, ...operation });
      }
    }
  }
  return requests;
}

export function simulatedRequest(request: Request, model: PolicyModel, services: ReadonlyMap<string, ServiceModel>): SimulatedRequest {
  const destination = services.get(request.destination);
  if (destination === undefined) throw new Error(`unknown destination ${request.destination}`);
  const { client } = request;
  const identity =
    client.kind === 'plaintext' || !client.tls
      ? undefined
      : client.kind === 'identity'
        ? { namespace: client.namespace, serviceAccount: client.serviceAccount }
        : (() => {
            const svc = services.get(client.service);
            return svc === undefined ? undefined : { namespace: svc.namespace, serviceAccount: svc.serviceAccount };
          })();
  void model;
  return {
    client: { ip: client.ip, ...(identity === undefined ? {} : { identity }) },
    destination: workloadOf(destination),
    port: request.port,
    ...(request.method === undefined ? {} : { method: request.method }),
    ...(request.path === undefined ? {} : { path: request.path }),
  };
}

export function verify(model: PolicyModel, objects: readonly ManifestObject[], simulator: MeshSimulator): VerificationResult {
  const services = servicesById(model);
  const mismatches: Mismatch[] = [];
  const unsupported: { request: Request; reason: string }[] = [];
  let checked = 0;
  for (const request of requestSpace(model)) {
    const expected = decide(model, request, services);
    const simulated = simulator.decide(objects, simulatedRequest(request, model, services));
    checked++;
    if (simulated.verdict === 'unsupported') {
      unsupported.push({ request, reason: simulated.reason });
      continue;
    }
    const allowed = simulated.verdict === 'allow';
    if (allowed !== expected.allowed) {
      mismatches.push({ request, expected: expected.allowed, simulated, overPermissive: allowed, modelReason: expected.reason, rules: expected.rules });
    }
  }
  // Breaches first.
  mismatches.sort((a, b) => Number(b.overPermissive) - Number(a.overPermissive));
  return { checked, mismatches, unsupported };
}

export function describeRequest(request: Request): string {
  const { client } = request;
  const who =
    client.kind === 'service'
      ? client.service
      : client.kind === 'identity'
        ? `identity ${client.namespace}/${client.serviceAccount}`
        : 'plaintext client';
  const http = request.method === undefined ? '' : ` ${request.method} ${request.path ?? ''}`;
  return `${who} (${client.ip}) → ${request.destination}:${request.port}${http}`;
}
