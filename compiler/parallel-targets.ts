/**
 * A build's targets on two threads. A worker thread is started with the build (`startTargetWorker`) and loads the
 * targets, the CRD checker and the renderer while this thread waits for the evaluator. Once the model is built it
 * is posted to the worker (as JSON text, see `Job`), and both threads take targets in turn from a shared counter
 * until none is left: each taken target is compiled, its objects checked against their CRDs and rendered to files
 * (`emitTarget`) on the thread that took it. The worker starts while this thread validates the model (its work is
 * dropped if that finds errors). It posts each target's diagnostics and files back; results are kept by the
 * target's index, so the build's diagnostics and files are the same, in the same order, whichever thread did which
 * target. Writing stays on this thread, after every target.
 *
 * Waiting is synchronous (this thread blocks on shared memory, as for the type checker), so `compile` stays
 * synchronous. The worker needs the compiled files (`dist/`) and an entry that passes it the mesh registry
 * (`serveTargets`), as verify's workers do: compiler/ imports no target.
 */
import { performance } from 'node:perf_hooks';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Diagnostic } from '../diagnostics/diagnostic';
import type { PolicyModel } from '../model/model';
import type { Target, TargetContext } from '../model/target';
import { validateEmitted } from './check-emitted';
import { renderTarget, type RenderedFiles } from './render';
import { SourceStore } from './sources';

/** What one target's compile, CRD check and render gave, wherever it ran. */
export interface EmittedTarget {
  /** The target's own diagnostics, then its objects' CRD violations (not yet marked acknowledged). */
  readonly diagnostics: readonly Diagnostic[];
  /** How many objects the target emitted (patches not counted). */
  readonly objects: number;
  readonly files: RenderedFiles;
}

/** Runs one phase, named as `POLICYC_PHASES=1` prints it (compile.ts `timePhase`). */
export type PhaseTimer = <T>(phase: string, run: () => T) => T;

/** One target's work: compile the model, check every emitted object against its CRD, render the folder's files. */
export function emitTarget(
  target: Target,
  model: PolicyModel,
  spanOf: TargetContext['spanOf'],
  time: PhaseTimer,
  onPhase?: (phase: string) => void,
): EmittedTarget {
  const output = time(`target ${target.name}`, () => target.compile(model, { spanOf }));
  const violations = time(`validate emitted ${target.name}`, () => validateEmitted(target, [...output.objects, ...(output.patches ?? [])]));
  onPhase?.(`rendering ${output.objects.length} ${target.name} objects`);
  const files = time(`render ${target.name}`, () => renderTarget(output, model.entry));
  return { diagnostics: [...output.diagnostics, ...violations], objects: output.objects.length, files };
}

/** A phase the worker ran, as `POLICYC_PHASES=1` prints it (wall time only: CPU time is the whole process's). */
interface WorkerPhase {
  readonly phase: string;
  readonly ms: number;
}

interface WorkerData {
  readonly port: MessagePort;
  /** [0]: the index of the next target to take; [1]: how many messages the worker has posted. */
  readonly counters: SharedArrayBuffer;
  /** The targets of the build, by name, in build order: what the counter indexes. */
  readonly targets: readonly string[];
  /** The root model locations are relative to (SourceStore.root), for diagnostics' spans. */
  readonly root: string;
}

/**
 * The model, posted once as its JSON text. The model is plain JSON (model/model.ts), a tree of objects, arrays,
 * strings, finite numbers and booleans, so its JSON is exact; at N = 5,000 `JSON.stringify` took about half the CPU
 * time of the structured clone's serialisation, which this thread pays before it can go on.
 */
interface Job {
  readonly model: string;
}

/**
 * A target's files as one string and each file's length: cloned as one copy, where a Map of thousands of strings
 * cost this thread a deserialisation per string (the files are sliced out of it again).
 */
interface PackedFiles {
  readonly names: readonly string[];
  readonly lengths: readonly number[];
  readonly text: string;
}

function pack(files: RenderedFiles): PackedFiles {
  const texts = [...files.values()];
  return { names: [...files.keys()], lengths: texts.map((t) => t.length), text: texts.join('') };
}

function unpack({ names, lengths, text }: PackedFiles): RenderedFiles {
  let offset = 0;
  return new Map(names.map((name, i) => [name, text.slice(offset, (offset += lengths[i] as number))]));
}

type Reply =
  | {
      readonly index: number;
      readonly emitted: Omit<EmittedTarget, 'files'>;
      readonly files: PackedFiles;
      readonly phases: readonly WorkerPhase[];
    }
  | { readonly index: number; readonly error: unknown }
  | { readonly done: true };

/** Which target a thread takes next from the shared counter, or undefined when none is left. */
function take(counters: Int32Array, count: number): number | undefined {
  const index = Atomics.add(counters, 0, 1);
  Atomics.notify(counters, 0);
  return index < count ? index : undefined;
}

/**
 * How long this thread waits for the worker to take the first target before it takes one itself (the worker is
 * late only on a machine far busier than its cores; the build is the same either way, only slower).
 */
const FIRST_TAKE_WAIT_MS = 10_000;

/** A worker started for a build; `run` hands it the model, `close` ends it (a build that stops before the targets only closes). */
export interface TargetWorker {
  /**
   * Posts the model; the worker starts taking targets at once (work for a model later found invalid is dropped).
   * `emitHere` is this thread's work on the targets it takes, once `collect` is called.
   */
  start(model: PolicyModel): StartedTargets;
  close(): void;
}

export interface StartedTargets {
  /**
   * Takes targets on this thread too, then waits for the worker's; returns each target's result in build order.
   * A target that threw, on either thread, is thrown again (the first one in build order, as a build on one thread would).
   */
  collect(emitHere: (target: Target) => EmittedTarget, time: PhaseTimer, reportPhase: (phase: WorkerPhase) => void): EmittedTarget[];
}

/**
 * Starts the worker (`file`, which calls `serveTargets` with the mesh registry) for these targets; `workerOnly`
 * leaves every target to the worker (tests: each target's work is then known to cross the threads).
 */
export function startTargetWorker(file: string, targets: readonly Target[], root: string, workerOnly = false): TargetWorker {
  const counters = new Int32Array(new SharedArrayBuffer(8));
  const channel = new MessageChannel();
  const data: WorkerData = { port: channel.port2, counters: counters.buffer as SharedArrayBuffer, targets: targets.map((t) => t.name), root };
  const worker = new Worker(file, { workerData: data, transferList: [channel.port2] });
  worker.unref();
  const port = channel.port1;
  port.unref();
  const close = (): void => {
    // Claims every target left, so a worker still loading takes none, then ends the thread and its copy of the model.
    Atomics.store(counters, 0, targets.length);
    port.close();
    void worker.terminate();
  };
  return {
    close,
    start(model) {
      port.postMessage({ model: JSON.stringify(model) } satisfies Job);
      return {
        collect(emitHere, time, reportPhase) {
          const results: (EmittedTarget | { readonly error: unknown } | undefined)[] = [];
          // The worker takes the first target, this thread the second, then each thread the next when it is free:
          // the order is the same on a loaded machine, where the worker is late, as on an idle one. With the
          // registry's order this thread compiles Linkerd, the largest output, whose files are then not copied.
          const deadline = Date.now() + FIRST_TAKE_WAIT_MS;
          while (!workerOnly && Atomics.load(counters, 0) === 0 && Date.now() < deadline) Atomics.wait(counters, 0, 0, 100);
          for (let index = workerOnly ? undefined : take(counters, targets.length); index !== undefined; index = take(counters, targets.length)) {
            try {
              results[index] = emitHere(targets[index] as Target);
            } catch (error) {
              results[index] = { error };
              // The worker finishes the target it has taken; none other is started.
              Atomics.store(counters, 0, targets.length);
            }
          }
          const phases: WorkerPhase[] = [];
          let failure: { readonly error: unknown } | undefined;
          time('target worker wait', () => {
            let seen = 0;
            for (let done = false; !done;) {
              Atomics.wait(counters, 1, seen, 100);
              seen = Atomics.load(counters, 1);
              for (let message = receiveMessageOnPort(port); message !== undefined; message = receiveMessageOnPort(port)) {
                const reply = message.message as Reply;
                if ('done' in reply) done = true;
                else if ('error' in reply && reply.index < 0) failure = { error: reply.error };
                else if ('error' in reply) results[reply.index] = { error: reply.error };
                else {
                  results[reply.index] = { ...reply.emitted, files: unpack(reply.files) };
                  phases.push(...reply.phases);
                }
              }
            }
          });
          for (const phase of phases) reportPhase(phase);
          close();
          if (failure !== undefined) throw failure.error;
          return targets.map((target, index) => {
            const result = results[index];
            if (result !== undefined && 'error' in result) throw result.error;
            if (result === undefined) throw new Error(`target ${target.name} was taken by no thread`);
            return result;
          });
        },
      };
    },
  };
}

/** The body of a target worker thread (see `startTargetWorker`): `registry` is the mesh registry's targets by name. */
export function serveTargets(data: unknown, registry: ReadonlyMap<string, Target>): void {
  const { port, counters, targets: names, root } = data as WorkerData;
  const shared = new Int32Array(counters);
  const post = (reply: Reply): void => {
    try {
      port.postMessage(reply);
    } catch (error) {
      // A thrown value that cannot be cloned is posted as its text.
      port.postMessage({ index: 'index' in reply ? reply.index : -1, error: new Error(String('error' in reply ? reply.error : error)) });
    }
    Atomics.add(shared, 1, 1);
    Atomics.notify(shared, 1);
  };
  const targets = names.map((name) => registry.get(name));
  const store = new SourceStore(root);
  const spanOf: TargetContext['spanOf'] = (location) => store.spanOfLocation(location);
  port.on('message', (job: Job) => {
    let model: PolicyModel;
    try {
      model = JSON.parse(job.model) as PolicyModel;
    } catch (error) {
      // Before any target: the worker takes none, and this thread reports the failure after its own.
      post({ index: -1, error });
      post({ done: true });
      port.close();
      return;
    }
    for (let index = take(shared, targets.length); index !== undefined; index = take(shared, targets.length)) {
      const target = targets[index];
      const phases: WorkerPhase[] = [];
      const time: PhaseTimer = (phase, run) => {
        const start = performance.now();
        try {
          return run();
        } finally {
          phases.push({ phase, ms: Math.round((performance.now() - start) * 10) / 10 });
        }
      };
      try {
        if (target === undefined) throw new Error(`the target worker has no target '${names[index] ?? ''}'`);
        const { files, ...emitted } = emitTarget(target, model, spanOf, time);
        post({ index, emitted, files: pack(files), phases });
      } catch (error) {
        post({ index, error });
        break;
      }
    }
    post({ done: true });
    port.close();
  });
}
