/**
 * Translation validation: for one build, enumerate the finite request space, destination port by destination
 * port (model/request-space.ts: the callers, addresses, methods and paths the model and the simulated objects
 * tell apart there), and compare the model's decision with what each mesh simulator decides from the emitted
 * YAML alone.
 */
import { parseAllDocuments } from 'yaml';
import { clientKey, decide, operationKey, presentedIdentity, type Client, type Decision, type Request } from '../model/decide';
import { isHttpProtocol, isProxyAdminPort, proxyAdminPortOf, servicesById, type PolicyModel, type ServiceModel } from '../model/model';
import { isNormalPath } from '../model/path';
import {
  clientsFor,
  kubeletRequests,
  modelValues,
  operationsOf,
  PROBE_SUBJECT,
  requestConditions,
  requestConditionsKey,
  type Operation,
} from '../model/request-space';
import type { ManifestObject, MeshSimulator, SimulatedDecision, SimulatedOperation, SimulatedRequest, Workload } from './simulator';

export interface Mismatch {
  readonly request: Request;
  /** What the model says. */
  readonly expected: boolean;
  readonly simulated: SimulatedDecision;
  /** The simulated mesh admits what the model denies: a breach, the worst kind. */
  readonly overPermissive: boolean;
  readonly modelReason: string;
  readonly rules: Decision['rules'];
}

export interface VerificationResult {
  readonly checked: number;
  /** How many requests the simulator decides otherwise than the model. */
  readonly differing: number;
  /** How many requests the simulator could not decide. */
  readonly unsimulated: number;
  /** The differing requests, breaches first (at most 10,000 kept, breaches before lost access). */
  readonly mismatches: readonly Mismatch[];
  /** The requests not simulated (at most 10,000 kept). */
  readonly unsupported: readonly { readonly request: Request; readonly reason: string }[];
}

/**
 * Objects as the cluster receives them, from rendered YAML files. Kustomization files are not objects: known by
 * their apiVersion, not their file name (a service named `…kustomization` has a file whose name ends like one).
 */
export function manifestsFromFiles(files: ReadonlyMap<string, string>): ManifestObject[] {
  const objects: ManifestObject[] = [];
  for (const text of files.values()) {
    for (const doc of parseAllDocuments(text)) {
      const value = doc.toJS() as ManifestObject | null;
      if (value !== null && !String(value.apiVersion).startsWith('kustomize.config.k8s.io/')) objects.push(value);
    }
  }
  return objects;
}

/** One Workload per service, so a simulator sees the same pod facts object for every request to it. */
const workloads = new WeakMap<ServiceModel, Workload>();

export function workloadOf(service: ServiceModel): Workload {
  const known = workloads.get(service);
  if (known !== undefined) return known;
  const workload: Workload = {
    namespace: service.namespace,
    name: service.name,
    serviceAccount: service.serviceAccount,
    labels: service.selector,
    ports: service.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
    ...(service.gateway === undefined ? {} : { gateway: { ...service.gateway } }),
    probes: service.ports.flatMap((p) => (p.probes ?? []).map((probe) => ({ port: p.port, ...(probe.kind === 'http' ? { path: probe.path } : {}) }))),
  };
  workloads.set(service, workload);
  return workload;
}

/**
 * What a mesh sees of a client: its address, the X-Forwarded-For it sends, and the identity it presents — as
 * a workload of the mesh's trust domain, or as a SPIFFE ID otherwise.
 */
export function simulatedClient(client: Client, services: ReadonlyMap<string, ServiceModel>, trustDomain: string): SimulatedRequest['client'] {
  const identity = presentedIdentity(client, services, trustDomain);
  const local = identity !== undefined && identity.trustDomain === trustDomain && identity.namespace !== undefined && identity.serviceAccount !== undefined;
  return {
    ip: client.ip,
    ...(identity === undefined
      ? {}
      : local
        ? { identity: { namespace: identity.namespace as string, serviceAccount: identity.serviceAccount as string } }
        : { spiffeId: identity.spiffeId }),
    ...(client.forwardedFor === undefined ? {} : { forwardedFor: client.forwardedFor }),
    ...(client.kind === 'kubelet' ? { node: true } : {}),
  };
}

export function simulatedRequest(request: Request, services: ReadonlyMap<string, ServiceModel>, trustDomain: string): SimulatedRequest {
  const destination = services.get(request.destination);
  if (destination === undefined) throw new Error(`unknown destination ${request.destination}`);
  return {
    client: simulatedClient(request.client, services, trustDomain),
    destination: workloadOf(destination),
    port: request.port,
    ...simulatedOperation(request),
  };
}

/** What a mesh sees of a request's headers and token: the JWT's claims, and whether its issuer signed it. */
export function simulatedOperation(operation: Operation): SimulatedOperation {
  const token = operation.token;
  return {
    ...(operation.method === undefined ? {} : { method: operation.method }),
    ...(operation.path === undefined ? {} : { path: operation.path }),
    ...(operation.headers === undefined ? {} : { headers: operation.headers }),
    ...(token === undefined
      ? {}
      : {
          jwt:
            token.kind === 'valid'
              ? { iss: token.issuer, sub: token.subject, claims: token.claims, signedByIssuer: true }
              : { iss: token.issuer, sub: PROBE_SUBJECT, claims: {}, signedByIssuer: false },
        }),
  };
}

/** A target to verify: its emitted objects and the simulator of its mesh. */
export interface SimulatedTarget {
  readonly name: string;
  readonly objects: readonly ManifestObject[];
  readonly simulator: MeshSimulator;
}

/** How many mismatches and unsupported requests are kept per target; the counts say how many there were. */
const KEPT = 10_000;

export interface VerifyOptions {
  /** Only these destinations (service ids); absent: every declared service. */
  readonly destinations?: ReadonlySet<string>;
  /** Every client, method and path of the space, not one per combination of keys (an assertion names its own). */
  readonly everyClient?: boolean;
}

/**
 * The requests of each destination port, one port at a time: the values the model names for it and the
 * values every target's simulator names for it (`MeshSimulator.distinctions`) decide its space, so a value
 * only a wrong output names (an unrelated caller, a namespace, a block) is probed on every target.
 */
export function* spaceOf(model: PolicyModel, targets: readonly SimulatedTarget[], options: VerifyOptions = {}): Generator<Request> {
  const services = servicesById(model);
  for (const destination of model.services) {
    if (options.destinations !== undefined && !options.destinations.has(destination.id)) continue;
    const workload = workloadOf(destination);
    // The proxy admin port (model.ts, 9.), where declared: probed only on the meshes whose proxy has it.
    const admin = proxyAdminPortOf(model, destination);
    const adminTargets = targets.filter((t) => admin !== undefined && t.simulator.proxyAdminPort === admin.port);
    const ports =
      admin === undefined || adminTargets.length === 0
        ? destination.ports.map((port) => ({ port, targets }))
        : [...destination.ports.map((port) => ({ port, targets })), { port: admin, targets: adminTargets }];
    for (const { port, targets } of ports) {
      const values = [modelValues(model, destination, port, services), ...targets.map((t) => t.simulator.distinctions(t.objects, workload, port.port))];
      const conditions = isHttpProtocol(port.protocol) ? requestConditions(model, destination.id) : [{}];
      const exhaustive = options.everyClient === true;
      // One client per combination of what the model and each simulator see of it on this port.
      const kept = new Map<string, Client>();
      for (const client of clientsFor(model, destination, values)) {
        const simulated = simulatedClient(client, services, model.mesh.trustDomain);
        const key = exhaustive
          ? String(kept.size)
          : [
              clientKey(model, destination, port, client, services),
              ...targets.map((t) => t.simulator.clientKey(t.objects, workload, port.port, simulated)),
            ].join('\u0000');
        if (!kept.has(key)) kept.set(key, client);
      }
      // One operation (method, path, headers and token) per combination of what the model and each simulator
      // match it with: the model's rules by method and path, and by headers and token (`requestConditionsKey`).
      const operations = new Map<string, Operation>();
      for (const operation of operationsOf(port, values, conditions)) {
        const simulated = simulatedOperation(operation);
        const key = exhaustive
          ? String(operations.size)
          : [
              operationKey(model, destination, port, operation.method, operation.path),
              requestConditionsKey(model, destination, port, operation),
              ...targets.map((t) => t.simulator.operationKey(t.objects, workload, port.port, simulated)),
            ].join('\u0000');
        if (!operations.has(key)) operations.set(key, operation);
      }
      for (const operation of operations.values()) {
        for (const client of kept.values()) yield { client, destination: destination.id, port: port.port, ...operation };
      }
      // The kubelet runs each probe of the port: platform traffic, one request per probe, never deduplicated.
      yield* kubeletRequests(model, destination, port);
    }
  }
}

/**
 * Translation validation of several targets in one pass: each request is enumerated and decided by the
 * model once, then by every target's simulator, so memory stays flat and the model's work is shared.
 */
export function verifyTargets(model: PolicyModel, targets: readonly SimulatedTarget[], options: VerifyOptions = {}): Map<string, VerificationResult> {
  const services = servicesById(model);
  const results = targets.map(() => ({
    checked: 0,
    differing: 0,
    unsimulated: 0,
    mismatches: [] as Mismatch[],
    unsupported: [] as { request: Request; reason: string }[],
  }));
  for (const request of spaceOf(model, targets, options)) {
    const expected = decide(model, request, services);
    const simulatedAs = simulatedRequest(request, services, model.mesh.trustDomain);
    const destination = services.get(request.destination);
    const admin = destination !== undefined && isProxyAdminPort(model, destination, request.port);
    targets.forEach((target, i) => {
      // A mesh without a proxy admin port has no such request to decide (model.ts, 9.).
      if (admin && target.simulator.proxyAdminPort !== request.port) return;
      const result = results[i] as (typeof results)[number];
      const simulated = target.simulator.decide(target.objects, simulatedAs);
      result.checked++;
      if (simulated.verdict === 'unsupported') {
        result.unsimulated++;
        if (result.unsupported.length < KEPT) result.unsupported.push({ request, reason: simulated.reason });
        return;
      }
      const allowed = simulated.verdict === 'allow';
      if (allowed === expected.allowed) return;
      // A path not in normal form is the one request a mesh may refuse although the model allows it (model.ts, 5.).
      if (!allowed && request.path !== undefined && !isNormalPath(request.path)) return;
      // A probe GET from the probe networks may be admitted (model.ts, 6.).
      if (allowed && expected.meshMayAllow !== undefined) return;
      result.differing++;
      // Keep every breach up to the cap, and lost access only while there is room.
      if (result.mismatches.length < KEPT || allowed) {
        if (result.mismatches.length >= KEPT) {
          const lost = result.mismatches.findIndex((m) => !m.overPermissive);
          if (lost < 0) return;
          result.mismatches.splice(lost, 1);
        }
        result.mismatches.push({
          request,
          expected: expected.allowed,
          simulated,
          overPermissive: allowed,
          modelReason: expected.reason,
          rules: expected.rules,
        });
      }
    });
  }
  const out = new Map<string, VerificationResult>();
  targets.forEach((target, i) => {
    const r = results[i] as (typeof results)[number];
    // Breaches first.
    r.mismatches.sort((a, b) => Number(b.overPermissive) - Number(a.overPermissive));
    out.set(target.name, r);
  });
  return out;
}

/** One target's verification (`verifyTargets` with one target). */
export function verify(model: PolicyModel, objects: readonly ManifestObject[], simulator: MeshSimulator, options: VerifyOptions = {}): VerificationResult {
  return verifyTargets(model, [{ name: simulator.name, objects, simulator }], options).get(simulator.name) as VerificationResult;
}

export function describeRequest(request: Request): string {
  const { client } = request;
  const who =
    client.kind === 'service'
      ? client.service
      : client.kind === 'identity'
        ? `identity ${client.namespace}/${client.serviceAccount}`
        : client.kind === 'spiffe'
          ? client.id
          : client.kind === 'kubelet'
            ? 'kubelet'
            : 'plaintext client';
  const http = request.method === undefined ? '' : ` ${request.method} ${request.path ?? ''}`;
  const forwarded = client.forwardedFor === undefined ? '' : `, X-Forwarded-For ${client.forwardedFor.join(', ')}`;
  const headers = Object.entries(request.headers ?? {})
    .map(([name, value]) => ` ${name}: ${JSON.stringify(value)}`)
    .join(',');
  const token =
    request.token === undefined
      ? ''
      : request.token.kind === 'invalid'
        ? ` with an invalid JWT of ${request.token.issuer}`
        : ` with a JWT of ${request.token.issuer} for ${request.token.subject}${Object.keys(request.token.claims).length === 0 ? '' : ` ${JSON.stringify(request.token.claims)}`}`;
  return `${who} (${client.ip}${forwarded}) → ${request.destination}:${request.port}${http}${headers === '' ? '' : ` [${headers.trim()}]`}${token}`;
}
