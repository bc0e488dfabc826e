/**
 * The phase timings `npm run bench` reads: `POLICYC_PHASES=1` makes `policyc build` print each phase of the
 * pipeline on stderr as one JSON line; without it, nothing of the kind is printed.
 */
import { describe, it } from '@jest/globals';
import { targets } from '../meshes';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLES, REPO } from './helpers';

function buildSimple(env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-phases-'));
  try {
    const run = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli', 'main.js'), 'build', '--target', 'all', '--out', out], {
      cwd: path.join(EXAMPLES, 'simple'),
      env,
      encoding: 'utf8',
    });
    return { status: run.status, stderr: run.stderr };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const isPhaseLine = (line: string): boolean => line.startsWith('{"phase":');

describe('POLICYC_PHASES', () => {
  it('GIVEN POLICYC_PHASES=1 WHEN building for every target THEN stderr names each phase once, in pipeline order, with its time', () => {
    const { status, stderr } = buildSimple({ ...process.env, POLICYC_PHASES: '1' });
    assert.equal(status, 0, stderr);
    const phases = stderr
      .split('\n')
      .filter(isPhaseLine)
      .map((line) => JSON.parse(line) as { phase: string; ms: number });
    assert.deepEqual(
      phases.map((p) => p.phase),
      [
        'type-check start',
        'evaluate',
        'model',
        'validate model',
        // Every mesh of the registry, in registry order (`--target all`).
        ...[...targets.keys()].flatMap((name) => [`target ${name}`, `validate emitted ${name}`, `render ${name}`]),
        'type-check wait',
        'write',
      ],
    );
    for (const { phase, ms } of phases) assert.ok(Number.isFinite(ms) && ms >= 0, `${phase}: ${ms}`);
  });

  it('GIVEN no POLICYC_PHASES WHEN building THEN stderr holds no phase line', () => {
    const env = { ...process.env };
    delete env['POLICYC_PHASES'];
    const { status, stderr } = buildSimple(env);
    assert.equal(status, 0, stderr);
    assert.deepEqual(stderr.split('\n').filter(isPhaseLine), []);
  });
});
