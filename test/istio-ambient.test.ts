/**
 * The Istio ambient target, through the whole pipeline: GIVEN a small policy, WHEN compiled for ambient, THEN
 * the objects follow ambient's semantics, each test citing the fact of docs/ambient.md (§n) it guards.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compile } from '../compiler/compile';
import { listCrdFiles, loadCrdValidator } from '../compiler/crd-schemas';
import type { Diagnostic } from '../diagnostics/diagnostic';
import type { KubernetesObject } from '../model/target';
import { istioAmbientTarget } from '../targets/istio-ambient';
import { formatProjects } from './golden';
import { runCli, SHARED, tempProject } from './helpers';

const head = `import { allow, deny, anyone, authenticated, identity, ipBlocks, mesh, namespace, service } from 'policyc';
const shop = namespace('shop');
export const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' }, db: { port: 5432, protocol: 'tcp' } } });
export const api = service(shop, 'api', { serviceAccount: 'api-sa', ports: { http: { port: 8080, protocol: 'http' } } });
`;

interface Built {
  readonly objects: KubernetesObject[];
  readonly patches: KubernetesObject[];
  readonly diagnostics: Diagnostic[];
}

function ambient(body: string): Built {
  const dir = tempProject({ 'policy.ts': head + body });
  const result = compile({ entry: path.join(dir, 'policy.ts'), targets: [istioAmbientTarget] });
  const model = result.model;
  assert.ok(model !== undefined, JSON.stringify(result.diagnostics));
  const output = istioAmbientTarget.compile(model, { spanOf: () => undefined });
  // The pipeline adds the CRD check (PC4001) to the target's own diagnostics.
  return { objects: [...output.objects], patches: [...(output.patches ?? [])], diagnostics: [...result.diagnostics] };
}

function find(
  objects: readonly KubernetesObject[],
  kind: string,
  namespace: string | undefined,
  name: string,
): KubernetesObject & { spec: Record<string, unknown> } {
  const found = objects.find((o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.name === name);
  assert.ok(
    found !== undefined,
    `${kind} ${namespace ?? ''}/${name} in ${objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).join(', ')}`,
  );
  return found as KubernetesObject & { spec: Record<string, unknown> };
}

const codes = (built: Built) => built.diagnostics.map((d) => d.code);

describe('Istio ambient target', () => {
  it('docs/ambient.md §2 (a service without a waypoint): GIVEN only L4 rules WHEN compiled THEN a selector policy names the real caller, and no waypoint or label is emitted', () => {
    const built = ambient(`export default mesh({ services: [web, api], rules: [allow(api).to(web, { ports: ['db'] })] });`);
    assert.deepEqual(codes(built), []);
    assert.deepEqual(find(built.objects, 'AuthorizationPolicy', 'shop', 'web-allow').spec, {
      selector: { matchLabels: { app: 'web' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/api-sa'] } }], to: [{ operation: { ports: ['5432'] } }] }],
    });
    assert.equal(
      built.objects.some((o) => o.kind === 'Gateway'),
      false,
    );
    assert.deepEqual(
      built.patches.map((p) => `${p.kind} ${p.metadata.name}`),
      ['Namespace shop'],
    );
  });

  it('docs/ambient.md §1: GIVEN any policy WHEN compiled THEN every namespace is patched into the ambient data plane', () => {
    const built = ambient(`export default mesh({ services: [web, api], rules: [] });`);
    assert.deepEqual(find(built.patches, 'Namespace', undefined, 'shop').metadata.labels, { 'istio.io/dataplane-mode': 'ambient' });
  });

  it('docs/ambient.md §3, §4: GIVEN a rule with methods and paths WHEN compiled THEN it attaches to the Service with targetRefs, never with a selector, and the service is labelled to use a waypoint Gateway', () => {
    const built = ambient(
      `export default mesh({ services: [web, api], rules: [allow(api).to(web, { ports: ['http'], methods: ['GET'], paths: ['/api/*'] })] });`,
    );
    assert.deepEqual(codes(built), []);
    assert.deepEqual(find(built.objects, 'AuthorizationPolicy', 'shop', 'web-allow').spec, {
      targetRefs: [{ group: '', kind: 'Service', name: 'web' }],
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { principals: ['cluster.local/ns/shop/sa/api-sa'] } }],
          to: [{ operation: { ports: ['8080'], methods: ['GET'], paths: ['/api/*'] } }],
        },
      ],
    });
    // No policy enforced by ztunnel carries an HTTP field (§3).
    for (const o of built.objects.filter((x) => x.kind === 'AuthorizationPolicy' && (x['spec'] as Record<string, unknown>)['targetRefs'] === undefined)) {
      assert.doesNotMatch(JSON.stringify(o), /methods|paths/, o.metadata.name);
    }
    const gateway = find(built.objects, 'Gateway', 'shop', 'waypoint');
    assert.equal(gateway.spec['gatewayClassName'], 'istio-waypoint');
    assert.deepEqual(find(built.patches, 'Service', 'shop', 'web').metadata.labels, { 'istio.io/use-waypoint': 'waypoint' });
    assert.equal(
      built.patches.some((p) => p.kind === 'Service' && p.metadata.name === 'api'),
      false,
      'api has no L7 rule, so it keeps ztunnel enforcement with real identities',
    );
  });

  it("docs/ambient.md §5: GIVEN a service behind a waypoint WHEN compiled THEN its ztunnel policy admits the waypoint's identity, not the caller's", () => {
    const built = ambient(
      `export default mesh({ trustDomain: 'corp.example', services: [web, api], rules: [allow(api).to(web, { ports: ['http'], methods: ['GET'] })] });`,
    );
    assert.deepEqual(find(built.objects, 'AuthorizationPolicy', 'shop', 'web-ztunnel-admit').spec, {
      selector: { matchLabels: { app: 'web' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['corp.example/ns/shop/sa/waypoint'] } }] }],
    });
  });

  it('docs/ambient.md §4: GIVEN deny by default and a waypoint service with only deny rules WHEN compiled THEN the waypoint still gets an ALLOW policy without rules', () => {
    const built = ambient(`export default mesh({ services: [web, api], rules: [deny(api).to(web, { ports: ['http'], paths: ['/admin/*'] })] });`);
    assert.deepEqual(find(built.objects, 'AuthorizationPolicy', 'shop', 'web-allow').spec, {
      targetRefs: [{ group: '', kind: 'Service', name: 'web' }],
      action: 'ALLOW',
    });
  });

  it('docs/ambient.md §6 (DISABLE ignored): GIVEN a service with mTLS DISABLE WHEN compiled THEN PC4201 says to write PERMISSIVE', () => {
    const built = ambient(
      `export const legacy = service(shop, 'legacy', { mtls: 'DISABLE', ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [web, api, legacy], rules: [] });`,
    );
    const disable = built.diagnostics.find((d) => d.code === 'PC4201');
    assert.ok(disable !== undefined, JSON.stringify(built.diagnostics));
    assert.match(disable.message, /shop\/legacy .*ignores.*PERMISSIVE/);
    assert.ok(disable.span !== undefined, 'the error points at the service');
  });

  it('docs/ambient.md §6: GIVEN a port-level mTLS mode WHEN compiled THEN it is emitted as portLevelMtls and PC4202 warns about the Istio version', () => {
    const built = ambient(
      `export const metrics = service(shop, 'metrics', { ports: { scrape: { port: 9102, protocol: 'http', mtls: 'PERMISSIVE' } } });\nexport default mesh({ services: [web, api, metrics], rules: [] });`,
    );
    assert.deepEqual(codes(built), ['PC4202']);
    assert.equal(built.diagnostics[0]?.severity, 'warning');
    assert.deepEqual(find(built.objects, 'PeerAuthentication', 'shop', 'metrics-mtls').spec, {
      selector: { matchLabels: { app: 'metrics' } },
      portLevelMtls: { '9102': { mode: 'PERMISSIVE' } },
    });
  });

  it('docs/ambient.md §7 (plaintext clients): GIVEN a permissive waypoint service whose L7 rule admits plaintext clients WHEN compiled THEN PC4203 says to make it STRICT', () => {
    const built = ambient(
      `export const open = service(shop, 'open', { mtls: 'PERMISSIVE', ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [web, api, open], rules: [allow(anyone).to(open, { ports: ['http'], methods: ['GET'] })] });`,
    );
    const plaintext = built.diagnostics.find((d) => d.code === 'PC4203');
    assert.ok(plaintext !== undefined, JSON.stringify(built.diagnostics));
    assert.match(plaintext.message, /plaintext clients do not pass through the waypoint.*STRICT/);
  });

  it('docs/ambient.md §7: GIVEN a permissive waypoint service with an L4 rule for an IP block WHEN compiled THEN its ztunnel admits plaintext clients of that block only, never mesh callers', () => {
    const built = ambient(
      `export const open = service(shop, 'open', { mtls: 'PERMISSIVE', ports: { http: { port: 80, protocol: 'http' } } });\n` +
        `export default mesh({ services: [web, api, open], rules: [allow(ipBlocks('10.0.0.0/8')).to(open, { ports: ['http'] }), allow(api).to(open, { ports: ['http'], methods: ['GET'] })] });`,
    );
    assert.deepEqual(codes(built), []);
    assert.deepEqual(find(built.objects, 'AuthorizationPolicy', 'shop', 'open-ztunnel-admit').spec['rules'], [
      { from: [{ source: { principals: ['cluster.local/ns/shop/sa/waypoint'] } }] },
      { from: [{ source: { notPrincipals: ['*'], ipBlocks: ['10.0.0.0/8'] } }], to: [{ operation: { ports: ['80'] } }] },
    ]);
  });

  it("docs/ambient.md §4: GIVEN a service running as 'waypoint' in a namespace that gets a waypoint WHEN compiled THEN PC4204", () => {
    const built = ambient(
      `export const odd = service(shop, 'odd', { serviceAccount: 'waypoint', ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [web, api, odd], rules: [allow(api).to(web, { ports: ['http'], methods: ['GET'] })] });`,
    );
    assert.deepEqual(codes(built), ['PC4204']);
  });

  it('docs/ambient.md §2: GIVEN every source kind WHEN compiled for ztunnel THEN principals (a namespace as its trust-domain principal) and IP blocks are separate ORed entries, authenticated is principals ["*"] and anyone has no from', () => {
    const built = ambient(
      `export default mesh({ services: [web, api], rules: [allow(api, namespace('ops'), ipBlocks('10.0.0.0/8')).to(web, { ports: ['db'] }), allow(authenticated).to(api, { ports: ['http'] }), allow(anyone).to(web, { ports: ['http'] })] });`,
    );
    assert.deepEqual(codes(built), []);
    // One rule per model rule, in the model's rule order (by content id).
    const webRules = find(built.objects, 'AuthorizationPolicy', 'shop', 'web-allow').spec['rules'] as unknown[];
    assert.equal(webRules.length, 2);
    assert.ok(webRules.some((r) => JSON.stringify(r) === JSON.stringify({ to: [{ operation: { ports: ['8080'] } }] })));
    assert.ok(
      webRules.some(
        (r) =>
          JSON.stringify(r) ===
          JSON.stringify({
            from: [{ source: { principals: ['cluster.local/ns/ops/sa/*', 'cluster.local/ns/shop/sa/api-sa'] } }, { source: { ipBlocks: ['10.0.0.0/8'] } }],
            to: [{ operation: { ports: ['5432'] } }],
          }),
      ),
    );
    assert.deepEqual(find(built.objects, 'AuthorizationPolicy', 'shop', 'api-allow').spec['rules'], [
      { from: [{ source: { principals: ['*'] } }], to: [{ operation: { ports: ['8080'] } }] },
    ]);
    assert.ok(built.objects.some((o) => o.metadata.name === 'allow-nothing' && o.metadata.namespace === 'shop'));
  });

  it('docs/ambient.md §2, §4: GIVEN defaultAction allow WHEN compiled THEN no allow-nothing or ALLOW policy for callers, deny rules keep their ports, and the waypoint service still admits only its waypoint at ztunnel', () => {
    const built = ambient(
      `export default mesh({ defaultAction: 'allow', services: [web, api], rules: [deny(identity('x', 'y')).to(web, { ports: ['db'] }), deny(api).to(web, { ports: ['http'], methods: ['DELETE'] })] });`,
    );
    assert.deepEqual(codes(built), []);
    const names = built.objects.filter((o) => o.kind === 'AuthorizationPolicy').map((o) => o.metadata.name);
    assert.deepEqual(names.sort(), ['web-deny', 'web-ztunnel-admit']);
    // web has an L7 rule, so both deny rules go to its waypoint, each scoped by ports.
    assert.deepEqual(find(built.objects, 'AuthorizationPolicy', 'shop', 'web-deny').spec, {
      targetRefs: [{ group: '', kind: 'Service', name: 'web' }],
      action: 'DENY',
      rules: [
        { from: [{ source: { principals: ['cluster.local/ns/x/sa/y'] } }], to: [{ operation: { ports: ['5432'] } }] },
        { from: [{ source: { principals: ['cluster.local/ns/shop/sa/api-sa'] } }], to: [{ operation: { ports: ['8080'], methods: ['DELETE'] } }] },
      ],
    });
  });

  it('docs/ambient.md §4: GIVEN a gRPC method rule WHEN compiled THEN the waypoint policy matches the path /pkg.Service/Method with POST', () => {
    const built = ambient(
      `export const rpc = service(shop, 'rpc', { ports: { grpc: { port: 9090, protocol: 'grpc' } } });\nexport default mesh({ services: [web, api, rpc], rules: [allow(api).to(rpc, { ports: ['grpc'], methods: ['POST'], paths: ['/pkg.Svc/*'] })] });`,
    );
    assert.deepEqual(codes(built), []);
    assert.deepEqual(find(built.objects, 'AuthorizationPolicy', 'shop', 'rpc-allow').spec['rules'], [
      {
        from: [{ source: { principals: ['cluster.local/ns/shop/sa/api-sa'] } }],
        to: [{ operation: { ports: ['9090'], methods: ['POST'], paths: ['/pkg.Svc/*'] } }],
      },
    ]);
  });

  it('docs/ambient.md §6: GIVEN mesh, namespace and workload modes WHEN compiled THEN one PeerAuthentication per level, the mesh one in the root namespace without selector', () => {
    const built = ambient(
      `const ops = namespace('ops', { mtls: 'PERMISSIVE' });\nexport const tool = service(ops, 'tool', { mtls: 'STRICT', ports: { http: { port: 80, protocol: 'http' } } });\nexport default mesh({ services: [web, api, tool], rules: [] });`,
    );
    assert.deepEqual(find(built.objects, 'PeerAuthentication', 'istio-system', 'default').spec, { mtls: { mode: 'STRICT' } });
    assert.deepEqual(find(built.objects, 'PeerAuthentication', 'ops', 'default').spec, { mtls: { mode: 'PERMISSIVE' } });
    assert.deepEqual(find(built.objects, 'PeerAuthentication', 'ops', 'tool-mtls').spec, {
      selector: { matchLabels: { app: 'tool' } },
      mtls: { mode: 'STRICT' },
    });
  });

  it('docs/ambient.md §7: GIVEN the shop change that lets plaintext clients GET /metrics WHEN diffed for every target THEN the ambient refusal PC4203 is the answer, and istio,linkerd still diff', () => {
    const project = formatProjects().shopChange;
    const all = runCli(['diff', 'old/policy.ts', 'new/policy.ts', '--target', 'all', '--format', 'json'], project);
    assert.equal(all.exit, 1);
    assert.match(all.stdout, /PC4203/);
    const two = runCli(['diff', 'old/policy.ts', 'new/policy.ts', '--target', 'istio,linkerd'], project);
    assert.equal(two.exit, 0, two.stderr);
    assert.match(two.stdout, /WIDENED {2}anyone → shop\/payments:metrics/);
  });

  it('GIVEN a deleted call WHEN its rollout note is read THEN it names both ambient enforcement points', () => {
    const note = istioAmbientTarget.revocationNote({ id: 'shop/web', namespace: 'shop', name: 'web' }, []);
    assert.match(note, /ztunnel .*shop\/web.*waypoint in shop/);
  });

  (fs.existsSync(path.join(SHARED, 'crds')) ? it : it.skip)(
    'GIVEN L4, L7, deny and plaintext rules WHEN compiled THEN every object passes the real Istio and Gateway API CRDs of ../shared/crds',
    () => {
      const built = ambient(
        `export const open = service(shop, 'open', { mtls: 'PERMISSIVE', ports: { http: { port: 80, protocol: 'http' } } });\n` +
          `export default mesh({ services: [web, api, open], rules: [allow(api).to(web, { ports: ['http'], methods: ['GET'], paths: ['/a/*'] }), allow(authenticated).to(web, { ports: ['db'] }), deny(identity('x', 'y')).to(web, { ports: ['db'] }), allow(anyone).to(open, { ports: ['http'] }), allow(api).to(open, { ports: ['http'], methods: ['GET'] }), deny(ipBlocks('10.0.0.0/8')).to(open, { ports: ['http'] })] });`,
      );
      assert.deepEqual(
        built.diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
      const validator = loadCrdValidator(['istio', 'gateway-api'].flatMap((set) => listCrdFiles(path.join(SHARED, 'crds', set))));
      const custom = built.objects.filter((o) => o.apiVersion.includes('.'));
      assert.ok(custom.some((o) => o.kind === 'Gateway') && custom.some((o) => o.metadata.name === 'open-ztunnel-refuse'));
      for (const object of custom) assert.deepEqual(validator.validate(object), [], `${object.kind} ${object.metadata.name}`);
    },
  );
});
