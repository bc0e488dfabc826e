/**
 * Translation validation: for one build, enumerate the finite request space of the model (every source
 * kind × destination × port × representative methods and paths, near-misses included × mTLS/plaintext)
 * and compare the model's decision with what a mesh simulator decides from the emitted YAML alone.
 */
import { parseAllDocuments } from 'yaml';
import { decide, presentedIdentity, type Decision, type Request } from '../model/decide';
import { servicesById, type PolicyModel, type ServiceModel } from '../model/model';
import { isNormalPath } from '../model/path';
import { requestSpace } from '../model/request-space';
import type { ManifestObject, MeshSimulator, SimulatedDecision, SimulatedRequest, Workload } from './simulator';

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
  readonly mismatches: readonly Mismatch[];
  readonly unsupported: readonly { readonly request: Request; readonly reason: string }[];
}

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

export function simulatedRequest(request: Request, services: ReadonlyMap<string, ServiceModel>, trustDomain: string): SimulatedRequest {
  const destination = services.get(request.destination);
  if (destination === undefined) throw new Error(`unknown destination ${request.destination}`);
  const { client } = request;
  const identity = presentedIdentity(client, services, trustDomain);
  const local = identity !== undefined && identity.trustDomain === trustDomain && identity.namespace !== undefined && identity.serviceAccount !== undefined;
  return {
    client: {
      ip: client.ip,
      ...(identity === undefined
        ? {}
        : local
          ? { identity: { namespace: identity.namespace as string, serviceAccount: identity.serviceAccount as string } }
          : { spiffeId: identity.spiffeId }),
      ...(client.forwardedFor === undefined ? {} : { forwardedFor: client.forwardedFor }),
      ...(client.kind === 'kubelet' ? { node: true } : {}),
    },
    destination: workloadOf(destination),
    port: request.port,
    ...(request.method === undefined ? {} : { method: request.method }),
    ...(request.path === undefined ? {} : { path: request.path }),
    ...(request.headers === undefined ? {} : { headers: request.headers }),
    ...(request.token === undefined
      ? {}
      : {
          jwt:
            request.token.kind === 'valid'
              ? { iss: request.token.issuer, sub: request.token.subject, claims: request.token.claims, signedByIssuer: true }
              : { iss: request.token.issuer, sub: 'policyc-probe-subject', claims: {}, signedByIssuer: false },
        }),
  };
}

/** A request of the model's request space, with what the model decides for it. */
export interface ModelDecision {
  readonly request: Request;
  readonly expected: Decision;
}

/** The model's decision on its whole request space: computed once per model, compared with every target. */
export function modelDecisions(model: PolicyModel): ModelDecision[] {
  const services = servicesById(model);
  return requestSpace(model).map((request) => ({ request, expected: decide(model, request, services) }));
}

export function verify(
  model: PolicyModel,
  objects: readonly ManifestObject[],
  simulator: MeshSimulator,
  decisions: readonly ModelDecision[] = modelDecisions(model),
): VerificationResult {
  const services = servicesById(model);
  const mismatches: Mismatch[] = [];
  const unsupported: { request: Request; reason: string }[] = [];
  let checked = 0;
  for (const { request, expected } of decisions) {
    const simulated = simulator.decide(objects, simulatedRequest(request, services, model.mesh.trustDomain));
    checked++;
    if (simulated.verdict === 'unsupported') {
      unsupported.push({ request, reason: simulated.reason });
      continue;
    }
    const allowed = simulated.verdict === 'allow';
    // A path not in normal form is the one request a mesh may refuse although the model allows it (model.ts, 5.).
    const refusedVariant = !allowed && request.path !== undefined && !isNormalPath(request.path);
    // A probe GET from the probe networks may be admitted (model.ts, 6.).
    const admittedProbe = allowed && expected.meshMayAllow !== undefined;
    if (allowed !== expected.allowed && !refusedVariant && !admittedProbe) {
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
