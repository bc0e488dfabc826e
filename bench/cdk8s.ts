/**
 * The cdk8s comparison for the benchmark: a plain cdk8s program that reads the generated policy model
 * (`model.json`, written by bench/generate.ts in compiler/model.ts's shape) and emits the same Istio objects
 * as policyc's Istio target: the mesh-wide and per-namespace/per-workload PeerAuthentications, an
 * `allow-nothing` policy per namespace, and one ALLOW and one DENY AuthorizationPolicy per destination.
 * One chart per namespace, one YAML file per object (`app.synth()`). It does not write policyc's
 * `policyc.dev/source` annotation (the benchmark compares the objects without it), which leaves cdk8s a little
 * less to do.
 *
 * It is compiled to JavaScript by the project's tsc ahead of time: running it does no type-checking, which
 * is what a cdk8s user gets with a prebuilt program (`cdk8s synth` with ts-node would type-check too).
 *
 * Usage: node dist/bench/cdk8s.js <model.json> <outdir>
 */
import * as fs from 'node:fs';
import { ApiObject, App, Chart, YamlOutputType } from 'cdk8s';
import type { Construct } from 'constructs';
import type { BenchModel, BenchRule, BenchSource } from './generate';

const API_VERSION = 'security.istio.io/v1';
const LABELS = { 'app.kubernetes.io/managed-by': 'policyc' };

type Service = BenchModel['services'][number];

function principal(model: BenchModel, namespace: string, serviceAccount: string): string {
  return `${model.mesh.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

function fromOf(model: BenchModel, sources: readonly BenchSource[], services: ReadonlyMap<string, Service>): unknown[] | undefined {
  if (sources.some((s) => s.kind === 'anyone')) return undefined;
  const principals = new Set<string>();
  const namespaces = new Set<string>();
  const ipBlocks = new Set<string>();
  for (const s of sources) {
    if (s.kind === 'service') {
      const svc = services.get(s.service);
      if (svc !== undefined) principals.add(principal(model, svc.namespace, svc.serviceAccount));
    } else if (s.kind === 'identity') principals.add(principal(model, s.namespace, s.serviceAccount));
    else if (s.kind === 'authenticated') principals.add('*');
    // A namespace is bound to the trust domain, as policyc's Istio target writes it (README "SPIFFE IDs, trust domains").
    else if (s.kind === 'namespace') namespaces.add(principal(model, s.namespace, '*'));
    else if (s.kind === 'ipBlock') ipBlocks.add(s.cidr);
  }
  const sorted = (set: Set<string>): string[] => [...set].sort();
  return [
    ...(principals.size > 0 ? [{ source: { principals: principals.has('*') ? ['*'] : sorted(principals) } }] : []),
    ...(namespaces.size > 0 && !principals.has('*') ? [{ source: { principals: sorted(namespaces) } }] : []),
    ...(ipBlocks.size > 0 ? [{ source: { ipBlocks: sorted(ipBlocks) } }] : []),
  ];
}

function ruleOf(model: BenchModel, rule: BenchRule, destination: Service, services: ReadonlyMap<string, Service>): unknown {
  const ports = rule.ports
    .map((name) => destination.ports.find((p) => p.name === name)?.port)
    .filter((p): p is number => p !== undefined)
    .sort((a, b) => a - b)
    .map(String);
  if (ports.length === 0) return undefined;
  const from = fromOf(model, rule.sources, services);
  if (from !== undefined && from.length === 0) return undefined;
  const operation = {
    ports,
    ...(rule.methods === undefined ? {} : { methods: [...rule.methods] }),
    ...(rule.paths === undefined ? {} : { paths: rule.paths.map((p) => (p.kind === 'prefix' ? `${p.value}*` : p.value)) }),
  };
  return { ...(from === undefined ? {} : { from }), to: [{ operation }] };
}

export function synth(model: BenchModel, outdir: string): number {
  const app = new App({ outdir, outputFileExtension: '.yaml', yamlOutputType: YamlOutputType.FOLDER_PER_CHART_FILE_PER_RESOURCE });
  const charts = new Map<string, Chart>();
  const chart = (namespace: string): Chart => {
    let c = charts.get(namespace);
    if (c === undefined) {
      c = new Chart(app, namespace, { namespace });
      charts.set(namespace, c);
    }
    return c;
  };
  let count = 0;
  const object = (scope: Construct, kind: string, name: string, namespace: string, spec: unknown): void => {
    new ApiObject(scope, `${kind}-${name}`, { apiVersion: API_VERSION, kind, metadata: { name, namespace, labels: LABELS }, spec });
    count++;
  };

  object(chart(model.mesh.rootNamespace), 'PeerAuthentication', 'default', model.mesh.rootNamespace, { mtls: { mode: model.mesh.mtls } });
  const nsMtls = new Map(model.namespaces.map((ns) => [ns.name, ns.mtls]));
  for (const ns of model.namespaces) {
    if (ns.mtls !== undefined) object(chart(ns.name), 'PeerAuthentication', 'default', ns.name, { mtls: { mode: ns.mtls } });
  }
  for (const svc of model.services) {
    const overridden = svc.ports.filter((p) => p.mtls !== undefined);
    if (svc.mtls === undefined && overridden.length === 0) continue;
    object(chart(svc.namespace), 'PeerAuthentication', `${svc.name}-mtls`, svc.namespace, {
      selector: { matchLabels: svc.selector },
      ...(svc.mtls === undefined ? {} : { mtls: { mode: svc.mtls } }),
      ...(overridden.length === 0
        ? {}
        : {
            portLevelMtls: Object.fromEntries(
              overridden.map((p) => [String(p.port), { mode: p.mtls ?? svc.mtls ?? nsMtls.get(svc.namespace) ?? model.mesh.mtls }]),
            ),
          }),
    });
  }

  const services = new Map(model.services.map((s) => [s.id, s]));
  for (const ns of model.namespaces) object(chart(ns.name), 'AuthorizationPolicy', 'allow-nothing', ns.name, {});
  const byDestination = new Map<string, BenchRule[]>();
  for (const rule of model.rules) {
    const list = byDestination.get(rule.destination);
    if (list === undefined) byDestination.set(rule.destination, [rule]);
    else list.push(rule);
  }
  for (const [id, rules] of byDestination) {
    const destination = services.get(id);
    if (destination === undefined) continue;
    for (const action of ['allow', 'deny'] as const) {
      const istioRules = rules
        .filter((r) => r.action === action)
        .map((r) => ruleOf(model, r, destination, services))
        .filter((r) => r !== undefined);
      if (istioRules.length === 0) continue;
      object(chart(destination.namespace), 'AuthorizationPolicy', `${destination.name}-${action}`, destination.namespace, {
        selector: { matchLabels: destination.selector },
        action: action === 'allow' ? 'ALLOW' : 'DENY',
        rules: istioRules,
      });
    }
  }
  app.synth();
  return count;
}

if (require.main === module) {
  const [modelFile, outdir] = process.argv.slice(2);
  if (modelFile === undefined || outdir === undefined) {
    process.stderr.write('usage: node dist/bench/cdk8s.js <model.json> <outdir>\n');
    process.exit(2);
  }
  const model = JSON.parse(fs.readFileSync(modelFile, 'utf8')) as BenchModel;
  fs.rmSync(outdir, { recursive: true, force: true });
  const count = synth(model, outdir);
  process.stdout.write(`cdk8s: synthesized ${count} objects to ${outdir}\n`);
}
