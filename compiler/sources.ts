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
    return path.relative(this.root, file).split(path.sep).join('/');
  }

  absolute(relativeFile: string): string {
    return path.resolve(this.root, relativeFile);
  }

  /** The model location of a 1-based line and column, underlining the identifier that starts there. */
  locationAt(file: string, line: number, column: number): SourceLocation {
    const text = this.read(file) ?? '';
    const start = offsetOf(text, line, column);
    const word = /^[A-Za-z_$][\w$]*/.exec(text.slice(start, start + 200));
    return { file: this.relative(file), line, column, start, length: word?.[0].length ?? 1 };
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
