/**
 * A build's writing stage as its own process, for test/output-folder.test.ts to kill with SIGKILL:
 * `node output-writer-child.js <out> <outputs.json> [pause-at]`. It writes the rendered files of
 * `outputs.json` (`{ target: { path: content } }`) into `<out>` with compiler/write.ts, printing `start`
 * first; given a fraction from 0 to 1 (or -n: n steps before the end), it prints `paused` after the first step that far through the
 * writer's steps and waits to be killed.
 */
import * as fs from 'node:fs';
import { writeOutputs } from '../compiler/write';

const [out, outputsFile, pauseAt] = process.argv.slice(2);
if (out === undefined || outputsFile === undefined) throw new Error('usage: output-writer-child <out> <outputs.json> [pause-at-step]');
const parsed = JSON.parse(fs.readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>;
const outputs = new Map(Object.entries(parsed).map(([target, files]) => [target, new Map(Object.entries(files))]));
const pause = pauseAt === undefined ? undefined : Number(pauseAt);
fs.writeSync(1, 'start\n');
writeOutputs(out, outputs, {
  onStep: (done, total) => {
    // A negative number counts steps from the end: -1 is the step before the marker's removal.
    if (pause === undefined || done < (pause < 0 ? total + pause : Math.max(1, Math.ceil(pause * total)))) return;
    fs.writeSync(1, 'paused\n');
    // Wait (without spinning) until the test kills this process.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  },
});
fs.writeSync(1, 'done\n');
