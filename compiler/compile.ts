/**
 * The pipeline, in order: load and type-check → evaluate → model → validate → targets → render.
 * Each phase reports diagnostics; a phase with errors stops the pipeline after it, so a policy with
 * type errors is never evaluated and a build with any error renders nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Target } from '../targets/contract';
import { buildModel } from './build-model';
import { diagnostic, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics/diagnostic';
import { evaluate } from './evaluate';
import type { PolicyModel } from './model';
import { renderTarget, type RenderedFiles } from './render';
import { SourceStore } from './sources';
import { PolicyTypeChecker } from './typecheck';
import { validateModel } from './validate';
import { validateEmitted } from './validate-emitted';

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

export const DEFAULT_EVALUATION_TIMEOUT_MS = 10_000;

export function compile(options: CompileOptions): CompileResult {
  const entry = path.resolve(options.entry);
  const store = new SourceStore(path.dirname(entry));
  const finish = (diagnostics: readonly Diagnostic[], files: readonly string[], model?: PolicyModel, outputs = new Map<string, RenderedFiles>()): CompileResult => ({
    diagnostics: sortDiagnostics(diagnostics),
    outputs: hasErrors(diagnostics) ? new Map() : outputs,
    store,
    files,
    ...(model === undefined ? {} : { model }),
  });

  if (!fs.existsSync(entry) || !fs.statSync(entry).isFile()) {
    return finish([diagnostic('entry-not-found', `Entry file '${options.entry}' does not exist. Pass the policy's entry file, e.g. \`policyc build policy/mesh.ts\`.`)], []);
  }
  for (const file of options.changedFiles ?? []) store.forget(file);

  const checker = options.checker ?? new PolicyTypeChecker();
  let checked;
  try {
    checked = checker.check(entry, store, options.changedFiles);
  } finally {
    if (options.checker === undefined) checker.close();
  }
  if (hasErrors(checked.diagnostics)) return finish(checked.diagnostics, checked.files);

  const evaluated = evaluate(entry, checked.files, store, { timeoutMs: options.evaluationTimeoutMs ?? DEFAULT_EVALUATION_TIMEOUT_MS });
  if (hasErrors(evaluated.diagnostics)) return finish(evaluated.diagnostics, checked.files);

  const built = buildModel(evaluated.exported, entry, store, evaluated.locate);
  const diagnostics = [...checked.diagnostics, ...built.diagnostics];
  if (built.model === undefined || hasErrors(diagnostics)) return finish(diagnostics, checked.files, built.model);
  const model = built.model;
  diagnostics.push(...validateModel(model, store));
  if (hasErrors(diagnostics)) return finish(diagnostics, checked.files, model);

  const outputs = new Map<string, RenderedFiles>();
  for (const target of options.targets) {
    const output = target.compile(model, { spanOf: (location) => store.spanOfLocation(location) });
    diagnostics.push(...output.diagnostics, ...validateEmitted(target.name, [...output.objects, ...(output.patches ?? [])]));
    outputs.set(target.name, renderTarget(output, model.entry));
  }
  return finish(diagnostics, checked.files, model, outputs);
}
