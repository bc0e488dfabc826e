/**
 * What the cluster knows about its workloads, read from Deployments, StatefulSets, DaemonSets and Services:
 * which pods exist (labels, service account, container ports) and what their ports speak. Policy objects do
 * not say this, so import learns the services of the policy from these objects only.
 *
 * A policyc service is a Kubernetes Service with a selector (its name, selector and ports; the target port is
 * the container port meshes enforce on), or a workload no Service selects (its own name and pod labels).
 */
import type { PolicyModel, PortModel, Protocol, ServiceModel } from '../model/model';
import type { Workload } from '../verify/simulator';
import type { ImportedObject } from './manifests';

/** A service of the imported policy and the pods it stands for. */
export interface ImportedService {
  readonly service: ServiceModel;
  /** Labels every pod of the service carries: what policy selectors are matched against. */
  readonly podLabels: Readonly<Record<string, string>>;
  /** Each pod template's labels. */
  readonly templates: readonly Readonly<Record<string, string>>[];
  /** The pods' declared container ports (names resolve Linkerd Server ports). */
  readonly containerPorts: readonly { readonly name?: string; readonly port: number }[];
  /** The first pod template's annotations (Linkerd reads its default inbound policy there). */
  readonly podAnnotations: Readonly<Record<string, string>>;
  /** The objects it was learned from. */
  readonly origins: readonly ImportedObject[];
  /** Why the service is not exactly what the cluster runs (several service accounts, guessed protocols). */
  readonly notes: readonly string[];
}

interface PodTemplate {
  readonly origin: ImportedObject;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount: string;
  readonly ports: readonly { readonly name?: string; readonly port: number }[];
  readonly annotations: Readonly<Record<string, string>>;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function stringMap(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(record(value)).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The namespace an object lands in: its own, or `default` (where `kubectl apply` without `-n` puts it). */
export function namespaceOf(object: ImportedObject): string {
  return object.object.metadata.namespace ?? 'default';
}

/** Whether every label of the selector is on the pod. */
export function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function podTemplate(origin: ImportedObject): PodTemplate {
  const spec = record(origin.object['spec']);
  const template = record(spec['template']);
  const podSpec = record(template['spec']);
  const account = podSpec['serviceAccountName'] ?? podSpec['serviceAccount'];
  const ports = list(podSpec['containers']).flatMap((c) =>
    list(record(c)['ports']).flatMap((p) => {
      const port = record(p);
      const number = port['containerPort'];
      if (typeof number !== 'number') return [];
      return [{ port: number, ...(typeof port['name'] === 'string' ? { name: port['name'] } : {}) }];
    }),
  );
  return {
    origin,
    namespace: namespaceOf(origin),
    name: origin.object.metadata.name,
    labels: stringMap(record(template['metadata'])['labels']),
    annotations: stringMap(record(template['metadata'])['annotations']),
    serviceAccount: typeof account === 'string' ? account : 'default',
    ports,
  };
}

/**
 * The protocol a port speaks, as the meshes read it: `appProtocol`, else the port name's prefix
 * (`http`, `http2`, `grpc`, `tcp`, Istio's `<protocol>[-<suffix>]` convention); undefined when nothing says.
 */
export function protocolOf(appProtocol: unknown, ...names: readonly (string | undefined)[]): Protocol | undefined {
  const named = (value: string): Protocol | undefined => {
    const head = value.toLowerCase().split('-')[0] ?? '';
    if (head === 'http' || head === 'http2' || head === 'grpc' || head === 'tcp') return head;
    if (value === 'kubernetes.io/h2c') return 'http2';
    if (head === 'https' || head === 'tls' || head === 'mongo' || head === 'mysql' || head === 'redis') return 'tcp';
    return undefined;
  };
  if (typeof appProtocol === 'string') {
    const fromApp = named(appProtocol);
    if (fromApp !== undefined) return fromApp;
  }
  for (const name of names) {
    const fromName = name === undefined ? undefined : named(name);
    if (fromName !== undefined) return fromName;
  }
  return undefined;
}

/** A valid Kubernetes port name for a port that has none. */
function portName(name: string | undefined, port: number): string {
  return name !== undefined && /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(name) && /[a-z]/.test(name) ? name : `port${port}`;
}

function commonLabels(templates: readonly PodTemplate[]): Record<string, string> {
  const [first, ...rest] = templates;
  if (first === undefined) return {};
  return Object.fromEntries(Object.entries(first.labels).filter(([key, value]) => rest.every((t) => t.labels[key] === value)));
}

/**
 * Services from the workload objects. `protocolFallback` decides a port nothing names a protocol for (Istio
 * detects HTTP on such ports; the caller knows whether policy uses HTTP fields there).
 */
export function servicesOf(
  objects: readonly ImportedObject[],
  protocolFallback: (namespace: string, labels: Readonly<Record<string, string>>) => Protocol,
): ImportedService[] {
  const templates = objects.filter((o) => WORKLOAD_KINDS.has(o.object.kind)).map(podTemplate);
  const claimed = new Set<PodTemplate>();
  const out: ImportedService[] = [];
  const byId = new Set<string>();
  const build = (
    namespace: string,
    name: string,
    selector: Record<string, string>,
    pods: readonly PodTemplate[],
    origins: ImportedObject[],
    ports: PortModel[],
  ) => {
    const id = `${namespace}/${name}`;
    // Pods that listen on no port are only ever callers: rules name them by identity, not as services.
    if (byId.has(id) || ports.length === 0) return;
    byId.add(id);
    const accounts = [...new Set(pods.map((p) => p.serviceAccount))].sort();
    const notes: string[] = [];
    if (accounts.length > 1)
      notes.push(`its pods run as several service accounts (${accounts.join(', ')}); the service uses ${accounts[0] ?? 'default'}, the first by name`);
    const unique = new Map<number, PortModel>();
    for (const port of ports) if (!unique.has(port.port)) unique.set(port.port, port);
    const names = new Set<string>();
    const sortedPorts = [...unique.values()]
      .map((p) => {
        const distinct = names.has(p.name) ? `port${p.port}` : p.name;
        names.add(distinct);
        return { ...p, name: distinct };
      })
      .sort((a, b) => a.port - b.port);
    out.push({
      service: {
        id,
        namespace,
        name,
        serviceAccount: accounts[0] ?? 'default',
        selector: Object.fromEntries(Object.entries(selector).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
        ports: sortedPorts,
      },
      podLabels: commonLabels(pods),
      containerPorts: pods.flatMap((p) => p.ports),
      podAnnotations: pods[0]?.annotations ?? {},
      templates: pods.map((p) => p.labels),
      origins,
      notes,
    });
  };

  for (const origin of objects.filter((o) => o.object.kind === 'Service')) {
    const spec = record(origin.object['spec']);
    const selector = stringMap(spec['selector']);
    if (Object.keys(selector).length === 0) continue;
    const namespace = namespaceOf(origin);
    const pods = templates.filter((t) => t.namespace === namespace && selects(selector, t.labels));
    if (pods.length === 0) continue;
    for (const pod of pods) claimed.add(pod);
    const fallback = protocolFallback(namespace, commonLabels(pods));
    const ports = list(spec['ports']).flatMap((p): PortModel[] => {
      const port = record(p);
      const servicePort = port['port'];
      if (typeof servicePort !== 'number') return [];
      const target = port['targetPort'];
      const containerPorts = pods.flatMap((pod) => pod.ports);
      const byName = typeof target === 'string' ? containerPorts.find((c) => c.name === target) : undefined;
      const number = typeof target === 'number' ? target : (byName?.port ?? (typeof target === 'string' ? Number(target) : servicePort));
      if (!Number.isInteger(number)) return [];
      const name = typeof port['name'] === 'string' ? port['name'] : undefined;
      const containerName = containerPorts.find((c) => c.port === number)?.name;
      return [{ name: portName(name, number), port: number, protocol: protocolOf(port['appProtocol'], name, containerName) ?? fallback }];
    });
    // Ports the pods listen on that the Service does not expose: policy is enforced on them too (callers use the pod IP).
    const exposed = new Set(ports.map((p) => p.port));
    for (const container of pods.flatMap((pod) => pod.ports)) {
      if (exposed.has(container.port)) continue;
      exposed.add(container.port);
      ports.push({ name: portName(container.name, container.port), port: container.port, protocol: protocolOf(undefined, container.name) ?? fallback });
    }
    build(namespace, origin.object.metadata.name, selector, pods, [origin, ...pods.map((p) => p.origin)], ports);
  }
  for (const pod of templates) {
    if (claimed.has(pod)) continue;
    const fallback = protocolFallback(pod.namespace, pod.labels);
    const ports = pod.ports.map((p) => ({ name: portName(p.name, p.port), port: p.port, protocol: protocolOf(undefined, p.name) ?? fallback }));
    build(pod.namespace, pod.name, pod.labels, [pod], [pod.origin], ports);
  }
  return out.sort((a, b) => (a.service.id < b.service.id ? -1 : a.service.id > b.service.id ? 1 : 0));
}

/**
 * The workloads a simulator sees for the model's services: the model's ports and identity, the labels of the pods
 * the cluster runs (the imported service of the same id), so that policy selecting on other pod labels still applies.
 */
export function workloadsFor(model: Pick<PolicyModel, 'services'>, imported: readonly ImportedService[]): Map<string, Workload> {
  const byId = new Map(imported.map((s) => [s.service.id, s]));
  return new Map(
    model.services.map((service) => [
      service.id,
      {
        namespace: service.namespace,
        name: service.name,
        serviceAccount: service.serviceAccount,
        labels: { ...(byId.get(service.id)?.podLabels ?? {}), ...service.selector },
        ports: service.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
      },
    ]),
  );
}
