/**
 * The hostile corpus (cases.ts), each case built by the real CLI in a child process, as CI would run it: with
 * a secret in the environment and a previous output folder. For every case: the exit code and each expected
 * diagnostic (code and line); the marker file the attack tries to write does not exist; the secret appears in
 * no output, diagnostic or file; and the previous output folder is byte-identical afterwards (a case that
 * builds must build exactly what the base policy builds).
 */
import { beforeAll, describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compiledFile } from '../../compiler/package-files';
import { readTree, tempProject } from '../helpers';
import { CASES, policyOf, type HostileCase } from './cases';

const CANARY = `canary-${randomBytes(12).toString('hex')}`;
const CLI = compiledFile('cli/main.js');
/** Builds at once: enough to overlap process start-up, few enough for a 2-core machine. */
const PARALLEL = 4;

interface Outcome {
  readonly exit: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly dir: string;
  readonly marker: string;
  readonly ms: number;
}

function build(dir: string, evalTimeoutMs: number): Promise<Omit<Outcome, 'dir' | 'marker'>> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'build', 'policy.ts', '--out', 'out', '--target', 'istio', '--eval-timeout', String(evalTimeoutMs)], {
      cwd: dir,
      env: { ...process.env, POLICYC_CANARY: CANARY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), evalTimeoutMs + 90_000);
    child.on('error', reject);
    child.on('close', (exit) => {
      clearTimeout(kill);
      resolve({ exit, stdout, stderr, ms: Date.now() - started });
    });
  });
}

let baseline: Map<string, string>;
const outcomes = new Map<string, Outcome>();

describe('hostile policies', () => {
  beforeAll(async () => {
    const base = tempProject({ 'policy.ts': policyOf({}, path.join('unused')) });
    const first = await build(base, 10_000);
    assert.equal(first.exit, 0, first.stderr);
    baseline = readTree(path.join(base, 'out'));
    assert.ok(baseline.size > 0);

    const queue = [...CASES];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const dir = tempProject({});
        const marker = path.join(dir, 'PWNED');
        fs.writeFileSync(path.join(dir, 'policy.ts'), policyOf(next.lines, marker));
        fs.cpSync(path.join(base, 'out'), path.join(dir, 'out'), { recursive: true });
        // Generous by default: the bound is for the cases that loop, which set a short one.
        outcomes.set(next.name, { ...(await build(dir, next.evalTimeoutMs ?? 60_000)), dir, marker });
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  }, 600_000);

  it.each(CASES.map((c) => [c.name, c] as const))(
    'GIVEN the hostile policy "%s" WHEN it is built THEN it harms nothing and is answered as expected',
    (_name, hostile: HostileCase) => {
      const outcome = outcomes.get(hostile.name);
      assert.ok(outcome !== undefined);
      const shown = `${outcome.stdout}\n${outcome.stderr}`.slice(0, 4000);
      assert.equal(outcome.exit, hostile.expect.exit, shown);
      const reported = [...outcome.stderr.matchAll(/^policy\.ts:(\d+):\d+ - error (PC\d+)/gm)].map((m) => `${m[2]}@${m[1]}`);
      assert.deepEqual([...new Set(reported)].sort(), hostile.expect.diagnostics.map(([code, line]) => `${code}@${line}`).sort(), shown);
      // One short answer, whatever the policy's size.
      assert.ok(outcome.stderr.length + outcome.stdout.length < 20_000, `output is ${outcome.stderr.length} characters`);
      assert.equal(fs.existsSync(outcome.marker), false, 'the attack wrote its marker');
      assert.equal(outcome.stdout.includes(CANARY) || outcome.stderr.includes(CANARY), false, 'the secret reached the output');
      const after = readTree(path.join(outcome.dir, 'out'));
      for (const [file, text] of after) assert.equal(text.includes(CANARY), false, `the secret reached ${file}`);
      assert.deepEqual(after, baseline, 'the output folder changed');
    },
  );
});
