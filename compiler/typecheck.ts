/**
 * Load and type-check: the entry and everything it imports, with TypeScript 7's native checker through
 * its synchronous API. The project is a virtual tsconfig of policyc's own (strict, no Node types, `policyc`
 * mapped to the DSL declarations), so a policy folder needs no tsconfig or install of its own.
 */
import * as path from 'node:path';
// TypeScript 7's API is ESM-only: this CommonJS module loads it with Node's require(esm) (Node >= 20.19).
import { API } from 'typescript/unstable/sync';
import { diagnostic, type Diagnostic } from './diagnostics/diagnostic';
import type { SourceStore } from './sources';

/** Where the DSL's declarations are, next to this file once compiled (`dist/dsl/index.d.ts`). */
export const DSL_DECLARATIONS = path.resolve(__dirname, '../dsl/index.d.ts');
const PACKAGE_DIST = path.resolve(__dirname, '..');

export interface TypecheckResult {
  /** The user's policy files in the program (absolute paths, sorted): the only files evaluation may load. */
  readonly files: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

/** The compiler options every policy is checked with. */
export function policyCompilerOptions(): Record<string, unknown> {
  return {
    strict: true,
    noEmit: true,
    target: 'es2022',
    lib: ['es2022'],
    types: [],
    module: 'preserve',
    moduleResolution: 'bundler',
    allowImportingTsExtensions: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    paths: { policyc: [DSL_DECLARATIONS] },
  };
}

function isUserFile(file: string): boolean {
  return !file.includes('/node_modules/') && !file.startsWith(PACKAGE_DIST + path.sep);
}

/**
 * One type-checker process. Keep it open across builds (watch mode, editor tests) and `close()` it at the end.
 */
export class PolicyTypeChecker {
  private api: API | undefined;
  private readonly configs = new Map<string, string>();

  private client(cwd: string): API {
    this.api ??= new API({
      cwd,
      fs: {
        readFile: (file) => this.configs.get(file),
        fileExists: (file) => (this.configs.has(file) ? true : undefined),
      },
    });
    return this.api;
  }

  /** Type-checks `entry` (absolute) and every file it imports. */
  check(entry: string, store: SourceStore, changedFiles: readonly string[] = []): TypecheckResult {
    const configFile = path.join(path.dirname(entry), `.policyc-${path.basename(entry)}.tsconfig.json`);
    const isNew = !this.configs.has(configFile);
    this.configs.set(configFile, JSON.stringify({ compilerOptions: policyCompilerOptions(), files: [entry] }));
    const api = this.client(path.dirname(entry));
    const snapshot = api.updateSnapshot(
      isNew ? { openProjects: [configFile] } : { fileChanges: { changed: [...changedFiles] } },
    );
    const project = snapshot.getProject(configFile);
    if (project === undefined) throw new Error(`the type checker did not open ${configFile}`);
    const program = project.program;
    const files = program
      .getSourceFileNames()
      .filter(isUserFile)
      .map((f) => path.resolve(f))
      .sort();
    const raw = [...program.getProgramDiagnostics(), ...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()];
    const diagnostics = raw.map((d) => {
      const message = `${flatten(d)} (TS${d.code})`;
      if (d.fileName === undefined) return diagnostic('type-error', message);
      const file = path.resolve(d.fileName);
      return diagnostic('type-error', message, store.spanOf(file, d.pos, d.end));
    });
    return { files, diagnostics };
  }

  /** Completions at an offset of a file of the last checked project (editor tests and benchmarks). */
  completionsAt(entry: string, file: string, offset: number): readonly string[] {
    const configFile = path.join(path.dirname(entry), `.policyc-${path.basename(entry)}.tsconfig.json`);
    const project = this.api?.updateSnapshot().getProject(configFile);
    const info = project?.checker.getCompletionsAtPosition(file, offset);
    return (info?.entries ?? []).map((e) => e.name);
  }

  close(): void {
    this.api?.close();
    this.api = undefined;
    this.configs.clear();
  }
}

interface ChainedMessage {
  readonly text: string;
  readonly messageChain?: readonly ChainedMessage[] | undefined;
}

/** TypeScript's chained message as one line per link, indented like tsc. */
function flatten(message: ChainedMessage, depth = 0): string {
  const own = `${depth === 0 ? '' : `\n${'  '.repeat(depth)}`}${message.text}`;
  return own + (message.messageChain ?? []).map((m) => flatten(m, depth + 1)).join('');
}
