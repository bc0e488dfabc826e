/**
 * Translation validation: for one build, enumerate the finite request space, destination port by destination
 * port (model/request-space.ts: the callers, addresses, methods and paths the model and the simulated objects
 * tell apart there), and compare the model's decision with what each mesh simulator decides from the emitted
 * YAML alone.
 */
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
import { yamlDocuments } from './emitted-yaml';
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
  /** The differing requests: the first breaches, then the first requests of lost access (at most 10,000 in all). */
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
    for (const value of yamlDocuments(text) as ManifestObject[]) {
      if (!String(value.apiVersion).startsWith('kustomize.config.k8s.io/')) objects.push(value);
    }
  }
  return objects;
}

/** One Workload per service, so a simulator sees the same pod facts object for every request to it. */
const workloads = new WeakMap<ServiceModel, Workload>();

export function workloadOf(service: ServiceModel): Workload {
  const known = workloads.get(service);
  if (known !== undefined) return known;
  const workload = freshWorkload(service);
  workloads.set(service, workload);
  return workload;
}

/**
 * A Workload of its own for one pass over one destination: the simulators remember what applies to a pod per
 * Workload object (weakly), so once the destination is done and this object is dropped, so is all of that.
 */
function freshWorkload(service: ServiceModel): Workload {
  return {
    namespace: service.namespace,
    name: service.name,
    serviceAccount: service.serviceAccount,
    labels: service.selector,
    ports: service.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
    ...(service.gateway === undefined ? {} : { gateway: { ...service.gateway } }),
    probes: service.ports.flatMap((p) => (p.probes ?? []).map((probe) => ({ port: p.port, ...(probe.kind === 'http' ? { path: probe.path } : {}) }))),
  };
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

/** `workload`: the destination's pod facts object of the current pass (default: the one per service). */
export function simulatedRequest(request: Request, services: ReadonlyMap<string, ServiceModel>, trustDomain: string, workload?: Workload): SimulatedRequest {
  const destination = services.get(request.destination);
  if (destination === undefined) throw new Error(`unknown destination ${request.destination}`);
  return {
    client: simulatedClient(request.client, services, trustDomain),
    destination: workload ?? workloadOf(destination),
    port: request.port,
    ...simulatedOperation(request),
  };
}

/** What a mesh sees of a request's headers and token: the JWT's claims, and whether its issuer signed it. */
export function simulatedOperation(operation: Operation): SimulatedOperation {
  // Fields set one by one, not spread: this runs for every enumerated operation of every port.
  const simulated: { -readonly [K in keyof SimulatedOperation]: SimulatedOperation[K] } = {};
  if (operation.method !== undefined) simulated.method = operation.method;
  if (operation.path !== undefined) simulated.path = operation.path;
  if (operation.headers !== undefined) simulated.headers = operation.headers;
  const token = operation.token;
  if (token !== undefined) {
    simulated.jwt =
      token.kind === 'valid'
        ? { iss: token.issuer, sub: token.subject, claims: token.claims, signedByIssuer: true }
        : { iss: token.issuer, sub: PROBE_SUBJECT, claims: {}, signedByIssuer: false };
  }
  return simulated;
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

/** The destinations a pass covers, in the model's order. */
export function destinationsOf(model: PolicyModel, options: VerifyOptions = {}): ServiceModel[] {
  return options.destinations === undefined ? [...model.services] : model.services.filter((s) => options.destinations?.has(s.id) === true);
}

/**
 * The requests of each destination port, one port at a time: the values the model names for it and the
 * values every target's simulator names for it (`MeshSimulator.distinctions`) decide its space, so a value
 * only a wrong output names (an unrelated caller, a namespace, a block) is probed on every target.
 */
export function* spaceOf(model: PolicyModel, targets: readonly SimulatedTarget[], options: VerifyOptions = {}): Generator<Request> {
  const services = servicesById(model);
  for (const destination of destinationsOf(model, options)) {
    for (const space of portSpaces(model, destination, freshWorkload(destination), targets, services, options)) yield* requestsOf(space);
  }
}

/**
 * One destination port's probes: the clients and operations kept (one per combination of keys), each with its key
 * number per target (`keys[j]` for `targets[j]`; none in the exhaustive space), and the kubelet's requests.
 */
interface PortSpace {
  readonly destination: ServiceModel;
  readonly port: number;
  /** The targets that have this port (the proxy admin port exists on some meshes only). */
  readonly targets: readonly SimulatedTarget[];
  readonly clients: readonly { readonly client: Client; readonly keys?: readonly number[] }[];
  readonly operations: readonly { readonly operation: Operation; readonly keys?: readonly number[] }[];
  readonly kubelet: readonly Request[];
}

/** Every operation with every client, then the kubelet's requests. */
function* requestsOf(space: PortSpace): Generator<Request> {
  for (const { operation } of space.operations) {
    for (const { client } of space.clients) yield { client, destination: space.destination.id, port: space.port, ...operation };
  }
  yield* space.kubelet;
}

/** A number per distinct key string, per target: what a memo of decisions is indexed by. */
function numbered(keys: readonly string[], numbers: Map<string, number>[]): number[] {
  return keys.map((key, j) => {
    const seen = numbers[j] as Map<string, number>;
    let n = seen.get(key);
    if (n === undefined) seen.set(key, (n = seen.size));
    return n;
  });
}

/** One destination's port spaces (see `spaceOf`); `workload` is its pod facts object for this pass. */
function* portSpaces(
  model: PolicyModel,
  destination: ServiceModel,
  workload: Workload,
  targets: readonly SimulatedTarget[],
  services: ReadonlyMap<string, ServiceModel>,
  options: VerifyOptions,
): Generator<PortSpace> {
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
    const kept = new Map<string, { client: Client; keys?: number[] }>();
    const clientNumbers = targets.map(() => new Map<string, number>());
    for (const client of clientsFor(model, destination, values)) {
      if (exhaustive) {
        kept.set(String(kept.size), { client });
        continue;
      }
      const simulated = simulatedClient(client, services, model.mesh.trustDomain);
      const keys = targets.map((t) => t.simulator.clientKey(t.objects, workload, port.port, simulated));
      const key = [clientKey(model, destination, port, client, services), ...keys].join('\u0000');
      if (!kept.has(key)) kept.set(key, { client, keys: numbered(keys, clientNumbers) });
    }
    // One operation (method, path, headers and token) per combination of what the model and each simulator
    // match it with: the model's rules by method and path, and by headers and token (`requestConditionsKey`).
    const operations = new Map<string, { operation: Operation; keys?: number[] }>();
    const operationNumbers = targets.map(() => new Map<string, number>());
    for (const operation of operationsOf(port, values, conditions)) {
      if (exhaustive) {
        operations.set(String(operations.size), { operation });
        continue;
      }
      const simulated = simulatedOperation(operation);
      const keys = targets.map((t) => t.simulator.operationKey(t.objects, workload, port.port, simulated));
      const key = [
        operationKey(model, destination, port, operation.method, operation.path),
        requestConditionsKey(model, destination, port, operation),
        ...keys,
      ].join('\u0000');
      if (!operations.has(key)) operations.set(key, { operation, keys: numbered(keys, operationNumbers) });
    }
    // The kubelet runs each probe of the port: platform traffic, one request per probe, never deduplicated.
    const kubelet = [...kubeletRequests(model, destination, port)];
    yield { destination, port: port.port, targets, clients: [...kept.values()], operations: [...operations.values()], kubelet };
  }
}

/** One target's counts and kept requests while a pass runs: breaches and lost access apart, each capped. */
interface Tally {
  checked: number;
  differing: number;
  unsimulated: number;
  readonly breaches: Mismatch[];
  readonly lost: Mismatch[];
  readonly unsupported: { request: Request; reason: string }[];
}

const newTally = (): Tally => ({ checked: 0, differing: 0, unsimulated: 0, breaches: [], lost: [], unsupported: [] });

/**
 * What is kept of a pass: the first breaches (up to `KEPT`), then the first requests of lost access in the room
 * left. Each is the first of its kind in request order, so the result of the whole space is the merge of the
 * results of consecutive parts (`mergeVerifications`), whoever verified which part.
 */
function resultOf(tally: Tally): VerificationResult {
  const breaches = tally.breaches.slice(0, KEPT);
  return {
    checked: tally.checked,
    differing: tally.differing,
    unsimulated: tally.unsimulated,
    mismatches: [...breaches, ...tally.lost.slice(0, KEPT - breaches.length)],
    unsupported: tally.unsupported.slice(0, KEPT),
  };
}

/** The results of consecutive parts of a space (in order) as the result of the whole: as if verified in one pass. */
export function mergeVerifications(parts: readonly VerificationResult[]): VerificationResult {
  const tally = newTally();
  for (const part of parts) {
    tally.checked += part.checked;
    tally.differing += part.differing;
    tally.unsimulated += part.unsimulated;
    for (const m of part.mismatches) (m.overPermissive ? tally.breaches : tally.lost).push(m);
    tally.unsupported.push(...part.unsupported);
  }
  return resultOf(tally);
}

/**
 * Translation validation of several targets in one pass, destination by destination: each request is
 * enumerated and decided by the model once, then by every target's simulator. Nothing is held but the counts
 * and the kept requests; what the simulators worked out for a destination's pods is dropped with its Workload
 * once the next destination starts.
 */
export function verifyTargets(model: PolicyModel, targets: readonly SimulatedTarget[], options: VerifyOptions = {}): Map<string, VerificationResult> {
  const services = servicesById(model);
  const tallies = targets.map(newTally);
  for (const destination of destinationsOf(model, options)) {
    const workload = freshWorkload(destination);
    for (const space of portSpaces(model, destination, workload, targets, services, options)) {
      const admin = isProxyAdminPort(model, destination, space.port);
      // Per target of the port, the verdict of each (client key, operation key) pair decided so far: by the keys'
      // contract (`MeshSimulator.clientKey`, `operationKey`), every request of the pair is decided alike.
      const verdicts = space.targets.map(() => new Map<number, SimulatedDecision['verdict']>());
      const check = (request: Request, clientKeys?: readonly number[], operationKeys?: readonly number[]): void => {
        const expected = decide(model, request, services);
        let simulatedAs: SimulatedRequest | undefined;
        targets.forEach((target, i) => {
          // A mesh without a proxy admin port has no such request to decide (model.ts, 9.).
          if (admin && target.simulator.proxyAdminPort !== request.port) return;
          const tally = tallies[i] as Tally;
          const j = space.targets.indexOf(target);
          const pair =
            clientKeys === undefined || operationKeys === undefined ? undefined : (clientKeys[j] as number) * 0x100000 + (operationKeys[j] as number);
          const known = pair === undefined ? undefined : verdicts[j]?.get(pair);
          // A known verdict that agrees with the model is all there is to count; anything else is decided afresh,
          // so a reported request carries its own decision (reason and objects).
          if (known !== undefined && known !== 'unsupported' && (known === 'allow') === expected.allowed) {
            tally.checked++;
            return;
          }
          simulatedAs ??= simulatedRequest(request, services, model.mesh.trustDomain, workload);
          const simulated = target.simulator.decide(target.objects, simulatedAs);
          if (pair !== undefined) verdicts[j]?.set(pair, simulated.verdict);
          tally.checked++;
          if (simulated.verdict === 'unsupported') {
            tally.unsimulated++;
            if (tally.unsupported.length < KEPT) tally.unsupported.push({ request, reason: simulated.reason });
            return;
          }
          const allowed = simulated.verdict === 'allow';
          if (allowed === expected.allowed) return;
          // A path not in normal form is the one request a mesh may refuse although the model allows it (model.ts, 5.).
          if (!allowed && request.path !== undefined && !isNormalPath(request.path)) return;
          // A probe GET from the probe networks may be admitted (model.ts, 6.).
          if (allowed && expected.meshMayAllow !== undefined) return;
          tally.differing++;
          const kept = allowed ? tally.breaches : tally.lost;
          if (kept.length < KEPT)
            kept.push({ request, expected: expected.allowed, simulated, overPermissive: allowed, modelReason: expected.reason, rules: expected.rules });
        });
      };
      for (const { operation, keys: operationKeys } of space.operations) {
        for (const { client, keys: clientKeys } of space.clients) {
          check({ client, destination: destination.id, port: space.port, ...operation }, clientKeys, operationKeys);
        }
      }
      for (const request of space.kubelet) check(request);
    }
  }
  const out = new Map<string, VerificationResult>();
  targets.forEach((target, i) => out.set(target.name, resultOf(tallies[i] as Tally)));
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
