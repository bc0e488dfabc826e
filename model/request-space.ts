/**
 * The request space of a model: the finite set of requests that tells every rule apart. Every declared
 * service, an unknown identity in every namespace the policy names, each named external identity, an
 * outsider and a plaintext client, each from an address inside and outside every IP block; × every port;
 * × each method and path the rules use, with near-misses. The verifier, the access matrix and the semantic
 * diff all probe with it, so they agree on what "allowed" means.
 */
import type { Client, Request } from './decide';
import { isHttpProtocol, probeNetworksOf, type HttpMethod, type PolicyModel, type PortModel } from './model';
import { parseCidr } from './cidr';
import { GRPC_METHOD } from './resolve';
import { percentEncodedVariant } from './path';

/** A client IP no rule names: TEST-NET-1. */
export const DEFAULT_IP = '192.0.2.10';
export const OUTSIDER = { namespace: 'policyc-outside', serviceAccount: 'policyc-outsider' };
export const PROBE_ACCOUNT = 'policyc-probe';
const GRPC_PATH = /^\/[^/]+\/[^/]+$/;

/** An address inside a CIDR (its network address + 1 when there is room), and one just outside it. */
export function addressesAround(cidr: string): string[] {
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
    b.length === 4 ? b.join('.') : Array.from({ length: 8 }, (_, i) => (((b[i * 2] ?? 0) << 8) | (b[i * 2 + 1] ?? 0)).toString(16)).join(':');
  return [text(inside), ...(parsed.prefix > 0 ? [text(outside)] : [])];
}

/** Every client kind the model distinguishes, with representative IPs. */
function clientsOf(model: PolicyModel): Client[] {
  const clients: Client[] = [];
  const ips = new Set([DEFAULT_IP]);
  const namespaces = new Set<string>(model.namespaces.map((n) => n.name));
  const identities = new Map<string, { namespace: string; serviceAccount: string }>();
  const callers = [...model.rules.flatMap((r) => r.sources), ...(model.assertions ?? []).map((a) => a.from)];
  for (const source of callers) {
    if (source.kind === 'ipBlock') for (const ip of addressesAround(source.cidr)) ips.add(ip);
    if (source.kind === 'ipBlocks') for (const cidr of source.cidrs) for (const ip of addressesAround(cidr)) ips.add(ip);
    if (source.kind === 'namespace' || source.kind === 'outside') namespaces.add(source.namespace);
    if (source.kind === 'identity') identities.set(`${source.namespace}/${source.serviceAccount}`, source);
  }
  // With probes, clients inside and outside the probe networks (model.ts, 6.).
  if (model.services.some((svc) => svc.ports.some((p) => (p.probes ?? []).length > 0)))
    for (const cidr of probeNetworksOf(model.mesh)) if (!coversEverything(cidr)) for (const ip of addressesAround(cidr)) ips.add(ip);
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

export interface Operation {
  readonly method?: HttpMethod;
  readonly path?: string;
}

/** Methods and paths that exercise every rule's edges on a port: each value, near-misses, and something unmatched. */
export function operationsFor(models: readonly PolicyModel[], destination: string, port: PortModel): Operation[] {
  if (!isHttpProtocol(port.protocol)) return [{}];
  const grpc = port.protocol === 'grpc';
  const methods = new Set<HttpMethod>(grpc ? [GRPC_METHOD] : ['GET', 'POST', 'DELETE']);
  const paths = new Set<string>(['/', '/policyc-unmatched']);
  // Every client is probed on the probe paths: nobody but the kubelet gets them unless a rule says so.
  for (const probe of port.probes ?? []) if (probe.kind === 'http') paths.add(probe.path);
  for (const rule of models.flatMap((m) => m.rules)) {
    if (rule.destination !== destination) continue;
    if (!grpc) for (const m of rule.methods ?? []) methods.add(m);
    for (const p of rule.paths ?? []) {
      paths.add(p.value);
      paths.add(`${p.value}x`);
      if (p.kind === 'prefix') {
        paths.add(`${p.value}a/b`);
        if (p.value.endsWith('/') && p.value.length > 1) paths.add(p.value.slice(0, -1));
      }
      if (p.value.length > 1) paths.add(p.value.slice(0, -1));
      // Variants that normalize to a path of the rule, or out of it (model.ts, 5.): a mesh that matches the
      // raw path must not let them past the rule. gRPC servers dispatch on the exact path: no variants there.
      if (!grpc) {
        const inside = p.kind === 'prefix' ? `${p.value}a/b` : p.value;
        const encoded = percentEncodedVariant(inside);
        if (encoded !== undefined) paths.add(encoded);
        paths.add(`/policyc-unmatched/..${inside}`);
        paths.add(`${p.value}${p.value.endsWith('/') ? '' : '/'}../policyc-unmatched`);
      }
    }
  }
  // A gRPC call's path is always /<package.Service>/<Method>: other shapes are not requests a gRPC client sends.
  const shaped = grpc
    ? [...paths]
        .map((p) => (p.endsWith('/') ? `${p}Call` : p))
        .concat('/policyc.Probe/Call')
        .filter((p) => GRPC_PATH.test(p))
    : [...paths];
  return [...methods].sort().flatMap((method) => [...new Set(shaped)].sort().map((path) => ({ method, path })));
}

export function requestSpace(model: PolicyModel): Request[] {
  const requests: Request[] = [];
  const clients = clientsOf(model);
  for (const service of model.services) {
    for (const port of service.ports) {
      for (const operation of operationsFor([model], service.id, port)) {
        for (const client of clients) requests.push({ client, destination: service.id, port: port.port, ...operation });
      }
      // The kubelet runs each probe from the probe networks (model.ts, 6.).
      for (const probe of port.probes ?? []) {
        const client: Client = { kind: 'kubelet', ip: kubeletAddress(model) };
        requests.push({ client, destination: service.id, port: port.port, ...(probe.kind === 'http' ? { method: 'GET' as const, path: probe.path } : {}) });
      }
    }
  }
  return requests;
}

/** The kubelet's address in the request space: inside the first probe network. */
export function kubeletAddress(model: Pick<PolicyModel, 'mesh'>): string {
  const first = probeNetworksOf(model.mesh)[0];
  // A /0 network holds every address: the default client address then (its "+1" address would be ::1, localhost).
  return first === undefined || coversEverything(first) ? DEFAULT_IP : (addressesAround(first)[0] ?? DEFAULT_IP);
}

function coversEverything(cidr: string): boolean {
  return parseCidr(cidr)?.prefix === 0;
}
