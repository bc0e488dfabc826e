/**
 * Progress on stderr for long builds: one line, rewritten in place, naming the phase and a count. Only when
 * stderr is a terminal (a log file or a CI step gets no control characters) and only once the build has
 * run for a second (a quick build prints nothing). The compiler is synchronous, so the line is updated when
 * a phase starts or a count moves, never by a timer.
 */
import type { Io } from './common';

/** A build shorter than this prints no progress at all. */
export const PROGRESS_DELAY_MS = 1000;
/** At most one redraw per this many milliseconds: redrawing on every file would cost more than writing it. */
const REDRAW_MS = 100;
const CLEAR_LINE = '\r\u001b[2K';

export class Progress {
  private readonly enabled: boolean;
  private readonly now: () => number;
  private readonly started: number;
  private phaseName = '';
  private lastDrawn = -Infinity;
  private shown = false;

  constructor(private readonly io: Io) {
    this.enabled = io.isTTY?.stderr === true;
    this.now = io.now ?? (() => performance.now());
    this.started = this.now();
  }

  /** A new phase starts (`evaluating`, `writing istio`): shown at once if the build is already slow. */
  phase(name: string): void {
    this.phaseName = name;
    this.draw(undefined, true);
  }

  /** How far the current phase is. */
  count(done: number, total: number): void {
    this.draw(`${done}/${total}`, done === total);
  }

  /** Removes the progress line before the results are printed. */
  done(): void {
    if (this.shown) this.io.stderr(CLEAR_LINE);
    this.shown = false;
  }

  private draw(count: string | undefined, force: boolean): void {
    if (!this.enabled) return;
    const now = this.now();
    const elapsed = now - this.started;
    if (elapsed < PROGRESS_DELAY_MS || (!force && now - this.lastDrawn < REDRAW_MS)) return;
    this.lastDrawn = now;
    this.shown = true;
    this.io.stderr(`${CLEAR_LINE}policyc: ${this.phaseName}${count === undefined ? '' : ` ${count}`} (${(elapsed / 1000).toFixed(1)} s)`);
  }
}
