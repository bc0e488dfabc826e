/**
 * The TypeScript 7 API session itself: a tsgo process opened through `typescript/unstable/sync`, with
 * policyc's virtual tsconfig per entry. It runs inside the type-check worker (typecheck-worker.ts), so the
 * main thread can evaluate and emit while tsgo checks.
 */
import * as path from 'node:path';
// TypeScript 7's API is ESM-only: this CommonJS module loads it with Node's require(esm) (Node >= 20.19).
import { API } from 'typescript/unstable/sync';
import { PACKAGE_DIST, policyCompilerOptions } from './typecheck-options';

/** A TypeScript diagnostic as plain data (it crosses the thread boundary). */
export interface RawDiagnostic {
  readonly fileName?: string;
  readonly pos: number;
  readonly end: number;
  readonly code: number;
  /** The chained message, one line per link, indented like tsc. */
  readonly text: string;
}

export interface RawCheck {
  /** The user's policy files in the program (absolute, sorted). */
  readonly files: readonly string[];
  readonly diagnostics: readonly RawDiagnostic[];
}

interface ChainedMessage {
  readonly text: string;
  readonly messageChain?: readonly ChainedMessage[] | undefined;
}

function flatten(message: ChainedMessage, depth = 0): string {
  const own = `${depth === 0 ? '' : `\n${'  '.repeat(depth)}`}${message.text}`;
  return own + (message.messageChain ?? []).map((m) => flatten(m, depth + 1)).join('');
}

function isUserFile(file: string): boolean {
  return !file.includes('/node_modules/') && !file.startsWith(PACKAGE_DIST + path.sep);
}

function configFileOf(entry: string): string {
  return path.join(path.dirname(entry), `.policyc-${path.basename(entry)}.tsconfig.json`);
}

export class TypecheckSession {
  private api: API | undefined;
  private readonly configs = new Map<string, string>();
  /** Unsaved editor texts that replace files on disk for the current check. */
  private overlay = new Map<string, string>();

  private client(cwd: string): API {
    this.api ??= new API({
      cwd,
      fs: {
        readFile: (file) => this.configs.get(file) ?? this.overlay.get(file),
        fileExists: (file) => (this.configs.has(file) || this.overlay.has(file) ? true : undefined),
      },
    });
    return this.api;
  }

  private project(entry: string, changedFiles: readonly string[]) {
    const configFile = configFileOf(entry);
    const isNew = !this.configs.has(configFile);
    this.configs.set(configFile, JSON.stringify({ compilerOptions: policyCompilerOptions(), files: [entry] }));
    const snapshot = this.client(path.dirname(entry)).updateSnapshot(isNew ? { openProjects: [configFile] } : { fileChanges: { changed: [...changedFiles] } });
    const project = snapshot.getProject(configFile);
    if (project === undefined) throw new Error(`the type checker did not open ${configFile}`);
    return project;
  }

  /**
   * Every diagnostic of the entry's program, with `overlay` texts in place of those files on disk; with
   * `onlyFiles`, the diagnostics of those files only (an editor re-checks what is open, not the program).
   */
  check(entry: string, changedFiles: readonly string[], overlay: Readonly<Record<string, string>> = {}, onlyFiles?: readonly string[]): RawCheck {
    this.overlay = new Map(Object.entries(overlay));
    const program = this.project(entry, changedFiles).program;
    const files = program
      .getSourceFileNames()
      .filter(isUserFile)
      .map((f) => path.resolve(f))
      .sort();
    const raw =
      onlyFiles === undefined
        ? [...program.getProgramDiagnostics(), ...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()]
        : [
            ...program.getProgramDiagnostics(),
            ...onlyFiles.filter((f) => files.includes(f)).flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
          ];
    return {
      files,
      diagnostics: raw.map((d) => ({ ...(d.fileName === undefined ? {} : { fileName: d.fileName }), pos: d.pos, end: d.end, code: d.code, text: flatten(d) })),
    };
  }

  /** Diagnostics of one file only: what an editor asks for after an edit. */
  fileDiagnostics(entry: string, file: string, changedFiles: readonly string[]): number {
    const program = this.project(entry, changedFiles).program;
    return program.getSyntacticDiagnostics(file).length + program.getSemanticDiagnostics(file).length;
  }

  completionsAt(entry: string, file: string, offset: number, changedFiles: readonly string[]): readonly string[] {
    const info = this.project(entry, changedFiles).checker.getCompletionsAtPosition(file, offset);
    return (info?.entries ?? []).map((e) => e.name);
  }

  close(): void {
    this.api?.close();
    this.api = undefined;
    this.configs.clear();
  }
}
