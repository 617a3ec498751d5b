// What the browser tests measure on the page, kept apart from the app's logic (app.ts owns one
// and exposes its figures through window.__app.status(), lastFrame(), recordFrames()):
//   - frames: with recording on, a hash and the mean of the canvas pixels right after each draw
//     (in the drawing task: a WebGPU canvas reads back as transparent once presented);
//   - the longest gap between animation frames while a run is on (does the tab stay fluid?);
//   - main-thread tasks over 50 ms (Long Tasks API, where the browser has it).

import { canvasPixels } from './canvas.ts';

export interface Frame {
  iteration: number;
  hash: string;
  mean: number;
}

/** FNV-1a of bytes, hex: tells canvas frames apart cheaply. */
function hashBytes(b: ArrayLike<number>): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export class PageProbe {
  frames: Frame[] = [];
  /** the iteration being drawn (set before each draw: recordFrame runs inside the draw) */
  pendingIteration = 0;
  private recording = false;
  private lastFramePixels: Uint8ClampedArray | null = null;
  private longTasks: Array<{ start: number; duration: number }> = [];
  private frameGap = { last: 0, longest: 0 };

  /** Starts listening for long tasks (once, at page start). */
  observeLongTasks(): void {
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) this.longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      // no Long Tasks API in this browser
    }
  }

  /** Forgets the long tasks seen so far (a run's first report starts its own count). */
  resetLongTasks(): void {
    this.longTasks = [];
  }

  /** Durations (ms) of the long tasks that started at or after `since`. */
  longTasksSince(since: number): number[] {
    return this.longTasks.filter((t) => t.start >= since).map((t) => t.duration);
  }

  /** Measures the longest gap between animation frames while `active()` holds. */
  watchFrames(active: () => boolean): void {
    this.frameGap = { last: performance.now(), longest: 0 };
    const tick = (t: number) => {
      if (!active()) return;
      this.frameGap.longest = Math.max(this.frameGap.longest, t - this.frameGap.last);
      this.frameGap.last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  get longestFrameGapMs(): number {
    return Math.round(this.frameGap.longest);
  }

  /** With recording on (tests), hashes the canvas right after each draw, in the drawing task. */
  recordFrame(canvas: HTMLCanvasElement): void {
    if (!this.recording) return;
    const px = canvasPixels(canvas);
    let sum = 0;
    for (let i = 0; i < px.length; i += 4) sum += px[i] + px[i + 1] + px[i + 2];
    this.lastFramePixels = px;
    this.frames.push({ iteration: this.pendingIteration, hash: hashBytes(px), mean: sum / ((px.length / 4) * 3) });
  }

  recordFrames(on: boolean): void {
    this.recording = on;
  }

  /** The canvas pixels of the last recorded frame, RGBA as a plain array. */
  lastFrame(width: number, height: number): { width: number; height: number; data: number[] } | null {
    const px = this.lastFramePixels;
    return px ? { width, height, data: Array.from(px) } : null;
  }
}
