/**
 * The incremental model (compiler/model-memo.ts) is exact: over random policies and random sequences of edits, the
 * model, its diagnostics, the validator's diagnostics (in their order) and the fingerprint that a session builds
 * from its memo equal those of a cold build of the same export. The edits do what an evaluator session's export
 * does between builds: declarations changed in place (the session patches objects it sends again, nested ones
 * included), replaced by new objects equal or not (a re-run module), inserted and removed (positions move), sites
 * moved, a file's text changed without moving a site (locations move), services left out or listed twice, values
 * the schema or the validator refuses, namespace postures and mesh-wide settings; and a whole new export of equal
 * content (a cold evaluation, as `policyc lsp` makes on every change).
 *
 * The end-to-end test drives `compile` as `policyc build --watch` does (evaluator session and memo) through
 * one-line edits of a generated repository and compares the model, the diagnostics and every output file with a
 * cold compile.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate } from '../bench/generate';
import { buildModel } from '../compiler/build-model';
import { validateModel } from '../compiler/check-model';
import { compile } from '../compiler/compile';
import { EmitMemo } from '../compiler/emit-memo';
import { EvaluatorSession } from '../compiler/evaluate';
import { ModelMemo } from '../compiler/model-memo';
import { fingerprint } from '../compiler/splice';
import { SourceStore } from '../compiler/sources';
import { PolicyTypeChecker } from '../compiler/typecheck';
import * as dsl from '../dsl';
import { targets as targetRegistry } from '../meshes';
import type { SourceLocation } from '../model/model';
import { offsetOf } from '../diagnostics/diagnostic';

type Data = Record<string, unknown>;

/** A deterministic pseudo-random sequence (a failure repeats with its seed). */
function random(seed: number): { next: () => number; pick: <T>(items: readonly T[]) => T; int: (n: number) => number } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)] as T };
}

const PROTOCOLS = ['http', 'grpc', 'tcp'] as const;
const METHODS = ['GET', 'POST', 'PUT'] as const;

/** A random policy made by the DSL, as the evaluator hands it over: plain objects, shared where the policy shares them. */
function randomExport(r: ReturnType<typeof random>): Data {
  const namespaces = Array.from({ length: 1 + r.int(3) }, (_, i) =>
    dsl.namespace(`ns-${i}`, {
      ...(r.next() < 0.3 ? { mtls: r.pick(['STRICT', 'PERMISSIVE'] as const) } : {}),
      ...(r.next() < 0.2 ? { defaultAction: r.pick(['allow', 'deny'] as const) } : {}),
    }),
  );
  const services = Array.from({ length: 2 + r.int(6) }, (_, i) => {
    const ports: Record<string, { port: number; protocol: (typeof PROTOCOLS)[number] }> = {};
    for (let p = 0; p <= r.int(2); p++) ports[['http', 'grpc', 'sql'][p] as string] = { port: 8080 + p, protocol: r.pick(PROTOCOLS) };
    // A few share a selector, so selectors overlap now and then.
    return dsl.service(r.pick(namespaces), `svc-${i}`, { ports, selector: { app: `a${r.int(5)}` } });
  });
  const issuer = dsl.jwtIssuer({ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/keys' });
  const rules = Array.from({ length: 4 + r.int(14) }, () => randomRule(r, services, issuer));
  return structuredClone(dsl.mesh({ namespaces, services, rules })) as unknown as Data;
}

function randomRule(r: ReturnType<typeof random>, services: readonly unknown[], issuer: ReturnType<typeof dsl.jwtIssuer>): dsl.AccessRule {
  const source = (): dsl.Source => {
    const roll = r.next();
    if (roll < 0.45) return r.pick(services) as dsl.AnyService;
    if (roll < 0.6) return dsl.identity('ns-0', `sa-${r.int(3)}`);
    if (roll < 0.7) return dsl.anyone;
    if (roll < 0.8) return dsl.ipBlocks(r.pick(['10.0.0.0/8', '10.1.0.0/16', '192.168.0.1']));
    if (roll < 0.9) return dsl.authenticated;
    return dsl.requestIdentity(issuer, { subject: `user-${r.int(2)}` });
  };
  const from: [dsl.Source, ...dsl.Source[]] = [source()];
  if (r.next() < 0.3) from.push(source());
  const options = {
    ...(r.next() < 0.3 ? { ports: ['http'] } : {}),
    ...(r.next() < 0.3 ? { methods: [r.pick(METHODS)] } : {}),
    ...(r.next() < 0.4 ? { paths: [r.pick(['/a', '/a/*', '/b/*'])] } : {}),
  };
  const to = r.pick(services) as dsl.AnyService;
  return (r.next() < 0.8 ? dsl.allow(...from) : dsl.deny(...from)).to(to, options as never);
}

/** Each declaration gets its own site in one of three modules, as the evaluator records them. */
function placeDeclarations(exported: Data): void {
  let line = 1;
  const place = (declaration: unknown): void => {
    const d = declaration as Data;
    d['site'] = { file: `policyc-module-${line % 3}`, line: line++, column: 3 };
  };
  for (const list of ['namespaces', 'services', 'rules'] as const) {
    for (const d of exported[list] as Data[]) {
      place(d);
      if (list === 'services') place(d['namespace']);
    }
  }
}

function list(exported: Data, name: 'namespaces' | 'services' | 'rules'): Data[] {
  return exported[name] as Data[];
}

/** Every object reachable from `root` that equals `target` by identity is replaced by `replacement`. */
function replaceEverywhere(root: Data, target: object, replacement: object, seen = new Set<object>()): void {
  if (seen.has(root)) return;
  seen.add(root);
  for (const key of Object.keys(root)) {
    const value = root[key];
    if (value === target) root[key] = replacement;
    else if (typeof value === 'object' && value !== null) replaceEverywhere(value as Data, target, replacement, seen);
  }
}

interface Session {
  exported: Data;
  /** Per module, how far a text change moved its offsets (a site's location moves, not the site). */
  readonly shift: Map<string, number>;
}

/** One random edit of the export, in place or by new objects; returns what it did (for a failure's message). */
function randomEdit(s: Session, r: ReturnType<typeof random>, step: number): string {
  const rules = list(s.exported, 'rules');
  const services = list(s.exported, 'services');
  const rule = r.pick(rules);
  const service = r.pick(services);
  switch (r.int(15)) {
    case 0:
      rule['paths'] = [...((rule['paths'] as string[] | undefined) ?? []), `/edited-${step}/*`];
      return 'a rule path, in place';
    case 1: {
      const at = rules.indexOf(rule);
      rules[at] = { ...rule, methods: [r.pick(METHODS)], site: { ...(rule['site'] as Data) } };
      return 'a rule replaced by a new object';
    }
    case 2: {
      const added = structuredClone(
        randomRule(r, services, dsl.jwtIssuer({ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/keys' })),
      ) as unknown as Data;
      // The rule refers to the export's own service objects, as a re-run module refers to what it imports.
      const to = services.find((svc) => svc['name'] === (added['to'] as Data)['name']);
      if (to !== undefined) added['to'] = to;
      added['site'] = { file: 'policyc-module-1', line: 1000 + step, column: 5 };
      rules.splice(r.int(rules.length + 1), 0, added);
      return 'a rule inserted';
    }
    case 3:
      if (rules.length > 1) rules.splice(rules.indexOf(rule), 1);
      return 'a rule removed';
    case 4: {
      const ports = service['ports'] as Record<string, Data>;
      const port = ports[r.pick(Object.keys(ports))] as Data;
      if (r.next() < 0.5) port['protocol'] = r.pick(PROTOCOLS);
      else port['port'] = (port['port'] as number) + 1;
      return 'a service port, in place (nested)';
    }
    case 5: {
      const copy = { ...service, ports: structuredClone(service['ports']), serviceAccount: r.next() < 0.5 ? service['serviceAccount'] : `sa-${step}` };
      // Only some of the rules follow (the others' modules were not re-run): they keep the old, equal object.
      if (r.next() < 0.5) replaceEverywhere(s.exported, service, copy);
      else services[services.indexOf(service)] = copy;
      return 'a service replaced by a new object';
    }
    case 6: {
      const ns = service['namespace'] as Data;
      if (r.next() < 0.5) ns['mtls'] = r.pick(['STRICT', 'PERMISSIVE', 'DISABLE']);
      else ns['defaultAction'] = r.pick(['allow', 'deny']);
      return 'a namespace posture, in place';
    }
    case 7: {
      const file = `policyc-module-${r.int(3)}`;
      s.shift.set(file, (s.shift.get(file) ?? 0) + 1 + r.int(9));
      return `the text of ${file} (locations move, sites do not)`;
    }
    case 8: {
      const site = rule['site'] as Data;
      site['line'] = (site['line'] as number) + 1;
      return 'a rule site moved, in place';
    }
    case 9:
      s.exported['rootNamespace'] = r.pick(['istio-system', 'ns-0']);
      s.exported['trustDomain'] = r.pick(['cluster.local', 'example.org']);
      s.exported['mtls'] = r.pick(['STRICT', 'PERMISSIVE', 'DISABLE']);
      s.exported['defaultAction'] = r.pick(['allow', 'deny']);
      return 'mesh-wide settings';
    case 10:
      if (r.next() < 0.5) services.push(service);
      else if (services.length > 1) services.splice(services.indexOf(service), 1);
      return 'a service listed twice, or left out';
    case 11:
      service['name'] = r.pick(['svc-bad_name', `svc-${step}`, 'svc-0']);
      return 'a service name (invalid, new or clashing)';
    case 12: {
      const ports = service['ports'] as Record<string, Data>;
      (ports[r.pick(Object.keys(ports))] as Data)['protocol'] = r.pick(['udp', 'http']);
      return 'a port protocol the schema may refuse';
    }
    case 13:
      (service['selector'] as Data)['app'] = `a${r.int(3)}`;
      return 'a selector, in place';
    default:
      s.exported = structuredClone(s.exported);
      return 'a new export of equal content (a cold evaluation)';
  }
}

const ENTRY = path.join(path.sep, 'policy', 'policy.ts');

describe('incremental model (watch and editor)', () => {
  it('GIVEN random policies and random edits THEN the memo gives the model, diagnostics and fingerprint of a cold build', () => {
    let found = 0;
    let declarations = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = random(seed);
      const session: Session = { exported: randomExport(r), shift: new Map() };
      placeDeclarations(session.exported);
      const memo = new ModelMemo();
      const done: string[] = [];
      for (let step = 0; step < 12; step++) {
        if (step > 0) for (let k = 0, edits = 1 + r.int(3); k < edits; k++) done.push(randomEdit(session, r, step));
        const store = new SourceStore(path.dirname(ENTRY));
        const locate = (site: unknown): SourceLocation | undefined => {
          const { file, line, column } = (site ?? {}) as Data;
          if (typeof file !== 'string' || typeof line !== 'number' || typeof column !== 'number') return undefined;
          return { file: `${file}.ts`, line, column, start: line * 100 + column + (session.shift.get(file) ?? 0), length: 4 };
        };
        const context = `seed ${seed}, step ${step}: ${done.join('; ')}`;
        const warm = buildModel(session.exported, ENTRY, store, locate, memo);
        found += memo.services.found + memo.rules.found;
        declarations += list(session.exported, 'services').length + list(session.exported, 'rules').length;
        const cold = buildModel(session.exported, ENTRY, store, locate);
        expect({ context, model: warm.model, diagnostics: warm.diagnostics }).toEqual({ context, model: cold.model, diagnostics: cold.diagnostics });
        if (warm.model === undefined || cold.model === undefined) continue;
        expect({ context, validation: validateModel(warm.model, store, memo.validation) }).toEqual({ context, validation: validateModel(cold.model, store) });
        const warmPrint = fingerprint(warm.model, memo.fingerprint);
        const coldPrint = fingerprint(cold.model);
        expect({ context, global: warmPrint.global, namespaces: [...warmPrint.namespaces] }).toEqual({
          context,
          global: coldPrint.global,
          namespaces: [...coldPrint.namespaces],
        });
      }
    }
    // The memo was used, not bypassed: most declarations were found again.
    expect(found / declarations).toBeGreaterThan(0.5);
  });
});

const sessions: EvaluatorSession[] = [];
const checkers: PolicyTypeChecker[] = [];
afterAll(() => {
  sessions.forEach((s) => s.close());
  checkers.forEach((c) => c.close());
});

describe('incremental model through compile (watch)', () => {
  it('GIVEN a generated repo and one-line edits THEN each incremental compile gives the model, diagnostics and files of a cold one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-model-memo-'));
    const repo = generate(60, dir, 3);
    const entry = path.join(repo.dir, 'policy.ts');
    const targets = [...targetRegistry.values()];
    const evaluator = new EvaluatorSession();
    const checker = new PolicyTypeChecker();
    sessions.push(evaluator);
    checkers.push(checker);
    const memo = new EmitMemo();
    const files = fs
      .readdirSync(repo.dir)
      .filter((f) => /^ns-\d+\.ts$/.test(f))
      .sort();
    const r = random(5);
    let changed: string[] = [];
    for (let step = 0; step < 5; step++) {
      if (step > 0) {
        const file = path.join(repo.dir, r.pick(files));
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        // Rules on HTTP ports only (a path on a gRPC port is an error for Linkerd), as bench/watch.ts edits them.
        const ruleLines = lines.flatMap((l, i) => (l.includes("ports: ['http'], methods: [") && l.includes("paths: ['") ? [i] : []));
        const serviceLines = lines.flatMap((l, i) => (/^export const svc\d+ = service\(.*port: \d+/.test(l) ? [i] : []));
        const roll = r.next();
        if (roll < 0.4) {
          const at = r.pick(ruleLines);
          lines[at] = (lines[at] as string).replace("paths: ['", `paths: ['/edited-${step}/*', '`);
        } else {
          const at = r.pick(serviceLines);
          // A port number changed, or a statement inserted above the service: every line below it moves.
          if (roll < 0.7) lines[at] = (lines[at] as string).replace(/port: (\d+)/, (_m, p: string) => `port: ${Number(p) + 1}`);
          else lines.splice(at, 0, `export const moved${step} = ${step};`);
        }
        fs.writeFileSync(file, lines.join('\n'));
        changed = [file];
      }
      const warm = compile({ entry, targets, checker, changedFiles: changed, memo, evaluator });
      const cold = compile({ entry, targets });
      expect({ step, model: warm.model, diagnostics: warm.diagnostics }).toEqual({ step, model: cold.model, diagnostics: cold.diagnostics });
      expect(warm.outputs).toEqual(cold.outputs);
      expect(warm.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(warm.outputs.size).toBe(targets.length);
    }
    // The later builds found the declarations the edits left alone.
    expect(memo.model.rules.found).toBeGreaterThan(0);
  }, 240_000);
});

describe('SourceStore locations (by an index of line starts)', () => {
  it('GIVEN lines and columns inside, at the end of and past a text THEN each offset is the one a scan from the top gives', () => {
    const text = "export const a = 1;\n\n  namespace('x');\r\nlast line without newline";
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-store-'));
    const file = path.join(dir, 'policy.ts');
    fs.writeFileSync(file, text);
    const store = new SourceStore(dir);
    for (let line = 1; line <= 7; line++) {
      for (let column = 1; column <= 30; column++)
        expect({ line, column, start: store.locationAt(file, line, column).start }).toEqual({ line, column, start: offsetOf(text, line, column) });
    }
    // A file changed in the editor is indexed again.
    const overlay = new SourceStore(dir, new Map([[file, 'x\ny\nz']]));
    expect(overlay.locationAt(file, 3, 1).start).toBe(4);
  });
});
