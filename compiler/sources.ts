/**
 * The policy source files of one build, read once and shared by every phase (type-check positions,
 * evaluation, code frames). Paths are absolute.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Span } from '../diagnostics/diagnostic';
import { lineAndColumn, offsetOf } from '../diagnostics/diagnostic';
import type { SourceLocation } from '../model/model';

export class SourceStore {
  private readonly texts = new Map<string, string | undefined>();
  /** Per file, the offset where each line starts (built on the first location asked for in it). */
  private readonly lineStarts = new Map<string, { readonly text: string; readonly starts: readonly number[] }>();
  /** Per file, its model path and its absolute path (a model locates thousands of declarations in a few files). */
  private readonly relatives = new Map<string, string>();
  private readonly absolutes = new Map<string, string>();

  /**
   * `root` is the folder model locations are relative to. `overlay` holds texts that replace files on disk:
   * an editor's unsaved buffers.
   */
  constructor(
    readonly root: string,
    private readonly overlay: ReadonlyMap<string, string> = new Map(),
  ) {}

  /** The file's text, or undefined when it cannot be read. */
  read(file: string): string | undefined {
    const unsaved = this.overlay.get(file);
    if (unsaved !== undefined) return unsaved;
    if (!this.texts.has(file)) {
      let text: string | undefined;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        text = undefined;
      }
      this.texts.set(file, text);
    }
    return this.texts.get(file);
  }

  /** Forgets a file so the next read sees the disk again. */
  forget(file: string): void {
    this.texts.delete(file);
  }

  /** A file's path as stored in the model: relative to the root, `/`-separated. */
  relative(file: string): string {
    let relative = this.relatives.get(file);
    if (relative === undefined) this.relatives.set(file, (relative = path.relative(this.root, file).split(path.sep).join('/')));
    return relative;
  }

  absolute(relativeFile: string): string {
    let absolute = this.absolutes.get(relativeFile);
    if (absolute === undefined) this.absolutes.set(relativeFile, (absolute = path.resolve(this.root, relativeFile)));
    return absolute;
  }

  /** The model location of a 1-based line and column, underlining the identifier that starts there. */
  locationAt(file: string, line: number, column: number): SourceLocation {
    const text = this.read(file) ?? '';
    const start = this.offsetOf(file, text, line, column);
    const word = /^[A-Za-z_$][\w$]*/.exec(text.slice(start, start + 200));
    return { file: this.relative(file), line, column, start, length: word?.[0].length ?? 1 };
  }

  /** `offsetOf` of diagnostics/diagnostic.ts, by an index of the file's line starts instead of a scan from the top. */
  private offsetOf(file: string, text: string, line: number, column: number): number {
    if (!Number.isInteger(line)) return offsetOf(text, line, column);
    let index = this.lineStarts.get(file);
    if (index?.text !== text) {
      const starts = [0];
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
      this.lineStarts.set(file, (index = { text, starts }));
    }
    const lineStart = line <= 1 ? 0 : index.starts[line - 1];
    return lineStart === undefined ? text.length : Math.min(lineStart + column - 1, text.length);
  }

  /** A diagnostic span for an offset range of a file. */
  spanOf(file: string, start: number, end: number): Span {
    const text = this.read(file) ?? '';
    const { line, column } = lineAndColumn(text, start);
    return { file, line, column, start, length: Math.max(1, end - start) };
  }

  /** A diagnostic span for a model location. */
  spanOfLocation(location: SourceLocation | undefined): Span | undefined {
    if (location === undefined) return undefined;
    const { file, ...rest } = location;
    return { file: this.absolute(file), ...rest };
  }
}
