/**
 * Round trip of `policyc import`: a random model is built for Istio, its output (with the Deployments and
 * Services the model describes, as a cluster would have them) is imported, the imported TypeScript is built
 * again, and the second build must decide every request of the widened request space as the first one does.
 * Each import type-checks its generated files (an error would show as a PC1002).
 *
 *   npx tsc -p . && node dist/test/fuzz/import-round-trip.js [count] [seed]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { renderTarget } from '../../compiler/render';
import { PolicyTypeChecker } from '../../compiler/typecheck';
import { hasErrors } from '../../diagnostics/diagnostic';
import { importManifests, type ImportOutcome } from '../../importer/import';
import { describeDifference } from '../../importer/equivalence';
import { manifestsFromFiles } from '../../verify/compare';
import { targets } from '../../meshes';
import type { PolicyModel } from '../../model/model';
import { importablePolicyModelArbitrary } from './random-model';

/** The Deployments and Services a cluster running the model's services has (ports by appProtocol). */
export function workloadObjects(model: PolicyModel): object[] {
  return model.services.flatMap((service) => [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: service.name, namespace: service.namespace },
      spec: {
        selector: { matchLabels: service.selector },
        template: {
          metadata: { labels: service.selector },
          spec: {
            serviceAccountName: service.serviceAccount,
            containers: [{ name: service.name, image: 'example', ports: service.ports.map((p) => ({ containerPort: p.port })) }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: service.name, namespace: service.namespace },
      spec: { selector: service.selector, ports: service.ports.map((p) => ({ name: p.name, port: p.port, appProtocol: p.protocol })) },
    },
  ]);
}

export type RoundTrip = { readonly skipped: string } | { readonly outcome: ImportOutcome; readonly originalNames: readonly string[] };

/** `Kind namespace/name` of every object of rendered files: what `kubectl apply` creates or replaces. */
function objectNames(files: ReadonlyMap<string, string>): string[] {
  return manifestsFromFiles(files)
    .map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)
    .sort();
}

/** Builds the model for Istio, imports the output into `dir`, builds the import and compares. */
export function roundTrip(model: PolicyModel, dir: string, checker?: PolicyTypeChecker): RoundTrip {
  const istio = targets.get('istio');
  if (istio === undefined) throw new Error('no istio target');
  const output = istio.compile(model, { spanOf: () => undefined });
  if (hasErrors(output.diagnostics)) return { skipped: 'the Istio target refuses the model' };
  const files = renderTarget(output, model.entry);
  // The kustomization files by path: a service's file may end in `kustomization.yaml` too (`x-kustomization.yaml`).
  const manifests = [...files].filter(([file]) => file !== 'kustomization.yaml' && file !== 'patches/kustomization.yaml').map(([, text]) => `---\n${text}`);
  const cluster = [...manifests, ...workloadObjects(model).map((o) => `---\n${stringify(o)}`)].join('\n');
  return {
    originalNames: objectNames(files),
    outcome: importManifests({
      texts: [{ file: path.join(dir, 'cluster.yaml'), text: cluster }],
      out: path.join(dir, 'policy'),
      ...(checker === undefined ? {} : { checker }),
    }),
  };
}

/** What went wrong in a round trip, or undefined when the second build is equivalent to the first. */
export function roundTripFailure(result: RoundTrip): string | undefined {
  if ('skipped' in result) return undefined;
  const { outcome } = result;
  const errors = outcome.diagnostics.filter((d) => d.severity === 'error' || d.id === 'import-inexpressible' || d.id === 'import-no-workload');
  if (errors.length > 0) return errors.map((d) => `${d.code} ${d.message}`).join('\n');
  if (outcome.equivalence === undefined) return 'no equivalence check ran';
  // The second build must name its objects as the first did, so applying it replaces them.
  const names = objectNames(outcome.compiled?.outputs.get('istio') ?? new Map());
  if (names.join('\n') !== result.originalNames.join('\n')) return `object names differ: ${result.originalNames.join(', ')} → ${names.join(', ')}`;
  const first = outcome.equivalence.differences[0];
  return first === undefined ? undefined : `${outcome.equivalence.differences.length} differences; first: ${describeDifference(first)}`;
}

export interface RoundTripStats {
  models: number;
  skipped: number;
  requests: number;
  unsupported: number;
}

export function fuzzRoundTrip(count: number, seed: number): RoundTripStats {
  const stats: RoundTripStats = { models: 0, skipped: 0, requests: 0, unsupported: 0 };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-import-fuzz-'));
  const checker = new PolicyTypeChecker();
  try {
    fc.assert(
      fc.property(importablePolicyModelArbitrary, (model) => {
        const dir = path.join(root, String(stats.models));
        stats.models++;
        const result = roundTrip(model, dir, checker);
        fs.rmSync(dir, { recursive: true, force: true });
        if ('skipped' in result) stats.skipped++;
        else {
          stats.requests += result.outcome.equivalence?.checked ?? 0;
          stats.unsupported += result.outcome.equivalence?.unsupported.length ?? 0;
        }
        const failure = roundTripFailure(result);
        if (failure !== undefined) throw new Error(failure);
      }),
      { numRuns: count, seed, endOnFailure: true },
    );
  } finally {
    checker.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  return stats;
}

if (require.main === module) {
  const count = Number(process.argv[2] ?? 1000);
  const seed = Number(process.argv[3] ?? 1);
  const started = Date.now();
  const stats = fuzzRoundTrip(count, seed);
  process.stdout.write(
    `${stats.models} models (seed ${seed}): ${stats.models - stats.skipped} round trips equivalent, ${stats.skipped} refused by the Istio target; ${stats.requests} requests compared, ${stats.unsupported} not simulated; ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
  );
}
