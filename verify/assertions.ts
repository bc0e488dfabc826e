/**
 * Policy assertions written by users (`reaches`, `neverReaches`), checked on the model (`decide`) and on each
 * target's emitted objects (its simulator), over the same request space the verifier uses.
 */
import { ipInCidr } from '../model/cidr';
import { decide, presentedIdentity, type Client, type Request } from '../model/decide';
import { servicesById, type AssertionModel, type PolicyModel, type ServiceModel } from '../model/model';
import { portNumbered } from '../model/resolve';
import { describeRequest, simulatedRequest, spaceOf, type SimulatedTarget } from './compare';

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

/** Whether a request is one the assertion is about: its destination, port, method, path and caller. */
function isAbout(assertion: AssertionModel, request: Request, services: ReadonlyMap<string, ServiceModel>, trustDomain: string): boolean {
  const destination = services.get(request.destination);
  if (destination === undefined) return false;
  if (assertion.port !== undefined && portNumbered(destination, request.port)?.name !== assertion.port) return false;
  if (assertion.method !== undefined && request.method !== assertion.method) return false;
  if (assertion.path !== undefined && request.path !== assertion.path) return false;
  return clientMatches(assertion, request.client, services, trustDomain);
}

/**
 * Failures of every assertion, on the model and on each simulated target, over the verifier's request space
 * of the destinations the assertion is about (its path is one of the values that space probes).
 */
export function checkAssertions(model: PolicyModel, targets: readonly SimulatedTarget[]): AssertionFailure[] {
  const failures: AssertionFailure[] = [];
  const services = servicesById(model);
  for (const assertion of model.assertions ?? []) {
    const destinations = new Set(
      model.services.filter((s) => (assertion.to.kind === 'service' ? s.id === assertion.to.service : s.namespace === assertion.to.namespace)).map((s) => s.id),
    );
    const deciders: { where: string; allowed: (r: Request) => boolean }[] = [
      { where: 'model', allowed: (r) => decide(model, r, services).allowed },
      ...targets.map((t) => ({
        where: t.name,
        allowed: (r: Request) => t.simulator.decide(t.objects, simulatedRequest(r, services, model.mesh.trustDomain)).verdict === 'allow',
      })),
    ];
    const reached = new Set<string>();
    const witnesses = new Map<string, Request>();
    for (const request of spaceOf(model, targets, { destinations, everyClient: true })) {
      if (!isAbout(assertion, request, services, model.mesh.trustDomain)) continue;
      for (const { where, allowed } of deciders) {
        if (assertion.expect === 'reaches' ? reached.has(where) : witnesses.has(where)) continue;
        if (!allowed(request)) continue;
        if (assertion.expect === 'reaches') reached.add(where);
        else witnesses.set(where, request);
      }
    }
    for (const { where } of deciders) {
      if (assertion.expect === 'reaches') {
        if (!reached.has(where)) failures.push({ assertion, where });
      } else {
        const witness = witnesses.get(where);
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
