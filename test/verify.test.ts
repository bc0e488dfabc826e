/**
 * Prove every build: the model's access equals what each simulated mesh enforces from the emitted YAML.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PolicyModel } from '../model/model';
import type { KubernetesObject, Target } from '../model/target';
import { istioTarget } from '../targets/istio';
import { SourceStore } from '../compiler/sources';
import { checkModel, fuzz } from './fuzz/fuzz';
import { verificationDiagnostics } from '../verify/verify-build';
import { verify } from '../verify/compare';
import { examples } from './golden';
import { REPO, runCli, tempProject, readTree } from './helpers';

describe('policyc verify', () => {
  for (const example of examples().filter((e) => !e.broken)) {
    // An example that names its targets (examples/gateway) is verified for those.
    const targets =
      example.buildArgs[example.buildArgs.length - 1] === 'all' ? ['istio', 'linkerd', 'istio-ambient'] : (example.buildArgs.at(-1) ?? '').split(',');
    it(`${example.name}: every request decides the same in the model and in ${targets.join(', ')}, and its assertions hold`, () => {
      const run = runCli(['verify', '--target', targets.join(',')], example.dir);
      assert.equal(run.exit, 0, run.stderr);
      for (const target of targets) assert.match(run.stdout, new RegExp(`${target}: \\d+ requests checked, 0 mismatches, 0 not simulated`));
    });
  }

  it('GIVEN an assertion that does not hold THEN it is a PC4004 error at the assertion, for the model and each target', () => {
    const shop = path.join(REPO, 'examples', 'shop');
    const dir = tempProject(Object.fromEntries([...readTree(shop)].filter(([f]) => f.endsWith('.ts'))));
    const policy = path.join(dir, 'policy.ts');
    const text = fs.readFileSync(policy, 'utf8').replace('neverReaches(frontend, payments),', 'neverReaches(checkout, payments),');
    fs.writeFileSync(policy, text);
    const line = text.split('\n').findIndex((l) => l.includes('neverReaches(checkout, payments)')) + 1;
    const run = runCli(['verify', '--target', 'all', '--format', 'json'], dir);
    assert.equal(run.exit, 1);
    const { diagnostics } = JSON.parse(run.stdout) as { diagnostics: { code: string; message: string; span?: { line: number } }[] };
    const failed = diagnostics.filter((d) => d.code === 'PC4004');
    assert.deepEqual(
      failed.map((d) => d.span?.line),
      [line, line, line, line],
    );
    assert.ok(failed.some((d) => d.message.includes('In the policy')) && failed.some((d) => d.message.includes('linkerd output')));
  });

  it('GIVEN a deliberately broken Istio target (DENY rules lose their ports) THEN the verifier catches the wrong output', () => {
    const dropPorts: Target = {
      ...istioTarget,
      compile: (model, context) => {
        const output = istioTarget.compile(model, context);
        const objects = output.objects.map((o) => {
          const spec = o['spec'] as { action?: string; rules?: { to?: { operation: Record<string, unknown> }[] }[] } | undefined;
          if (spec?.action !== 'DENY') return o;
          const rules = spec.rules?.map((r) => ({
            ...r,
            to: r.to?.map((t) => ({ operation: Object.fromEntries(Object.entries(t.operation).filter(([k]) => k !== 'ports')) })),
          }));
          return { ...o, spec: { ...spec, rules } } as KubernetesObject;
        });
        return { ...output, objects };
      },
    };
    const model: PolicyModel = {
      version: 1,
      entry: 'broken-target.ts',
      mesh: { trustDomain: 'cluster.local', mtls: 'STRICT', defaultAction: 'deny', rootNamespace: 'istio-system' },
      namespaces: [{ name: 'shop' }],
      services: [
        {
          id: 'shop/api',
          namespace: 'shop',
          name: 'api',
          serviceAccount: 'api',
          selector: { app: 'api' },
          ports: [
            { name: 'http', port: 8080, protocol: 'http' },
            { name: 'db', port: 5432, protocol: 'tcp' },
          ],
        },
        {
          id: 'shop/web',
          namespace: 'shop',
          name: 'web',
          serviceAccount: 'web',
          selector: { app: 'web' },
          ports: [{ name: 'http', port: 80, protocol: 'http' }],
        },
      ],
      rules: [
        { id: 'a', action: 'allow', sources: [{ kind: 'service', service: 'shop/web' }], destination: 'shop/api', ports: ['db', 'http'] },
        { id: 'd', action: 'deny', sources: [{ kind: 'anyone' }], destination: 'shop/api', ports: ['http'], paths: [{ kind: 'prefix', value: '/admin/' }] },
      ],
    };
    assert.doesNotThrow(() => checkModel(model, undefined, [istioTarget]));
    // Without ports, Istio's TCP chain drops the path and the DENY denies every TCP connection: an outage the verifier names.
    assert.throws(() => checkModel(model, undefined, [dropPorts]), /istio: \d+ mismatches; first: shop\/web .* → shop\/api:5432: model allows/);
  });

  it('GIVEN a simulator that cannot model a request THEN verify says so with PC4003, and reports differences with PC4002', () => {
    const model: PolicyModel = {
      version: 1,
      entry: 'x.ts',
      mesh: { trustDomain: 'cluster.local', mtls: 'STRICT', defaultAction: 'deny', rootNamespace: 'istio-system' },
      namespaces: [{ name: 'a' }],
      services: [{ id: 'a/s', namespace: 'a', name: 's', serviceAccount: 's', selector: { app: 's' }, ports: [{ name: 'db', port: 5432, protocol: 'tcp' }] }],
      rules: [],
    };
    const store = new SourceStore('/');
    const unsure = verify(model, [], {
      name: 'unsure',
      decide: () => ({ verdict: 'unsupported', reason: 'no idea', objects: [] }),
      distinctions: () => ({}),
      clientKey: () => '',
      operationKey: () => '',
    });
    assert.deepEqual(
      verificationDiagnostics('unsure', model, unsure, store).map((d) => d.code),
      ['PC4003'],
    );
    const open = verify(model, [], {
      name: 'open',
      decide: () => ({ verdict: 'allow', reason: 'allows all', objects: [] }),
      distinctions: () => ({}),
      clientKey: () => '',
      operationKey: () => '',
    });
    const codes = verificationDiagnostics('open', model, open, store);
    assert.ok(codes.length > 0 && codes.every((d) => d.code === 'PC4002'));
    assert.match(codes[0]?.message ?? '', /ALLOWED by the emitted objects .* but the policy denies it .*over-permits/);
  });

  it('replays every committed regression model', () => {
    const dir = path.join(REPO, 'test', 'regressions');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0);
    for (const file of files) {
      const { model } = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { model: PolicyModel };
      assert.doesNotThrow(() => checkModel(model), file);
    }
  });

  it('finds no mismatch on 150 random models (fixed seed; `npm run fuzz -- <count> <seed>` for long runs)', () => {
    const stats = fuzz(150, 20261128);
    assert.equal(stats.models, 150);
    // Each target must still verify a good share: Linkerd refuses most random models by design (DISABLE, denies it
    // cannot subtract, raw-path denies, gateways, remoteIpBlocks, audited STRICT ports, JWT) and ambient many (gateways,
    // non-Kubernetes SPIFFE IDs, JWT, per-port defaultActions), each with its diagnostic.
    assert.ok(
      (stats.verified['istio'] ?? 0) > 100 && (stats.verified['linkerd'] ?? 0) > 20 && (stats.verified['istio-ambient'] ?? 0) > 20,
      JSON.stringify(stats),
    );
  });
});
