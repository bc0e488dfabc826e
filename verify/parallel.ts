/**
 * Verification on every core: the destinations are cut into consecutive parts, and this thread and worker
 * threads take parts in turn from a shared counter until none is left. Each thread reads the emitted files
 * itself (`manifestsFromFiles`, about 1.2 CPU s at N = 1,000: less than copying one thread's objects to another,
 * measured at 1.9–2.9 s to serialise and deserialise) and simulates on its own; each part's result is kept by its
 * index and the parts are merged in order
 * (`mergeVerifications`), so the report is the same, byte for byte, whatever the number of threads and
 * whichever thread verified which part.
 *
 * Waiting is synchronous (the main thread blocks on shared memory, as for the type checker), so callers stay
 * synchronous. Workers need the compiled files (`dist/`), like the type checker's.
 */
import * as os from 'node:os';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { PolicyModel } from '../model/model';
import { destinationsOf, manifestsFromFiles, mergeVerifications, verifyTargets, type SimulatedTarget, type VerificationResult } from './compare';
import type { MeshSimulator } from './simulator';

/** The simulator that checks a target's output (the mesh registry's), configured from the model's mesh settings. */
export type SimulatorOf = (targetName: string, settings: PolicyModel['mesh']) => MeshSimulator | undefined;

export interface ParallelOptions {
  /** The compiled worker entry: a file that calls `serveVerification` with the mesh registry's `simulatorFor`; absent, no worker. */
  readonly workerFile?: string;
  /** How many threads verify, this one included (default: `os.availableParallelism()` with a worker file, else 1); 1 starts no worker. */
  readonly threads?: number;
  /** Destinations per part (default: enough for about 8 parts per thread, so a slow part does not hold the others up). */
  readonly partSize?: number;
}

/**
 * Memory: every thread holds its own parse of every emitted object. The bound was measured with the `yaml`
 * library's parse, at about 14 bytes of heap (with its garbage) per byte of YAML (N = 1,000: 1,034 MiB peak on
 * one thread, 1,410 MiB on two); the emitted-YAML reader (`emitted-yaml.ts`) holds about 3 bytes per byte and
 * leaves little garbage, so the bound is now generous: kept until two threads at N = 5,000 are measured under the
 * 2 GB goal. A thread is added only while the threads' share stays within this budget, so a large build
 * verifies on fewer threads.
 */
const HEAP_PER_YAML_BYTE = 14;
const THREADS_MEMORY_BUDGET = 1_200 * 2 ** 20;

/** How many threads fit the memory budget for outputs of this size (at least one). */
function threadsThatFit(outputs: Outputs): number {
  let bytes = 0;
  for (const files of outputs.values()) for (const text of files.values()) bytes += text.length;
  return Math.max(1, Math.floor(THREADS_MEMORY_BUDGET / Math.max(1, bytes * HEAP_PER_YAML_BYTE)));
}

/**
 * A full garbage collection, where the budget already limits the threads: the simulators' per-destination state is
 * garbage once a part is done, and collecting it then keeps the heap near what is live instead of letting it grow.
 */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as (() => void) | undefined;
  if (typeof gc === 'function') gc();
}

/** The rendered files of each target, by target name, in build order. */
export type Outputs = ReadonlyMap<string, ReadonlyMap<string, string>>;

interface Job {
  readonly model: PolicyModel;
  readonly outputs: Outputs;
  /** Destination ids of each part, in the model's order. */
  readonly parts: readonly (readonly string[])[];
  /** [0]: the next part to take; [1]: how many messages the workers have posted. */
  readonly counters: SharedArrayBuffer;
  readonly port: MessagePort;
}

type Reply =
  { readonly part: number; readonly results: readonly (readonly [string, VerificationResult])[] } | { readonly done: true } | { readonly error: string };

/** The targets this thread simulates: each output with a simulator, its files parsed as the cluster receives them. */
export function simulatedTargets(model: PolicyModel, outputs: Outputs, simulatorFor: SimulatorOf): SimulatedTarget[] {
  const targets: SimulatedTarget[] = [];
  for (const [name, files] of outputs) {
    const simulator = simulatorFor(name, model.mesh);
    if (simulator !== undefined) targets.push({ name, objects: manifestsFromFiles(files), simulator });
  }
  return targets;
}

/** Takes parts from the shared counter until none is left; `verified` gets each part's results. */
function takeParts(
  model: PolicyModel,
  targets: readonly SimulatedTarget[],
  parts: readonly (readonly string[])[],
  counters: Int32Array,
  verified: (part: number, results: Map<string, VerificationResult>) => void,
): void {
  for (;;) {
    const part = Atomics.add(counters, 0, 1);
    const destinations = parts[part];
    if (destinations === undefined) return;
    verified(part, verifyTargets(model, targets, { destinations: new Set(destinations) }));
  }
}

/**
 * Verifies every target's output on `threads` threads; the targets parsed by this thread are returned too
 * (assertions are checked on them).
 */
export function verifyInParallel(
  model: PolicyModel,
  outputs: Outputs,
  simulatorFor: SimulatorOf,
  options: ParallelOptions = {},
): { readonly targets: SimulatedTarget[]; readonly results: Map<string, VerificationResult> } {
  const destinations = destinationsOf(model).map((s) => s.id);
  const fit = threadsThatFit(outputs);
  const wanted = options.workerFile === undefined ? 1 : (options.threads ?? Math.min(os.availableParallelism(), fit));
  const threads = Math.max(1, Math.min(wanted, destinations.length));
  const memoryBound = fit <= 1;
  // Where memory bounds the threads, smaller parts: garbage is collected after each (`collectGarbage`).
  const size = options.partSize ?? Math.max(1, Math.ceil(destinations.length / (memoryBound ? 32 : threads * 8)));
  const parts: string[][] = [];
  for (let i = 0; i < destinations.length; i += size) parts.push(destinations.slice(i, i + size));
  const counters = new Int32Array(new SharedArrayBuffer(8));
  const ports: MessagePort[] = [];
  const workers: Worker[] = [];
  for (let i = 1; i < threads; i++) {
    const channel = new MessageChannel();
    const job: Job = { model, outputs, parts, counters: counters.buffer as SharedArrayBuffer, port: channel.port2 };
    const worker = new Worker(options.workerFile as string, { workerData: job, transferList: [channel.port2] });
    worker.unref();
    channel.port1.unref();
    ports.push(channel.port1);
    workers.push(worker);
  }
  const byPart: Map<string, VerificationResult>[] = [];
  const targets = simulatedTargets(model, outputs, simulatorFor);
  // Parsing leaves the YAML documents' trees as garbage; collected now, their memory is reused by the first part
  // instead of growing the heap (N = 5,000: peak tree RSS 2,088 → 1,859 MiB).
  if (memoryBound) collectGarbage();
  takeParts(model, targets, parts, counters, (part, results) => {
    byPart[part] = results;
    if (memoryBound) collectGarbage();
  });
  // Collect the workers' parts: each posts one message per part and a last one when it has none left.
  let running = ports.length;
  let seen = 0;
  const failures: string[] = [];
  while (running > 0) {
    Atomics.wait(counters, 1, seen, 100);
    seen = Atomics.load(counters, 1);
    for (const port of ports) {
      for (let message = receiveMessageOnPort(port); message !== undefined; message = receiveMessageOnPort(port)) {
        const reply = message.message as Reply;
        if ('part' in reply) byPart[reply.part] = new Map(reply.results);
        else {
          running--;
          if ('error' in reply) failures.push(reply.error);
        }
      }
    }
  }
  for (const worker of workers) void worker.terminate();
  if (failures.length > 0) throw new Error(`verify worker: ${failures.join('\n')}`);
  const results = new Map<string, VerificationResult>();
  for (const { name } of targets) {
    results.set(
      name,
      mergeVerifications(
        parts.map((_, i) => {
          const result = byPart[i]?.get(name);
          if (result === undefined) throw new Error(`verify: part ${i} of ${name} was not verified`);
          return result;
        }),
      ),
    );
  }
  return { targets, results };
}

/** The body of a verify worker thread (see `ParallelOptions.workerFile`): parse, then take parts until none is left. */
export function serveVerification(job: unknown, simulatorFor: SimulatorOf): void {
  const { model, outputs, parts, counters, port } = job as Job;
  const shared = new Int32Array(counters);
  const post = (reply: Reply): void => {
    port.postMessage(reply);
    Atomics.add(shared, 1, 1);
    Atomics.notify(shared, 1);
  };
  try {
    const targets = simulatedTargets(model, outputs, simulatorFor);
    takeParts(model, targets, parts, shared, (part, results) => post({ part, results: [...results] }));
    post({ done: true });
  } catch (error) {
    post({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
  port.close();
}
