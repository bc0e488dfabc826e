/**
 * The incremental watch's splice (compiler/splice.ts) is exact: over random models and random edits, a target's
 * output made by compiling only the namespaces the edit reaches and splicing them into the previous output renders
 * byte-identical files, and the same diagnostics, as compiling the edited model whole. Edits cover rules, services,
 * namespace postures (Linkerd's per-namespace shared authentications included), mesh-wide settings, a service moved
 * between namespaces and a namespace removed. The random models include mesh-scope ones, where Linkerd shares equal
 * authentications of several namespaces in its control-plane namespace: it splices its per-namespace output and shares
 * over the spliced whole, and that too must equal the full compile.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compileIncrementally } from '../compiler/compile';
import { EmitMemo } from '../compiler/emit-memo';
import { renderTarget } from '../compiler/render';
import { fingerprint, reachedNamespaces } from '../compiler/splice';
import { SourceStore } from '../compiler/sources';
import { validateModel } from '../compiler/check-model';
import { sortDiagnostics, type Span } from '../diagnostics/diagnostic';
import { meshes } from '../meshes';
import type { PolicyModel, RuleModel, ServiceModel, SourceLocation, SourceModel } from '../model/model';
import type { TargetOutput } from '../model/target';
import { policyModelArbitrary } from './fuzz/random-model';
import { model, rule, svc } from './model-builders';

const SEED = 1628;
const MODELS = 200;
const EDITS_PER_MODEL = 6;
const NO_STORE = new SourceStore('/');
const spanOf = (location: SourceLocation | undefined): Span | undefined => (location === undefined ? undefined : { ...location });

/** Every rule and service gets its own place in a source file, so the targets' diagnostics are located. */
function located(model: PolicyModel): PolicyModel {
  let next = 0;
  const at = (): SourceLocation => {
    next += 1;
    return { file: 'policy.ts', line: next, column: 1, start: next * 10, length: 5 };
  };
  return { ...model, services: model.services.map((s) => ({ ...s, location: at() })), rules: model.rules.map((r) => ({ ...r, location: at() })) };
}

type Edit = (model: PolicyModel, pick: (n: number) => number) => PolicyModel | undefined;

const renamed = (source: SourceModel, from: string, to: string): SourceModel => {
  if (source.kind === 'service' && source.service === from) return { ...source, service: to };
  if (source.kind === 'both' && source.identity.kind === 'service' && source.identity.service === from)
    return { ...source, identity: { ...source.identity, service: to } };
  return source;
};

const EDITS: Readonly<Record<string, Edit>> = {
  'change a rule': (m, pick) => {
    if (m.rules.length === 0) return undefined;
    const i = pick(m.rules.length);
    const rule = m.rules[i] as RuleModel;
    const changed: RuleModel =
      pick(2) === 0
        ? { ...rule, action: rule.action === 'allow' ? 'deny' : 'allow' }
        : { ...rule, ports: rule.ports.slice(0, Math.max(1, rule.ports.length - 1)) };
    const { methods: _methods, ...withoutMethods } = changed;
    return { ...m, rules: m.rules.map((r, k) => (k === i ? (pick(3) === 0 ? withoutMethods : changed) : r)) };
  },
  'remove a rule': (m, pick) => (m.rules.length === 0 ? undefined : { ...m, rules: m.rules.filter((_, k) => k !== pick(m.rules.length)) }),
  'add a rule': (m, pick) => {
    if (m.rules.length === 0 || m.services.length === 0) return undefined;
    const rule = m.rules[pick(m.rules.length)] as RuleModel;
    const to = m.services[pick(m.services.length)] as ServiceModel;
    const port = to.ports[0];
    if (port === undefined) return undefined;
    const { methods: _m, paths: _p, headers: _h, ...plain } = rule;
    const added: RuleModel = {
      ...plain,
      id: `added-${pick(1000)}`,
      destination: to.id,
      ports: [port.name],
      location: { file: 'policy.ts', line: 9999, column: 1, start: 99990, length: 5 },
    };
    return { ...m, rules: [...m.rules, added].sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0)) };
  },
  'change a namespace posture': (m, pick) => {
    if (m.namespaces.length === 0) return undefined;
    const i = pick(m.namespaces.length);
    const mtls = (['STRICT', 'PERMISSIVE', undefined] as const)[pick(3)];
    const defaultAction = (['allow', 'deny', undefined] as const)[pick(3)];
    return {
      ...m,
      namespaces: m.namespaces.map((ns, k) => {
        if (k !== i) return ns;
        const { mtls: _mtls, defaultAction: _d, ...rest } = ns;
        return { ...rest, ...(mtls === undefined ? {} : { mtls }), ...(defaultAction === undefined ? {} : { defaultAction }) };
      }),
    };
  },
  'change the mesh': (m, pick) =>
    pick(2) === 0
      ? { ...m, mesh: { ...m.mesh, defaultAction: m.mesh.defaultAction === 'allow' ? 'deny' : 'allow' } }
      : { ...m, mesh: { ...m.mesh, mtls: m.mesh.mtls === 'STRICT' ? 'PERMISSIVE' : 'STRICT' } },
  'change a service': (m, pick) => {
    if (m.services.length === 0) return undefined;
    const i = pick(m.services.length);
    return {
      ...m,
      services: m.services.map((s, k) =>
        k !== i ? s : pick(2) === 0 ? { ...s, serviceAccount: `${s.serviceAccount}-x` } : { ...s, selector: { ...s.selector, edited: 'yes' } },
      ),
    };
  },
  'move a service to another namespace': (m, pick) => {
    if (m.services.length === 0 || m.namespaces.length < 2) return undefined;
    const service = m.services[pick(m.services.length)] as ServiceModel;
    const others = m.namespaces.filter((ns) => ns.name !== service.namespace);
    const to = (others[pick(others.length)] as { name: string }).name;
    const id = `${to}/${service.name}`;
    if (m.services.some((s) => s.id === id)) return undefined;
    const moved: ServiceModel = { ...service, id, namespace: to };
    return {
      ...m,
      services: m.services.map((s) => (s === service ? moved : s)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      rules: m.rules
        .map((r) => ({ ...r, destination: r.destination === service.id ? id : r.destination, sources: r.sources.map((s) => renamed(s, service.id, id)) }))
        .sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0)),
    };
  },
  'remove a namespace': (m, pick) => {
    if (m.namespaces.length < 2) return undefined;
    const gone = (m.namespaces[pick(m.namespaces.length)] as { name: string }).name;
    const ids = new Set(m.services.filter((s) => s.namespace === gone).map((s) => s.id));
    const names = (s: SourceModel): boolean => {
      const identity = s.kind === 'both' ? s.identity : s;
      return (
        (identity.kind === 'service' && ids.has(identity.service)) ||
        ((identity.kind === 'namespace' || identity.kind === 'identity') && identity.namespace === gone)
      );
    };
    return {
      ...m,
      namespaces: m.namespaces.filter((ns) => ns.name !== gone),
      services: m.services.filter((s) => s.namespace !== gone),
      rules: m.rules.filter((r) => !ids.has(r.destination) && !r.sources.some(names)),
    };
  },
};

const rendered = (output: TargetOutput, model: PolicyModel) => [...renderTarget(output, model.entry)];
const diagnosticsOf = (output: TargetOutput) => JSON.stringify(sortDiagnostics(output.diagnostics));

describe('incremental watch: splicing recompiled namespaces into the previous output', () => {
  const models = fc.sample(policyModelArbitrary, { seed: SEED, numRuns: MODELS }).map(located);
  const random = fc.sample(fc.array(fc.nat(1_000_000), { minLength: 64, maxLength: 64 }), { seed: SEED + 1, numRuns: MODELS });

  for (const mesh of meshes.values()) {
    const target = mesh.target;
    it(`${target.name}: the spliced output is byte-identical to a full compile`, () => {
      const spliced = new Map<string, number>();
      let checked = 0;
      models.forEach((model, m) => {
        const numbers = random[m] as number[];
        let cursor = 0;
        const pick = (n: number): number => (numbers[cursor++ % numbers.length] as number) % n;
        for (let e = 0; e < EDITS_PER_MODEL; e++) {
          const [name, edit] = Object.entries(EDITS)[(m + e) % Object.keys(EDITS).length] as [string, Edit];
          const edited = edit(model, pick);
          if (edited === undefined || validateModel(edited, NO_STORE).some((d) => d.severity === 'error')) continue;
          const memo = new EmitMemo();
          const before = compileIncrementally(target, model, fingerprint(model), memo, spanOf);
          const reached = reachedNamespaces(edited, fingerprint(model), fingerprint(edited));
          const incremental = compileIncrementally(target, edited, fingerprint(edited), memo, spanOf);
          const full = target.compile(edited, { spanOf });
          expect({ edit: name, files: rendered(incremental, edited), diagnostics: diagnosticsOf(incremental) }).toEqual({
            edit: name,
            files: rendered(full, edited),
            diagnostics: diagnosticsOf(full),
          });
          checked++;
          // A second edit of the same kind: the session splices into a spliced output, reusing the sub-model's output it kept.
          const again = edit(edited, pick);
          if (again !== undefined && validateModel(again, NO_STORE).every((d) => d.severity !== 'error')) {
            const incrementalAgain = compileIncrementally(target, again, fingerprint(again), memo, spanOf);
            const fullAgain = target.compile(again, { spanOf });
            expect({ edit: `${name} twice`, files: rendered(incrementalAgain, again), diagnostics: diagnosticsOf(incrementalAgain) }).toEqual({
              edit: `${name} twice`,
              files: rendered(fullAgain, again),
              diagnostics: diagnosticsOf(fullAgain),
            });
          }
          // Spliced (not compiled whole): some object of the previous output was kept as it was.
          const kept = new Set(before.objects);
          if (reached !== undefined && reached.size > 0 && incremental.objects.some((o) => kept.has(o))) spliced.set(name, (spliced.get(name) ?? 0) + 1);
        }
      });
      // The property is worth something only if most edits took the incremental path.
      expect(checked).toBeGreaterThan(MODELS * 2);
      // A moved service's ambient warnings (located at the service, naming it) differ between the outputs, so ambient compiles those whole.
      const kinds = ['change a rule', 'remove a rule', 'add a rule', 'change a namespace posture', 'change a service'];
      for (const name of target.name === 'istio-ambient' ? kinds : [...kinds, 'move a service to another namespace'])
        expect([name, (spliced.get(name) ?? 0) > 0]).toEqual([name, true]);
    });
  }
});

describe('incremental watch: Linkerd authentications shared across namespaces', () => {
  it('GIVEN a mesh-scope Linkerd policy whose MeshTLSAuthentication is shared by two namespaces WHEN edits reach one of them THEN only that namespace is compiled again, the sharing is redone over the spliced whole, and the output is the full compile', () => {
    const linkerd = meshes.get('linkerd')?.target;
    const across = linkerd?.acrossNamespaces;
    if (linkerd === undefined || across === undefined) throw new Error('no linkerd target sharing across namespaces');
    const http = { http: { port: 8080, protocol: 'http' as const } };
    const [a, p, x, y] = [svc('shop', 'a', http), svc('pay', 'p', http), svc('clients', 'x', http), svc('clients', 'y', http)];
    const callers: SourceModel[] = [x, y].map((s) => ({ kind: 'service', service: s.id }));
    const shared = [rule('allow', callers, a.id, ['http'], { id: 'a' }), rule('allow', callers, p.id, ['http'], { id: 'p' })];
    const edits = [
      model([a, p, x, y], shared),
      model([a, p, x, y], [...shared, rule('allow', callers, a.id, ['http'], { id: 'get', methods: ['GET'] })]),
      model([a, p, x, y], [...shared, rule('allow', callers, a.id, ['http'], { id: 'post', methods: ['POST'] })]),
      // The last user of the shared object in shop goes: it moves back into pay, under its own name.
      model(
        [a, p, x, y],
        [
          shared[1] as RuleModel,
          rule('allow', [callers[0] as SourceModel], a.id, ['http'], { id: 'a' }),
          rule('allow', [callers[0] as SourceModel], a.id, ['http'], { id: 'post', methods: ['POST'] }),
        ],
      ),
    ];
    // The namespaces of every model the target compiled per namespace (the whole model, or a sub-model of the reached ones).
    const compiled: string[][] = [];
    const counting = {
      ...linkerd,
      acrossNamespaces: {
        ...across,
        compileEach: (m: PolicyModel, context: Parameters<typeof linkerd.compile>[1]) => (
          compiled.push([...new Set(m.rules.map((r) => r.destination.split('/')[0] as string))].sort()),
          across.compileEach(m, context)
        ),
      },
    };
    const memo = new EmitMemo();
    const sharedIn = (output: TargetOutput): string[] =>
      output.objects.filter((o) => o.kind === 'MeshTLSAuthentication').map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    const found: string[][] = [];
    for (const [i, edited] of edits.entries()) {
      compiled.length = 0;
      const incremental = compileIncrementally(counting, edited, fingerprint(edited), memo, spanOf);
      const full = linkerd.compile(edited, { spanOf });
      expect(rendered(incremental, edited)).toEqual(rendered(full, edited));
      expect(diagnosticsOf(incremental)).toEqual(diagnosticsOf(full));
      found.push(sharedIn(incremental).sort());
      // The first build compiles whole; each edit of shop compiles shop's rules alone (before the edit, unless the
      // previous edit reached shop too, and after it).
      expect([i, compiled]).toEqual([i, i === 0 ? [['pay', 'shop']] : i === 1 ? [['shop'], ['shop']] : [['shop']]]);
    }
    expect(found).toEqual([
      ['linkerd/sa-clients-x-sa-clients-y'],
      ['linkerd/sa-clients-x-sa-clients-y'],
      ['linkerd/sa-clients-x-sa-clients-y'],
      ['pay/sa-clients-x-sa-clients-y'],
    ]);
  });
});

describe('incremental watch: what an edit reaches', () => {
  const http = { http: { port: 8080, protocol: 'http' as const } };
  const [a, p] = [svc('shop', 'a', http), svc('pay', 'p', http)];
  const fromShop = rule('allow', [{ kind: 'service', service: a.id }], p.id, ['http'], { id: 'pay-from-shop' });
  const toShop = rule('allow', [{ kind: 'service', service: p.id }], a.id, ['http'], { id: 'shop-from-pay' });
  const before = model([a, p], [fromShop, toShop]);

  it("GIVEN pay's rule names a shop service WHEN only a rule to shop changes THEN pay is not reached (its sub-model holds no rule to shop), and every target's spliced output is the full compile", () => {
    const edited = model([a, p], [fromShop, { ...toShop, methods: ['GET'] }]);
    expect([...(reachedNamespaces(edited, fingerprint(before), fingerprint(edited)) ?? [])]).toEqual(['shop']);
    for (const mesh of meshes.values()) {
      const memo = new EmitMemo();
      compileIncrementally(mesh.target, before, fingerprint(before), memo, spanOf);
      const incremental = compileIncrementally(mesh.target, edited, fingerprint(edited), memo, spanOf);
      const full = mesh.target.compile(edited, { spanOf });
      expect([mesh.target.name, rendered(incremental, edited)]).toEqual([mesh.target.name, rendered(full, edited)]);
    }
  });

  it("GIVEN pay's rule names a shop service WHEN that service's account changes THEN pay is reached too", () => {
    const renamedAccount = { ...a, serviceAccount: 'a-2' };
    const edited = model([renamedAccount, p], [fromShop, toShop]);
    expect([...(reachedNamespaces(edited, fingerprint(before), fingerprint(edited)) ?? [])].sort()).toEqual(['pay', 'shop']);
  });
});
