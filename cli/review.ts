/**
 * `policyc diff` and `policyc graph`: reviewing a policy change. `diff --base <ref> [entry]` compiles the
 * entry as it is in the work tree and as it was at a git ref (read with `git archive` into a temporary
 * folder: the work tree and the index are never touched); `diff <old> <new>` compares two entry files.
 * A diff is information, so it exits 0 whatever it finds; 1 when either side has policy errors.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { accessMatrix } from '../review/access';
import { compile, DEFAULT_EVALUATION_TIMEOUT_MS, type CompileResult } from '../compiler/compile';
import { hasErrors, type Diagnostic } from '../diagnostics/diagnostic';
import { diagnosticsAsJson, displayPath } from '../diagnostics/format';
import { formatAnnotation } from '../diagnostics/github';
import { diffAsJson, diffModels, emptyModel, formatDiffMarkdown, formatDiffText, type PolicyDiff } from '../review/diff';
import { graphDot, graphMermaid } from '../review/graph';
import type { PolicyModel } from '../model/model';
import { targets } from '../meshes';
import { DEFAULT_ENTRY, entryProblem, EXIT, parseEvalTimeout, report, resolveTargets, type CommandContext, type DiagnosticFormat } from './common';

type DiffFormat = 'text' | 'json' | 'markdown' | 'github' | 'sarif';
type GraphFormat = 'mermaid' | 'dot' | 'json' | 'github' | 'sarif';

interface DiffOptions {
  readonly base?: string;
  readonly target: string;
  readonly format: DiffFormat;
  readonly evalTimeout: string;
  readonly verbose?: boolean;
}

interface GraphOptions {
  readonly format: GraphFormat;
  readonly evalTimeout: string;
  readonly verbose?: boolean;
}

function git(args: readonly string[], cwd: string): Buffer {
  return execFileSync('git', [...args], { cwd, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A path with symbolic links resolved as far as it exists (git reports the top level that way). */
function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.join(realPath(path.dirname(file)), path.basename(file));
  }
}

/** The repository at `ref`, extracted from git objects into a temporary folder. */
function extractRef(ref: string, cwd: string): { dir: string; top: string } | string {
  let top: string;
  try {
    top = git(['rev-parse', '--show-toplevel'], cwd).toString('utf8').trim();
  } catch {
    return `${cwd} is not inside a git repository, so --base ${ref} cannot be read.`;
  }
  let commit: string;
  try {
    commit = git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], top)
      .toString('utf8')
      .trim();
  } catch {
    return `'${ref}' is not a commit of this repository.`;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-base-'));
  execFileSync('tar', ['-x', '-f', '-', '-C', dir], { input: git(['archive', '--format=tar', commit], top), maxBuffer: 1 << 30 });
  return { dir, top: realPath(top) };
}

export function registerReview(program: Command, context: CommandContext): void {
  const { io } = context;
  const targetNames = [...targets.keys(), 'all'].join(', ');

  const diffCommand = program
    .command('diff')
    .description('the calls a policy change grants and revokes: `diff --base <git-ref> [entry]` or `diff <old-entry> <new-entry>`')
    .argument('[entries...]', `the entry (default ${DEFAULT_ENTRY}) with --base, or the old and the new entry`)
    .option('--base <ref>', 'compare with the entry as it is at this git ref (read from git objects; the work tree is not touched)')
    .option('-t, --target <name>', `meshes to compile for (and give rollout notes for): ${targetNames}`, 'istio')
    .addOption(new Option('--format <format>', 'how to print the diff').choices(['text', 'json', 'markdown', 'github', 'sarif']).default('text'))
    .option('--eval-timeout <ms>', 'bound on policy evaluation, in milliseconds', String(DEFAULT_EVALUATION_TIMEOUT_MS))
    .option('--verbose', 'print every warning in full (by default, one line per warning code)');

  diffCommand.action((entries: string[], options: DiffOptions) => {
    if (options.base === undefined ? entries.length !== 2 : entries.length > 1) {
      diffCommand.error(
        options.base === undefined
          ? 'error: give the old and the new entry (`policyc diff old.ts new.ts`), or a git ref (`policyc diff --base main [entry]`)'
          : 'error: with --base, give at most one entry',
      );
    }
    const chosen = resolveTargets(options.target);
    const diagnosticFormat: DiagnosticFormat = options.format === 'markdown' ? 'text' : options.format;
    const timeoutMs = parseEvalTimeout(options.evalTimeout);
    // With --base, only the work tree's entry must exist now; the ref's may be missing (an added policy).
    const entryIssue = (options.base === undefined ? entries : [entries[0] ?? DEFAULT_ENTRY]).map((e) => entryProblem(e, io)).find((d) => d !== undefined);
    const usage = !Array.isArray(chosen) ? chosen : typeof timeoutMs !== 'number' ? timeoutMs : entryIssue;
    if (usage !== undefined || !Array.isArray(chosen) || typeof timeoutMs !== 'number') {
      if (usage !== undefined) report([usage], diagnosticFormat, io, () => undefined);
      context.setExit(EXIT.usage);
      return;
    }
    const run = (entry: string): CompileResult => compile({ entry: path.resolve(io.cwd, entry), targets: chosen, evaluationTimeoutMs: timeoutMs });

    let baseDir: string | undefined;
    try {
      let before: CompileResult;
      let after: CompileResult;
      let labels: { base: string; head: string };
      /** Base-side errors (its warnings are not news) point at the work tree's path of the file, read from the extracted copy. */
      let baseFile: (file: string) => string | undefined = () => undefined;
      let baseMissing = false;
      if (options.base !== undefined) {
        const extracted = extractRef(options.base, io.cwd);
        if (typeof extracted === 'string') diffCommand.error(`error: ${extracted}`);
        const { dir, top } = extracted as { dir: string; top: string };
        baseDir = dir;
        const entry = realPath(path.resolve(io.cwd, entries[0] ?? DEFAULT_ENTRY));
        const relative = path.relative(top, entry);
        if (relative.startsWith('..') || path.isAbsolute(relative))
          diffCommand.error(`error: ${entries[0] ?? DEFAULT_ENTRY} is outside the git repository ${top}`);
        after = run(entry);
        const baseEntry = path.join(dir, relative);
        baseMissing = !fs.existsSync(baseEntry);
        before = baseMissing ? after : run(baseEntry);
        labels = { base: options.base, head: 'work tree' };
        const toBase = new Map<string, string>();
        baseFile = (file) => toBase.get(file);
        before = {
          ...before,
          diagnostics: baseMissing
            ? []
            : before.diagnostics
                .filter((d) => d.severity === 'error')
                .map((d) => {
                  const moved = (span: Diagnostic['span']) => {
                    if (span === undefined) return undefined;
                    const file = path.join(top, path.relative(dir, span.file));
                    toBase.set(file, span.file);
                    return { ...span, file };
                  };
                  const keepSpans = diagnosticFormat === 'text' || diagnosticFormat === 'json';
                  const span = keepSpans ? moved(d.span) : undefined;
                  const { span: _span, ...rest } = d;
                  void _span;
                  return { ...rest, message: `(at ${options.base}) ${d.message}`, ...(span === undefined ? {} : { span }) };
                }),
        };
      } else {
        const old = run(entries[0] as string);
        before = { ...old, diagnostics: old.diagnostics.filter((d) => d.severity === 'error') };
        after = run(entries[1] as string);
        labels = {
          base: displayPath(path.resolve(io.cwd, entries[0] as string), io.cwd),
          head: displayPath(path.resolve(io.cwd, entries[1] as string), io.cwd),
        };
      }
      const diagnostics = baseMissing ? after.diagnostics : [...before.diagnostics, ...after.diagnostics];
      const read = (file: string): string | undefined => {
        const old = baseFile(file);
        return old !== undefined ? before.store.read(old) : (after.store.read(file) ?? before.store.read(file));
      };
      if (hasErrors(diagnostics) || before.model === undefined || after.model === undefined) {
        report(diagnostics, diagnosticFormat, io, read, options);
        context.setExit(EXIT.policyErrors);
        return;
      }
      const oldModel: PolicyModel = baseMissing ? emptyModel(after.model) : before.model;
      const diff = diffModels(oldModel, after.model, { ...labels, targets: chosen });
      printDiff(diff, oldModel, after.model, options, diagnostics, read, after);
      context.setExit(EXIT.ok);
    } finally {
      if (baseDir !== undefined) fs.rmSync(baseDir, { recursive: true, force: true });
    }
  });

  const printDiff = (
    diff: PolicyDiff,
    before: PolicyModel,
    after: PolicyModel,
    options: DiffOptions,
    diagnostics: readonly Diagnostic[],
    read: (file: string) => string | undefined,
    head: CompileResult,
  ): void => {
    const format = options.format;
    switch (format) {
      case 'text':
        io.stdout(formatDiffText(diff));
        report(diagnostics, 'text', io, read, options);
        return;
      case 'markdown':
        io.stdout(formatDiffMarkdown(diff, before, after));
        report(diagnostics, 'text', io, read, options);
        return;
      case 'json':
        io.stdout(`${JSON.stringify({ ...(diffAsJson(diff) as object), diagnostics: diagnosticsAsJson(diagnostics, io.cwd) }, null, 2)}\n`);
        return;
      case 'github': {
        report(diagnostics, 'github', io, read);
        // Review items as annotations: a widening at the rule that grants it (a line of the new policy).
        const changes = [...diff.granted, ...diff.changed];
        for (const item of diff.review) {
          const change = changes.find((c) => `${c.source} → ${c.destination}:${c.port} (${c.portNumber})` === item.call);
          const location = item.kind === 'widening' ? change?.after?.location : undefined;
          const span = head.store.spanOfLocation(location);
          io.stdout(
            formatAnnotation({
              level: 'warning',
              title: `policyc diff: ${item.kind === 'revocation' ? 'revoked' : 'widened'} ${item.call}`,
              message: [`${item.call}: ${item.what}`, ...item.watch.map((w) => `watch: ${w}`)].join('\n'),
              ...(span === undefined ? {} : { file: displayPath(span.file, io.cwd), line: span.line, col: span.column, endColumn: span.column + span.length }),
            }),
          );
        }
        return;
      }
      case 'sarif':
        report(diagnostics, 'sarif', io, read);
        return;
      default:
        format satisfies never;
    }
  };

  const graphCommand = program
    .command('graph')
    .description('the whole access graph: services grouped by namespace, edges labelled with ports and L7 limits, mTLS per port')
    .argument('[entry]', 'the policy entry file', DEFAULT_ENTRY)
    .addOption(
      new Option('--format <format>', 'mermaid or dot; json prints the access matrix; github and sarif print only diagnostics')
        .choices(['mermaid', 'dot', 'json', 'github', 'sarif'])
        .default('mermaid'),
    )
    .option('--eval-timeout <ms>', 'bound on policy evaluation, in milliseconds', String(DEFAULT_EVALUATION_TIMEOUT_MS))
    .option('--verbose', 'print every warning in full (by default, one line per warning code)');
  graphCommand.action((entry: string, options: GraphOptions) => {
    const timeoutMs = parseEvalTimeout(options.evalTimeout);
    const usage = typeof timeoutMs !== 'number' ? timeoutMs : entryProblem(entry, io);
    if (usage !== undefined || typeof timeoutMs !== 'number') {
      if (usage !== undefined)
        report([usage], options.format === 'github' || options.format === 'sarif' || options.format === 'json' ? options.format : 'text', io, () => undefined);
      context.setExit(EXIT.usage);
      return;
    }
    const result = compile({ entry: path.resolve(io.cwd, entry), targets: [], evaluationTimeoutMs: timeoutMs });
    const read = (file: string) => result.store.read(file);
    const failed = hasErrors(result.diagnostics) || result.model === undefined;
    context.setExit(failed ? EXIT.policyErrors : EXIT.ok);
    switch (options.format) {
      case 'github':
      case 'sarif':
        report(result.diagnostics, options.format, io, read);
        return;
      case 'json':
        if (failed || result.model === undefined) {
          report(result.diagnostics, 'json', io, read);
          return;
        }
        io.stdout(`${JSON.stringify({ access: accessMatrix(result.model), diagnostics: diagnosticsAsJson(result.diagnostics, io.cwd) }, null, 2)}\n`);
        return;
      case 'mermaid':
      case 'dot':
        report(result.diagnostics, 'text', io, read, options);
        if (result.model === undefined || failed) return;
        io.stdout(options.format === 'mermaid' ? graphMermaid(result.model) : graphDot(result.model));
        return;
      default:
        options.format satisfies never;
    }
  });
}
