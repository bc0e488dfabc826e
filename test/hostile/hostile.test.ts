/**
 * The hostile corpus (cases.ts), built as CI would build it: with a secret in the environment and a previous
 * output folder. For every case: the exit code and each expected diagnostic (code and line); the marker file
 * the attack tries to write does not exist; the secret appears in no output, diagnostic or file; and the
 * previous output folder is byte-identical afterwards (a case that builds must build exactly what the base
 * policy builds).
 *
 * Most cases are built in-process through `compile()` with one shared type-checker session (as watch mode and
 * the LSP reuse one) and the output written as `policyc build` writes it; the evaluator child process is still
 * spawned for every case, so the boundary under test is the real one. The cases marked `cli` run the real CLI
 * in a child process.
 */
import { printableName } from '../../model/printable';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { resolveTargets } from '../../cli/common';
import { compile } from '../../compiler/compile';
import { compiledFile } from '../../compiler/package-files';
import { PolicyTypeChecker } from '../../compiler/typecheck';
import { writeOutputs } from '../../compiler/write';
import { hasErrors } from '../../diagnostics/diagnostic';
import { formatDiagnostics } from '../../diagnostics/format';
import { readTree, tempProject } from '../helpers';
import { CASES, policyOf, type HostileCase } from './cases';

const CANARY = `canary-${randomBytes(12).toString('hex')}`;
const CLI = compiledFile('cli/main.js');
/** Generous by default: the bound is for the cases that loop, which set a short one. */
const EVAL_TIMEOUT_MS = 60_000;

interface Outcome {
  readonly exit: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly dir: string;
  readonly marker: string;
}

type Built = Omit<Outcome, 'dir' | 'marker'>;

/** `policyc build` in a child process, with the secret in its environment. */
function buildWithCli(dir: string, evalTimeoutMs: number, entry = 'policy.ts'): Promise<Built> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'build', entry, '--out', 'out', '--target', 'istio', '--eval-timeout', String(evalTimeoutMs)], {
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
      resolve({ exit, stdout, stderr });
    });
  });
}

/** One type-checker session for every in-process build of this file. */
const checker = new PolicyTypeChecker();
afterAll(() => checker.close());
const istio = resolveTargets('istio');

/**
 * What `policyc build` does, in-process with the shared checker: compile, write the output folder when there
 * are no errors, and print the diagnostics as text (the `stderr` the CLI would print). The secret is in this
 * process's environment meanwhile (see beforeAll), where the evaluator child would inherit it if it could.
 */
function buildInProcess(dir: string, evalTimeoutMs: number, entry = 'policy.ts'): Built {
  assert.ok(Array.isArray(istio));
  const result = compile({ entry: path.join(dir, entry), targets: istio, evaluationTimeoutMs: evalTimeoutMs, checker });
  const failed = hasErrors(result.diagnostics);
  if (!failed) writeOutputs(path.join(dir, 'out'), result.outputs);
  const rendered = [...result.outputs.values()].flatMap((files) => [...files.values()]);
  for (const text of rendered) assert.equal(text.includes(CANARY), false, 'the secret reached a rendered file');
  const stderr = formatDiagnostics(result.diagnostics, { cwd: dir, color: false, readSource: (f) => result.store.read(f) });
  return { exit: failed ? 1 : 0, stdout: '', stderr };
}

/** A fresh project holding the case's policy and a copy of the base build's output folder. */
function projectFor(hostile: HostileCase, baseDir: string): { dir: string; marker: string } {
  const dir = tempProject({});
  const marker = path.join(dir, 'PWNED');
  fs.writeFileSync(path.join(dir, 'policy.ts'), policyOf(hostile.lines, marker));
  fs.cpSync(path.join(baseDir, 'out'), path.join(dir, 'out'), { recursive: true });
  return { dir, marker };
}

let baseDir: string;
let baseline: Map<string, string>;
const outcomes = new Map<string, Outcome>();

describe('hostile policies', () => {
  beforeAll(async () => {
    // The base build is in-process; the CLI case that builds is compared with it, so both ways agree.
    baseDir = tempProject({ 'policy.ts': policyOf({}, path.join('unused')) });
    const first = buildInProcess(baseDir, EVAL_TIMEOUT_MS);
    assert.equal(first.exit, 0, first.stderr);
    baseline = readTree(path.join(baseDir, 'out'));
    assert.ok(baseline.size > 0);

    // The CLI cases run as child processes while this process builds the others.
    const viaCli = CASES.filter((c) => c.cli !== undefined).map(async (hostile) => {
      const project = projectFor(hostile, baseDir);
      outcomes.set(hostile.name, { ...(await buildWithCli(project.dir, hostile.evalTimeoutMs ?? EVAL_TIMEOUT_MS)), ...project });
    });
    const previous = process.env['POLICYC_CANARY'];
    process.env['POLICYC_CANARY'] = CANARY;
    try {
      for (const hostile of CASES.filter((c) => c.cli === undefined)) {
        const project = projectFor(hostile, baseDir);
        outcomes.set(hostile.name, { ...buildInProcess(project.dir, hostile.evalTimeoutMs ?? EVAL_TIMEOUT_MS), ...project });
      }
    } finally {
      if (previous === undefined) delete process.env['POLICYC_CANARY'];
      else process.env['POLICYC_CANARY'] = previous;
    }
    await Promise.all(viaCli);
  }, 600_000);

  it('GIVEN the corpus WHEN it is split THEN a few cases, each naming why, run as real CLI processes', () => {
    const viaCli = CASES.filter((c) => c.cli !== undefined);
    assert.ok(viaCli.length >= 2 && viaCli.length <= 6, `${viaCli.length} CLI cases`);
    assert.ok(
      viaCli.some((c) => c.expect.exit === 0),
      'a CLI case that builds writes into the previous output folder',
    );
  });

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

describe('a hostile entry file name', () => {
  // Issue 9, point 4: every path or name that reaches YAML text is escaped, header comments included.
  it('GIVEN an entry file whose name holds a newline and a YAML document separator WHEN it is built THEN every file holds the same documents as the base build', () => {
    const entry = 'policy\n---\nkind: Secret\n#.ts';
    const dir = tempProject({ 'policy.ts': policyOf({}, 'unused'), [entry]: policyOf({}, 'unused') });
    const base = buildInProcess(dir, EVAL_TIMEOUT_MS);
    assert.equal(base.exit, 0, base.stderr);
    const baseline = readTree(path.join(dir, 'out'));
    fs.rmSync(path.join(dir, 'out'), { recursive: true });
    const outcome = buildInProcess(dir, EVAL_TIMEOUT_MS, entry);
    assert.equal(outcome.exit, 0, outcome.stderr);
    const after = readTree(path.join(dir, 'out'));
    assert.deepEqual([...after.keys()].sort(), [...baseline.keys()].sort());
    for (const [file, text] of after) {
      // The folder's own index (hashes of the files it lists) is not YAML and legitimately differs.
      if (!file.endsWith('.yaml')) continue;
      // Whatever the name, everything before the manifest is comment lines.
      const lines = text.split('\n');
      const firstKey = lines.findIndex((line) => !line.startsWith('#'));
      assert.ok(firstKey > 0, `${file}: no header`);
      assert.ok(
        lines.slice(0, firstKey).every((line) => line.startsWith('#')),
        `${file}: the header is not all comments`,
      );
      // A file holds one document per object of its service (README "Layout"): exactly as many as the base build's,
      // so the name injected none.
      const documents = parseAllDocuments(text);
      const baseDocuments = parseAllDocuments(baseline.get(file) ?? '');
      assert.equal(documents.length, baseDocuments.length, `${file} holds ${documents.length} YAML documents, the base build ${baseDocuments.length}`);
      for (const document of documents) assert.deepEqual(document.errors, [], file);
      // The name reaches the objects only as the escaped text of the source annotation: with it put back, the
      // objects are the base build's.
      const named = JSON.stringify(documents.map((d) => d.toJS()))
        .split(JSON.stringify(printableName(entry)).slice(1, -1))
        .join('policy.ts');
      assert.equal(named, JSON.stringify(baseDocuments.map((d) => d.toJS())), file);
    }
  });
});
