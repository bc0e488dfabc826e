/**
 * Policy assertions written by users (`reaches`, `neverReaches`), checked on the model (`decide`) and on each
 * target's emitted objects (its simulator), over the same request space the verifier uses.
 */
import { ipInCidr } from '../model/cidr';
import { decide, presentedIdentity, type Client, type Request } from '../model/decide';
import { servicesById, type AssertionModel, type PolicyModel, type ServiceModel } from '../model/model';
import type { ManifestObject, MeshSimulator } from './simulator';
import { requestSpace } from '../model/request-space';
import { portNumbered } from '../model/resolve';
import { describeRequest, simulatedRequest } from './compare';

export interface AssertionFailure {
  readonly assertion: AssertionModel;
  /** `model` or a target name. */
  readonly where: string;
  /** The request that breaks a `neverReaches`; absent when a `reaches` found no allowed request. */
  readonly witness?: Request;
}

function clientMatches(assertion: AssertionModel, client: Client, services: ReadonlyMap<string, ServiceModel>, trustDomain: string): boolean {
  // Assertions are about workloads' callers: the kubelet's probes are platform traffic (model.ts, 6.).
  if (client.kind === 'kubelet') return false;
  const identity = presentedIdentity(client, services, trustDomain);
  const from = assertion.from;
  switch (from.kind) {
    case 'service':
      return client.kind === 'service' && client.service === from.service;
    case 'namespace':
      return identity?.trustDomain === trustDomain && identity.namespace === from.namespace;
    case 'identity':
      return identity?.trustDomain === trustDomain && identity.namespace === from.namespace && identity.serviceAccount === from.serviceAccount;
    case 'spiffe':
      return identity?.spiffeId === from.id;
    case 'trustDomain':
      return identity?.trustDomain === from.trustDomain;
    case 'both':
      return from.cidrs.some((cidr) => ipInCidr(client.ip, cidr)) && clientMatches({ ...assertion, from: from.identity }, client, services, trustDomain);
    case 'remoteIpBlock':
      return ipInCidr(client.ip, from.cidr);
    case 'authenticated':
      return identity !== undefined;
    case 'anyone':
      return true;
    case 'plaintext':
      return client.kind === 'plaintext';
    case 'ipBlock':
      return ipInCidr(client.ip, from.cidr);
    case 'ipBlocks':
      return from.cidrs.some((cidr) => ipInCidr(client.ip, cidr));
    case 'outside':
      return identity?.trustDomain !== trustDomain || identity.namespace !== from.namespace;
    default:
      return from satisfies never;
  }
}

/** The requests an assertion is about: the verifier's request space, with the assertion's concrete path. */
function assertionRequests(model: PolicyModel, assertion: AssertionModel, space: readonly Request[] = requestSpace(model)): Request[] {
  const services = servicesById(model);
  const path = assertion.path;
  const candidates =
    path === undefined
      ? space
      : [
          ...new Map(
            space
              .filter((r) => r.path !== undefined)
              .map((r) => ({ ...r, path }))
              .map((r) => [JSON.stringify(r), r]),
          ).values(),
        ];
  return candidates.filter((request) => {
    const destination = services.get(request.destination);
    if (destination === undefined) return false;
    if (assertion.to.kind === 'service' ? destination.id !== assertion.to.service : destination.namespace !== assertion.to.namespace) return false;
    if (assertion.port !== undefined && portNumbered(destination, request.port)?.name !== assertion.port) return false;
    if (assertion.method !== undefined && request.method !== assertion.method) return false;
    return clientMatches(assertion, request.client, services, model.mesh.trustDomain);
  });
}

/** Failures of every assertion, on the model and on each simulated target. */
export function checkAssertions(
  model: PolicyModel,
  targets: readonly { name: string; objects: readonly ManifestObject[]; simulator: MeshSimulator }[],
): AssertionFailure[] {
  const failures: AssertionFailure[] = [];
  const services = servicesById(model);
  const space = requestSpace(model);
  for (const assertion of model.assertions ?? []) {
    const requests = assertionRequests(model, assertion, space);
    const deciders: { where: string; allowed: (r: Request) => boolean }[] = [
      { where: 'model', allowed: (r) => decide(model, r, services).allowed },
      ...targets.map((t) => ({
        where: t.name,
        allowed: (r: Request) => t.simulator.decide(t.objects, simulatedRequest(r, services, model.mesh.trustDomain)).verdict === 'allow',
      })),
    ];
    for (const { where, allowed } of deciders) {
      if (assertion.expect === 'reaches') {
        if (!requests.some(allowed)) failures.push({ assertion, where });
      } else {
        const witness = requests.find(allowed);
        if (witness !== undefined) failures.push({ assertion, where, witness });
      }
    }
  }
  return failures;
}

export function describeFailure(failure: AssertionFailure): string {
  const { assertion } = failure;
  const what = assertion.expect === 'reaches' ? 'no matching call is allowed' : `${describeRequest(failure.witness as Request)} is allowed`;
  return `${failure.where === 'model' ? 'In the policy' : `In the ${failure.where} output`}, ${what}.`;
}
