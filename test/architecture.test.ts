/**
 * The folders are the architecture, and data flows one way: GIVEN every import between the shipped
 * top-level folders WHEN the folder graph is built THEN it has no cycle, each folder imports only the
 * layers below it, and the simulators (verify/<mesh>/) import nothing from the compiler or the targets,
 * since they are the independent check of both.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './helpers';

/** What each shipped folder may import (besides itself and packages). */
const LAYERS: Readonly<Record<string, readonly string[]>> = {
  dsl: [],
  diagnostics: [],
  model: ['dsl', 'diagnostics'],
  compiler: ['dsl', 'diagnostics', 'model'],
  targets: ['diagnostics', 'model'],
  verify: ['diagnostics', 'model', 'compiler'],
  meshes: ['model', 'targets', 'verify'],
  review: ['diagnostics', 'model', 'compiler', 'meshes'],
  // The language server runs the compile pipeline for `policyc lsp`.
  lsp: ['diagnostics', 'model', 'compiler'],
  // import: manifests → model → TypeScript (ts-morph) → build → equivalence with the original manifests.
  importer: ['diagnostics', 'model', 'compiler', 'meshes', 'verify', 'review'],
  cli: ['dsl', 'diagnostics', 'model', 'compiler', 'targets', 'verify', 'meshes', 'review', 'lsp', 'importer'],
  // The CI action's script runs the CLI in-process.
  action: ['cli'],
};

interface Import {
  readonly from: string;
  readonly to: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

function importsOf(folder: string): Import[] {
  const out: Import[] = [];
  for (const file of sourceFiles(path.join(REPO, folder))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import|require\()\s*['"](\.{1,2}\/[^'"]*)['"]/g)) {
      const target = path.relative(REPO, path.resolve(path.dirname(file), match[1] ?? ''));
      out.push({ from: path.relative(REPO, file).split(path.sep).join('/'), to: target.split(path.sep).join('/') });
    }
  }
  return out;
}

const topOf = (p: string): string => p.split('/')[0] ?? '';

describe('architecture', () => {
  const imports = Object.keys(LAYERS).flatMap(importsOf);

  it('GIVEN the shipped folders WHEN their imports are listed THEN each imports only the layers below it', () => {
    const wrong = imports.filter((i) => topOf(i.from) !== topOf(i.to) && !(LAYERS[topOf(i.from)] ?? []).includes(topOf(i.to)));
    assert.deepEqual(
      wrong.map((i) => `${i.from} → ${i.to}`),
      [],
    );
  });

  it('GIVEN the folder graph WHEN searched for cycles THEN there is none', () => {
    const edges = new Map<string, Set<string>>();
    for (const i of imports) {
      if (topOf(i.from) === topOf(i.to)) continue;
      const set = edges.get(topOf(i.from)) ?? new Set<string>();
      set.add(topOf(i.to));
      edges.set(topOf(i.from), set);
    }
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (node: string, trail: string[]): void => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(node)), node].join(' → '));
        return;
      }
      state.set(node, 'open');
      for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
      state.set(node, 'done');
    };
    for (const node of edges.keys()) visit(node, []);
    assert.deepEqual(cycles, []);
  });

  it('GIVEN a simulator under verify/<mesh>/ WHEN its imports are listed THEN none reaches the compiler, the targets or the model', () => {
    const simulatorImports = imports.filter((i) => /^verify\/[^/]+\//.test(i.from) && !i.to.startsWith('verify/'));
    assert.deepEqual(
      simulatorImports.map((i) => `${i.from} → ${i.to}`),
      [],
    );
  });
});
