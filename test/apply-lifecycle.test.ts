/**
 * The apply/prune lifecycle (README "Applying the output"): what `kubectl kustomize` renders from a build is
 * exactly the build's objects, every one labelled for `--prune -l`; removing a rule leaves none of its objects
 * in the rendered set (so a pruning apply deletes them); widening a grant edits objects in place. And the
 * README's prune allow-lists are the kinds the targets emit.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { MANAGED_BY_LABEL, SOURCE_ANNOTATION, allowlistKind } from '../model/target';
import { targets } from '../meshes';
import { REPO, readTree, runCli, tempProject } from './helpers';

const KUBECTL = '/usr/bin/kubectl';
const hasKubectl = fs.existsSync(KUBECTL);

const SERVICES = `import { namespace, service } from 'policyc';
export const shop = namespace('shop');
export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });
export const api = service(shop, 'api', { ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });
export const ops = service(shop, 'ops', { ports: { http: { port: 8080, protocol: 'http' } } });
`;

function policy(rules: readonly string[]): string {
  return `import { allow, mesh } from 'policyc';
import { api, ops, web } from './services';
export default mesh({
  scope: 'namespaces',
  services: [web, api, ops],
  rules: [
${rules.map((r) => `    ${r},`).join('\n')}
  ],
});
`;
}

const KEEP = "allow(web).to(api, { ports: ['http'], methods: ['GET'], paths: ['/api/*'] })";
const REMOVED = "allow(ops).to(api, { ports: ['db'] })";

interface Rendered {
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
}

/** Builds the policy for every target into a fresh folder; returns the output folder. */
function build(rules: readonly string[]): string {
  const dir = tempProject({ 'services.ts': SERVICES, 'policy.ts': policy(rules) });
  const run = runCli(['build', 'policy.ts', '--target', 'all', '--out', 'manifests'], dir);
  expect(run.exit).toBe(0);
  return path.join(dir, 'manifests');
}

/** `kubectl kustomize` of a target folder (offline: it only reads the folder). */
function kustomize(folder: string): Rendered[] {
  const text = execFileSync(KUBECTL, ['kustomize', folder], { encoding: 'utf8' });
  return parseAllDocuments(text).map((d) => d.toJS() as Rendered);
}

const key = (o: Rendered): string => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** The objects of a target folder's files (kustomization files and patches excepted). */
function objectsInFiles(folder: string): string[] {
  return [...readTree(folder)]
    .filter(([f]) => f.endsWith('.yaml') && !f.startsWith('patches/') && f !== 'kustomization.yaml')
    .flatMap(([, text]) => parseAllDocuments(text).map((d) => key(d.toJS() as Rendered)))
    .sort();
}

/** The objects of one file of a target folder. */
function objectsInFile(folder: string, file: string): string[] {
  return parseAllDocuments(fs.readFileSync(path.join(folder, file), 'utf8')).map((d) => key(d.toJS() as Rendered));
}

(hasKubectl ? describe : describe.skip)('apply and prune with kubectl kustomize (kubectl at /usr/bin/kubectl)', () => {
  // `kubectl apply --dry-run=client -k` needs a cluster (it asks the API server for the kinds' REST mappings),
  // so the rendered set is taken from `kubectl kustomize`, which is what `apply -k` sends.
  it('GIVEN a build WHEN rendered with kubectl kustomize THEN the set is exactly the emitted files, each object labelled and annotated', () => {
    const out = build([KEEP, REMOVED]);
    for (const target of targets.values()) {
      const folder = path.join(out, target.name);
      const rendered = kustomize(folder).filter((o) => o.kind !== 'Namespace' && o.kind !== 'Service');
      expect(rendered.map(key).sort()).toEqual(objectsInFiles(folder));
      for (const o of rendered) {
        expect(o.metadata.labels?.[MANAGED_BY_LABEL]).toBe('policyc');
        expect(o.metadata.annotations?.[SOURCE_ANNOTATION]).toMatch(/^[a-z]+\.ts: /);
      }
    }
  });

  it('GIVEN a rule removed WHEN rebuilt and rendered THEN no object of the removed grant remains, and only its objects left', () => {
    const before = build([KEEP, REMOVED]);
    const after = build([KEEP]);
    for (const target of targets.values()) {
      const old = kustomize(path.join(before, target.name));
      const now = kustomize(path.join(after, target.name));
      // Nothing that grants ops remains (no object names its identity, no object comes from the removed rule).
      for (const o of now) {
        // ops's identity as each mesh spells it: Istio principal, Linkerd identity string or ServiceAccount ref.
        expect(JSON.stringify(o)).not.toMatch(/sa\/ops"|ops\.shop\.serviceaccount|"kind":"ServiceAccount","name":"ops"/);
        expect(o.metadata.annotations?.[SOURCE_ANNOTATION] ?? '').not.toMatch(/allow\(shop\/ops\)/);
      }
      // What a pruning apply deletes: objects of the old set missing from the new one, all from the removed rule.
      const gone = old.filter((o) => !now.some((n) => key(n) === key(o)));
      for (const o of gone) expect(o.metadata.annotations?.[SOURCE_ANNOTATION]).toMatch(/allow\(shop\/ops\) to shop\/api/);
      if (target.name === 'linkerd') expect(gone.map(key)).toEqual(['AuthorizationPolicy shop/api-db']);
    }
  });

  it('GIVEN a mesh-scope Linkerd build with an authentication shared by several namespaces WHEN rendered THEN the kustomization applies it in the control-plane namespace, labelled for prune', () => {
    // examples/platform: its probe networks are one NetworkAuthentication for four namespaces (targets/linkerd/share.ts).
    const folder = path.join(REPO, 'examples', 'platform', 'manifests', 'linkerd');
    const rendered = kustomize(folder).filter((o) => o.kind !== 'Namespace' && o.kind !== 'Service');
    expect(rendered.map(key).sort()).toEqual(objectsInFiles(folder));
    const shared = rendered.filter((o) => o.metadata.namespace === 'linkerd');
    expect(shared.map(key)).toEqual(['NetworkAuthentication linkerd/linkerd-proxy-admin-probes-networks']);
    expect(shared[0]?.metadata.labels?.[MANAGED_BY_LABEL]).toBe('policyc');
  });

  it('GIVEN a grant widened by a caller and by a method WHEN rebuilt THEN objects change in place: same names, none deleted', () => {
    const base = build([KEEP, REMOVED]);
    const widened = [
      build(["allow(web, ops).to(api, { ports: ['http'], methods: ['GET'], paths: ['/api/*'] })", REMOVED]),
      build(["allow(web).to(api, { ports: ['http'], methods: ['GET', 'POST'], paths: ['/api/*'] })", REMOVED]),
    ];
    for (const target of targets.values()) {
      const old = kustomize(path.join(base, target.name)).map(key);
      for (const out of widened) {
        const now = new Set(kustomize(path.join(out, target.name)).map(key));
        expect(old.filter((k) => !now.has(k))).toEqual([]);
      }
    }
    // On Linkerd the caller's route and its authorization are the same objects, edited, in their service's file.
    const linkerd = (out: string) => new Map(kustomize(path.join(out, 'linkerd')).map((o) => [key(o), JSON.stringify(o)]));
    const route = 'HTTPRoute shop/api-http-api';
    const authorization = 'AuthorizationPolicy shop/api-http-api';
    expect(linkerd(base).get(route)).toBeDefined();
    expect(linkerd(widened[1] as string).get(route)).not.toEqual(linkerd(base).get(route));
    expect(linkerd(widened[0] as string).get(authorization)).not.toEqual(linkerd(base).get(authorization));
    expect(objectsInFile(path.join(base, 'linkerd'), 'shop/api.yaml')).toEqual(expect.arrayContaining([route, authorization]));
  });
});

describe('the prune allow-lists of README "Applying the output"', () => {
  it('GIVEN each target WHEN the README lists its kinds THEN they are exactly the kinds it declares, and the examples emit only those', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    for (const target of targets.values()) {
      const line = readme.split('\n').find((l) => l.startsWith(`| \`${target.name}\` |`));
      expect(line).toBeDefined();
      const listed = [...(line as string).matchAll(/--prune-allowlist=([^\s`]+)/g)].map((m) => m[1]);
      expect(listed).toEqual([...target.kinds]);
    }
    for (const example of ['shop', 'simple']) {
      for (const target of targets.values()) {
        const folder = path.join(REPO, 'examples', example, 'manifests', target.name);
        for (const [file, text] of readTree(folder)) {
          if (!file.endsWith('.yaml') || file.startsWith('patches/') || file === 'kustomization.yaml') continue;
          for (const doc of parseAllDocuments(text)) {
            const o = doc.toJS() as { apiVersion: string; kind: string };
            expect(target.kinds).toContain(allowlistKind(o));
          }
        }
      }
    }
  });
});
