/**
 * The pipeline: load and type-check → evaluate → model → validate → targets → render. Type-checking runs in
 * a worker thread beside the rest (it is the one cost we cannot skip, so nothing waits for it until the end).
 * Each phase reports diagnostics and a phase with errors stops the ones after it; when type-checking finds
 * errors, only those are reported and nothing evaluation produced is used. A build with any error renders
 * nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubernetesObject, Target, TargetContext, TargetOutput } from '../model/target';
import { fingerprint, isRefusal, reachedNamespaces, splice, subModel, type ModelFingerprint } from './splice';
import { buildModel } from './build-model';
import { diagnostic, hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics/diagnostic';
import { evaluate, type EvaluatorSession } from './evaluate';
import type { PolicyModel } from '../model/model';
import { renderTarget, toYaml, type RenderedFiles } from './render';
import type { EmitMemo, TargetMemo } from './emit-memo';
import { SourceStore } from './sources';
import { PolicyTypeChecker, type TypecheckResult } from './typecheck';
import { validateModel } from './check-model';
import { validateEmitted } from './check-emitted';
import { ACKNOWLEDGED_FILE, acknowledgedReport, markAcknowledged } from './acknowledge';

export interface CompileOptions {
  /** The entry file (absolute or relative to cwd). */
  readonly entry: string;
  /** Targets to compile for; none for `check` of the model only. */
  readonly targets: readonly Target[];
  /** Bound on policy evaluation. */
  readonly evaluationTimeoutMs?: number;
  /** A type-checker session to reuse (watch mode); otherwise one is opened and closed. */
  readonly checker?: PolicyTypeChecker;
  /** Files changed since the checker's last check (watch mode). */
  readonly changedFiles?: readonly string[];
  /** Texts that replace files on disk, by absolute path: an editor's unsaved buffers (`policyc lsp`). */
  readonly overlay?: ReadonlyMap<string, string>;
  /** Type errors of these files only (an editor's open and changed files); every file's when absent. */
  readonly typecheckOnly?: readonly string[];
  /** Kept across builds by a long-lived session (watch): objects an edit did not change are not validated or serialised again. */
  readonly memo?: EmitMemo;
  /** An evaluator kept alive across builds (watch): only the modules an edit changed, and their importers, run again. */
  readonly evaluator?: EvaluatorSession;
  /** Told when each phase starts (the CLI's progress line). */
  readonly onPhase?: (phase: string) => void;
}

export interface CompileResult {
  readonly model?: PolicyModel;
  /** Sorted, de-duplicated; errors mean nothing must be written. */
  readonly diagnostics: readonly Diagnostic[];
  /** Per target name, the files of its output folder (only when there are no errors). */
  readonly outputs: ReadonlyMap<string, RenderedFiles>;
  readonly store: SourceStore;
  /** The policy files the entry pulled in (absolute). */
  readonly files: readonly string[];
}

// A bound for endless loops, not a budget: evaluating 5,000 services takes seconds on a busy 2-core machine.
export const DEFAULT_EVALUATION_TIMEOUT_MS = 60_000;

/** `POLICYC_PHASES=1`: read once, so an unset variable costs one branch per phase. */
const REPORT_PHASES = process.env['POLICYC_PHASES'] === '1';

/**
 * Runs one phase of a build; with `POLICYC_PHASES=1`, prints its wall and CPU time on stderr as one JSON line,
 * `{"phase":"evaluate","ms":12.3,"cpuMs":11.8}`, which bench/run.ts collects into its per-phase table.
 */
export function timePhase<T>(phase: string, run: () => T): T {
  if (!REPORT_PHASES) return run();
  const start = performance.now();
  const cpu = process.cpuUsage();
  try {
    return run();
  } finally {
    // CPU time beside wall time: on a shared machine, the one that says what the phase cost (all of this process's threads).
    const used = process.cpuUsage(cpu);
    const cpuMs = Math.round((used.user + used.system) / 100) / 10;
    process.stderr.write(`${JSON.stringify({ phase, ms: Math.round((performance.now() - start) * 10) / 10, cpuMs })}\n`);
  }
}

export function compile(options: CompileOptions): CompileResult {
  const entry = path.resolve(options.entry);
  const store = new SourceStore(path.dirname(entry), options.overlay);
  const finish = (
    diagnostics: readonly Diagnostic[],
    files: readonly string[],
    model?: PolicyModel,
    outputs = new Map<string, RenderedFiles>(),
  ): CompileResult => ({
    diagnostics: sortDiagnostics(diagnostics),
    outputs: hasErrors(diagnostics) ? new Map() : outputs,
    store,
    files,
    ...(model === undefined ? {} : { model }),
  });

  if (!fs.existsSync(entry) || !fs.statSync(entry).isFile()) {
    return finish(
      [diagnostic('entry-not-found', `Entry file '${options.entry}' does not exist. Pass the policy's entry file, e.g. \`policyc build policy/mesh.ts\`.`)],
      [],
    );
  }
  for (const file of options.changedFiles ?? []) store.forget(file);

  const checker = options.checker ?? new PolicyTypeChecker();
  // tsgo checks in its own thread and process while this thread evaluates and emits; the verdict decides
  // at the end, so a policy with type errors still produces only its type errors.
  const pending = timePhase('type-check start', () => checker.begin(entry, options.changedFiles, options.overlay, options.typecheckOnly));
  let checked: { readonly result: TypecheckResult } | { readonly error: unknown } | undefined;
  // Waits once for the verdict (a failed checker is not asked again) and closes a checker this build opened.
  const typecheck = (): TypecheckResult => {
    if (checked === undefined) {
      try {
        checked = { result: timePhase('type-check wait', () => pending.wait(store)) };
      } catch (error) {
        checked = { error };
      } finally {
        if (options.checker === undefined) checker.close();
      }
    }
    if ('error' in checked) throw checked.error;
    return checked.result;
  };
  try {
    options.onPhase?.('type-checking and evaluating');
    const emitted = evaluateAndEmit(entry, store, options);
    options.onPhase?.('waiting for the type checker');
    const types = typecheck();
    if (hasErrors(types.diagnostics)) return finish(types.diagnostics, types.files);
    return finish([...types.diagnostics, ...emitted.diagnostics], types.files, emitted.model, emitted.outputs);
  } finally {
    // An exception before the verdict still collects the checker's answer, so the session stays usable.
    if (checked === undefined) {
      try {
        typecheck();
      } catch {
        // The exception already propagating is the one to report.
      }
    }
  }
}

/**
 * A target's output in a long-lived session: when the target compiled a previous model and the edit reached only
 * some namespaces, those are compiled on a sub-model and spliced into the previous output (compiler/splice.ts);
 * otherwise, or when the splice cannot be shown exact, everything is compiled. A target that shares objects across
 * namespaces (`Target.acrossNamespaces`) splices its per-namespace output, and then shares over the whole of it.
 */
export function compileIncrementally(
  target: Target,
  model: PolicyModel,
  modelFingerprint: ModelFingerprint,
  memo: EmitMemo,
  spanOf: TargetContext['spanOf'],
): TargetOutput {
  const context: TargetContext = { spanOf };
  const across = target.acrossNamespaces;
  const compileEach = (m: PolicyModel): TargetOutput => (across === undefined ? target.compile(m, context) : across.compileEach(m, context));
  const last = memo.targets.get(target.name);
  let output: TargetOutput | undefined;
  let each: TargetOutput | undefined;
  let partial: TargetMemo['partial'];
  if (last !== undefined) {
    const reached = reachedNamespaces(model, last.fingerprint, modelFingerprint);
    if (reached !== undefined && reached.size === 0) {
      output = last.output;
      each = last.each;
    } else if (reached !== undefined && reached.size < model.namespaces.length) {
      const key = [...reached].sort().join(' ');
      // What the previous model's sub-model gave: kept from the previous splice when it reached the same namespaces.
      const before =
        last.partial?.reached === key
          ? last.partial.output
          : timePhase(`target ${target.name} before the edit`, () => compileEach(subModel(last.model, reached)));
      const now = timePhase(`target ${target.name}`, () => compileEach(subModel(model, reached)));
      const spliced = timePhase(`splice ${target.name}`, () => splice(model, reached, last.each ?? last.output, before, now));
      if (!isRefusal(spliced)) {
        each = spliced;
        partial = { reached: key, output: now };
      }
    }
  }
  if (output === undefined) {
    const whole = each ?? timePhase(`target ${target.name}`, () => compileEach(model));
    each = whole;
    output = across === undefined ? whole : timePhase(`share ${target.name}`, () => across.share(model, whole, context));
  }
  memo.targets.set(target.name, {
    model,
    fingerprint: modelFingerprint,
    output,
    ...(across === undefined || each === undefined ? {} : { each }),
    ...(partial === undefined ? {} : { partial }),
  });
  return output;
}

/** Everything but type-checking: evaluate → model → validate → targets → render. */
function evaluateAndEmit(
  entry: string,
  store: SourceStore,
  options: CompileOptions,
): { diagnostics: Diagnostic[]; model?: PolicyModel; outputs: Map<string, RenderedFiles> } {
  const outputs = new Map<string, RenderedFiles>();
  const evaluateOptions = { timeoutMs: options.evaluationTimeoutMs ?? DEFAULT_EVALUATION_TIMEOUT_MS };
  const evaluated = timePhase('evaluate', () => options.evaluator?.evaluate(entry, store, evaluateOptions) ?? evaluate(entry, store, evaluateOptions));
  if (hasErrors(evaluated.diagnostics)) return { diagnostics: [...evaluated.diagnostics], outputs };

  options.onPhase?.('building the model');
  const built = timePhase('model', () => buildModel(evaluated.exported, entry, store, evaluated.locate, options.memo?.model));
  const diagnostics = [...built.diagnostics];
  if (built.model === undefined || hasErrors(diagnostics)) return { diagnostics, ...(built.model === undefined ? {} : { model: built.model }), outputs };
  const model = built.model;
  options.onPhase?.(`validating ${model.services.length} services, ${model.rules.length} rules`);
  const spanOf = (location: Parameters<SourceStore['spanOfLocation']>[0]) => store.spanOfLocation(location);
  const modelDiagnostics = markAcknowledged(
    model,
    timePhase('validate model', () => validateModel(model, store, options.memo?.model.validation)),
    spanOf,
  );
  diagnostics.push(...modelDiagnostics);
  if (hasErrors(diagnostics)) return { diagnostics, model, outputs };

  const { memo } = options;
  const modelFingerprint = memo === undefined ? undefined : timePhase('fingerprint', () => fingerprint(model, memo.model.fingerprint));
  for (const target of options.targets) {
    options.onPhase?.(`compiling ${model.services.length} services for ${target.name}`);
    const output =
      memo === undefined || modelFingerprint === undefined
        ? timePhase(`target ${target.name}`, () => target.compile(model, { spanOf }))
        : compileIncrementally(target, model, modelFingerprint, memo, spanOf);
    const emitted = [...output.objects, ...(output.patches ?? [])];
    const targetDiagnostics = markAcknowledged(
      model,
      [...output.diagnostics, ...timePhase(`validate emitted ${target.name}`, () => validateEmitted(target, emitted, memo))],
      spanOf,
    );
    diagnostics.push(...targetDiagnostics);
    options.onPhase?.(`rendering ${output.objects.length} ${target.name} objects`);
    const yamlOf =
      memo === undefined
        ? toYaml
        : (object: KubernetesObject): string => {
            const entry = memo.entry(target.name, object);
            entry.yaml ??= toYaml(object);
            return entry.yaml;
          };
    const rendered = timePhase(`render ${target.name}`, () => renderTarget(output, model.entry, yamlOf));
    // The model's acknowledged warnings hold for every target; a target's own, for its folder only.
    const report = acknowledgedReport([...modelDiagnostics, ...targetDiagnostics], model.entry, (file) => store.relative(file));
    const files: [string, string][] = [...rendered, ...(report === undefined ? [] : [[ACKNOWLEDGED_FILE, report] as [string, string]])];
    outputs.set(target.name, new Map(files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }
  options.memo?.endBuild();
  return { diagnostics, model, outputs };
}
