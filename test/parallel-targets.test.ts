/**
 * Targets compiled on two threads (compiler/parallel-targets.ts): GIVEN a policy WHEN built with its targets shared
 * between this thread and a worker, or all in the worker, THEN the files and the diagnostics are the same, in the
 * same order, as a build on this thread alone, and a target that throws or refuses in the worker fails the build as
 * it does here. The worker runs the compiled files: `npx tsc -p .` first.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from '@jest/globals';
import { generate } from '../bench/generate';
import { compile, type CompileOptions, type CompileResult } from '../compiler/compile';
import { compiledFile } from '../compiler/package-files';
import { hasErrors } from '../diagnostics/diagnostic';
import { targets } from '../meshes';
import type { Target } from '../model/target';
import { refusingTarget, throwingTarget } from './failing-targets';

const registryWorker = compiledFile('cli/targets-worker.js');
const fixtureWorker = compiledFile('test/targets-worker-fixture.js');
const allTargets = [...targets.values()];

/** What a build gives, as bytes: every file of every target folder, then every diagnostic, in order. */
function bytesOf(result: CompileResult): string {
  return JSON.stringify({
    outputs: [...result.outputs].map(([target, files]) => [target, [...files]]),
    diagnostics: result.diagnostics,
  });
}

/** The error a build throws, as its class name and message (an error cloned from the worker is of Node's realm, not jest's). */
function thrownBy(run: () => unknown): { name: unknown; message: unknown } {
  try {
    run();
  } catch (error) {
    const { name, message } = error as Error;
    return { name, message };
  }
  assert.fail('the build did not throw');
}

describe('targets on two threads', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-parallel-'));
  // 100 services, about 1,000 rules and 200 warnings: every target writes a hundred files or more.
  const { entry } = generate(100, dir);
  const build = (targetList: readonly Target[], targetWorker?: CompileOptions['targetWorker']): CompileResult =>
    compile({ entry, targets: targetList, ...(targetWorker === undefined ? {} : { targetWorker }) });
  const alone = build(allTargets);
  const reference = bytesOf(alone);

  it('GIVEN the generated policy WHEN built on this thread THEN every target has files and the build has warnings', () => {
    assert.deepEqual([...alone.outputs.keys()], ['istio', 'linkerd', 'istio-ambient']);
    for (const [target, files] of alone.outputs) assert.ok(files.size >= 100, `${target}: ${files.size} files`);
    assert.ok(alone.diagnostics.length > 100 && !hasErrors(alone.diagnostics));
  });

  it('GIVEN the targets taken by this thread and the worker in turn WHEN built THEN files and diagnostics are byte-identical', () => {
    assert.equal(bytesOf(build(allTargets, { file: registryWorker, minSourceBytes: 0 })), reference);
  });

  it('GIVEN every target in the worker WHEN built THEN files and diagnostics are byte-identical', () => {
    assert.equal(bytesOf(build(allTargets, { file: registryWorker, minSourceBytes: 0, workerOnly: true })), reference);
  });

  it('GIVEN a target that refuses the model WHEN built in the worker THEN the same located errors and no files', () => {
    const here = build([refusingTarget, ...allTargets]);
    const there = build([refusingTarget, ...allTargets], { file: fixtureWorker, minSourceBytes: 0, workerOnly: true });
    assert.ok(hasErrors(here.diagnostics) && here.diagnostics.some((d) => d.message.startsWith('refusing: ') && d.span?.file === path.join(dir, 'ns-00.ts')));
    assert.equal(here.outputs.size, 0);
    assert.equal(bytesOf(there), bytesOf(here));
  });

  for (const workerOnly of [true, false]) {
    it(`GIVEN a target that throws WHEN built ${workerOnly ? 'in the worker' : 'on both threads'} THEN the build throws the same error`, () => {
      const here = thrownBy(() => build([...allTargets.slice(0, 2), throwingTarget]));
      const there = thrownBy(() => build([...allTargets.slice(0, 2), throwingTarget], { file: fixtureWorker, minSourceBytes: 0, workerOnly }));
      assert.deepEqual(here, { name: 'TypeError', message: `throwing: cannot compile ${alone.model?.rules.length ?? 0} rules` });
      assert.deepEqual(there, here);
    });
  }
});
