/**
 * Hand-built models for tests that exercise targets and simulators without the DSL: services, rules and a
 * model with the mesh defaults.
 */
import type { HttpMethod, MtlsMode, PathMatch, PolicyModel, PortModel, Protocol, RuleModel, ServiceModel, SourceModel } from '../model/model';

export function svc(
  namespace: string,
  name: string,
  ports: Record<string, { port: number; protocol: Protocol; mtls?: MtlsMode }>,
  options: { serviceAccount?: string; mtls?: MtlsMode; selector?: Record<string, string> } = {},
): ServiceModel {
  const portList: PortModel[] = Object.entries(ports)
    .map(([portName, p]) => ({ name: portName, port: p.port, protocol: p.protocol, ...(p.mtls === undefined ? {} : { mtls: p.mtls }) }))
    .sort((a, b) => a.port - b.port);
  return {
    id: `${namespace}/${name}`,
    namespace,
    name,
    serviceAccount: options.serviceAccount ?? name,
    selector: options.selector ?? { app: name },
    ports: portList,
    ...(options.mtls === undefined ? {} : { mtls: options.mtls }),
  };
}

let ruleCounter = 0;
export function rule(
  action: 'allow' | 'deny',
  sources: SourceModel[],
  destination: string,
  ports: string[],
  options: { methods?: HttpMethod[]; paths?: PathMatch[]; id?: string } = {},
): RuleModel {
  return {
    id: options.id ?? `r${++ruleCounter}`,
    action,
    sources,
    destination,
    ports,
    ...(options.methods === undefined ? {} : { methods: options.methods }),
    ...(options.paths === undefined ? {} : { paths: options.paths }),
  };
}

export const exact = (value: string): PathMatch => ({ kind: 'exact', value });
export const prefix = (value: string): PathMatch => ({ kind: 'prefix', value });

export function model(
  services: ServiceModel[],
  rules: RuleModel[],
  mesh: Partial<PolicyModel['mesh']> = {},
  namespaces?: PolicyModel['namespaces'],
): PolicyModel {
  const names = [...new Set(services.map((s) => s.namespace))].sort();
  return {
    version: 1,
    entry: 'policy/mesh.ts',
    mesh: { trustDomain: 'cluster.local', mtls: 'STRICT', defaultAction: 'deny', rootNamespace: 'istio-system', everyMeshedNamespaceListed: true, ...mesh },
    namespaces: namespaces ?? names.map((name) => ({ name })),
    services: [...services].sort((a, b) => (a.id < b.id ? -1 : 1)),
    rules,
  };
}
