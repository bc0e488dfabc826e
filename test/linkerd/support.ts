/**
 * Test support for the Linkerd target: hand-built models, and `disagreements`, which checks on a grid of
 * requests that the target grants exactly the model's access (the model's `decide` against the Linkerd
 * simulator reading the rendered output).
 */
import { isNormalPath } from '../../model/path';
import { decide, type Client as DecideClient, type Request } from '../../model/decide';
import { isHttpProtocol, linkerdControlPlane, servicesById, type HttpMethod, type PolicyModel, type PortModel, type ServiceModel } from '../../model/model';
import { renderTarget } from '../../compiler/render';
import type { KubernetesObject, TargetOutput } from '../../model/target';
import { linkerdTarget } from '../../targets/linkerd';
import { createLinkerdSimulator } from '../../verify/linkerd';
import { manifestsFromFiles, simulatedRequest } from '../../verify/compare';

export { exact, model, prefix, rule, svc } from '../model-builders';

export function compile(m: PolicyModel): TargetOutput {
  return linkerdTarget.compile(m, { spanOf: () => undefined });
}

export function ofKind(output: TargetOutput, kind: string): KubernetesObject[] {
  return output.objects.filter((o) => o.kind === kind);
}

export function spec(o: KubernetesObject): Record<string, any> {
  return o['spec'] as Record<string, any>;
}

/** The codes about the model's ports and rules: PC4128, the per-build note on the admin port under default deny, is left out (test/linkerd/probes.test.ts). */
export function codes(output: TargetOutput): string[] {
  return output.diagnostics.map((d) => d.code).filter((code) => code !== 'PC4128');
}

export function errors(output: TargetOutput): string[] {
  return output.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`);
}

/** A client of the tests' request grids, in short: converted to a `model/decide.ts` client. */
export interface Client {
  readonly label: string;
  /** `<ns>/<sa>`; absent for a plaintext client. */
  readonly identity?: string;
  readonly ip: string;
}

/** An HTTP method and path (ignored on a TCP port, where a connection has neither). */
export interface Operation {
  readonly method: string;
  readonly path: string;
}

function decideClient(client: Client): DecideClient {
  if (client.identity === undefined) return { kind: 'plaintext', ip: client.ip };
  const [namespace = '', serviceAccount = ''] = client.identity.split('/');
  return { kind: 'identity', namespace, serviceAccount, ip: client.ip, tls: true };
}

/** Every (client, operation) as a model request to one port; one per client on a TCP port. */
function requestsTo(
  service: ServiceModel,
  port: PortModel,
  clients: readonly Client[],
  operations: readonly Operation[],
): { label: string; request: Request }[] {
  const http = isHttpProtocol(port.protocol);
  return clients.flatMap((client) =>
    (http ? operations : operations.slice(0, 1)).map((op) => {
      const base = { client: decideClient(client), destination: service.id, port: port.port };
      return http
        ? { label: `${client.label} ${op.method} ${op.path}`, request: { ...base, method: op.method as HttpMethod, path: op.path } }
        : { label: `${client.label} (TCP)`, request: base };
    }),
  );
}

/**
 * Every (client, operation) on one port where the model and Linkerd disagree: `decide` (model/decide.ts)
 * against the Linkerd simulator (verify/linkerd) deciding from the output rendered as YAML, as a cluster
 * receives it. A request the simulator cannot decide is a disagreement too.
 */
export function disagreements(
  m: PolicyModel,
  output: TargetOutput,
  service: ServiceModel,
  portName: string,
  clients: readonly Client[],
  operations: readonly Operation[],
): string[] {
  const port = service.ports.find((p) => p.name === portName);
  if (port === undefined) throw new Error(`no port ${portName}`);
  const objects = manifestsFromFiles(renderTarget(output, m.entry));
  const simulator = createLinkerdSimulator({ trustDomain: m.mesh.trustDomain, controlPlaneNamespace: linkerdControlPlane(m.mesh) });
  const services = servicesById(m);
  const out: string[] = [];
  for (const { label, request } of requestsTo(service, port, clients, operations)) {
    const want = decide(m, request, services);
    const got = simulator.decide(objects, simulatedRequest(request, services, m.mesh.trustDomain));
    if (got.verdict === 'unsupported') out.push(`${label}: model ${want.allowed ? 'allows' : 'denies'}, the Linkerd simulator cannot decide: ${got.reason}`);
    // A variant not in normal form may be refused where the model allows its normal form (model.ts, 5.; verify/compare.ts).
    else if (want.allowed !== (got.verdict === 'allow') && !(want.allowed && !isNormalPath(request.path ?? '/'))) {
      out.push(
        `${label}: model ${want.allowed ? 'allows' : 'denies'} (${want.reason}), Linkerd ${got.verdict === 'allow' ? 'allows' : 'denies'} (${got.reason})`,
      );
    }
  }
  return out;
}

export function requests(methods: readonly string[], paths: readonly string[]): Operation[] {
  return methods.flatMap((method) => paths.map((path) => ({ method, path })));
}
