// Speed and ETA of a run that can be paused: a clock that does not count paused time, and the
// rate of work since the first progress report (so weight upload, pipeline compilation and
// the target features, all before the first report, do not dilute it). Pure (time is passed
// in), tested in test/web.test.ts.

export class RunClock {
  private startedAt: number | null = null;
  private pausedAt: number | null = null;
  private pausedTotal = 0;

  start(now: number): void {
    this.startedAt = now;
    this.pausedAt = null;
    this.pausedTotal = 0;
  }

  pause(now: number): void {
    if (this.startedAt !== null && this.pausedAt === null) this.pausedAt = now;
  }

  resume(now: number): void {
    if (this.pausedAt !== null) {
      this.pausedTotal += now - this.pausedAt;
      this.pausedAt = null;
    }
  }

  /** Milliseconds running (not paused) since start; 0 before start. */
  activeMs(now: number): number {
    if (this.startedAt === null) return 0;
    const end = this.pausedAt ?? now;
    return Math.max(0, end - this.startedAt - this.pausedTotal);
  }
}

export interface RateSample {
  /** evaluations done (all of the run) */
  evaluation: number;
  /** the planned unit's count done: iterations or evaluations (TransferProgress.planned's unit) */
  done: number;
}

/**
 * Evaluations per second and the time left, measured from the first report on (its
 * evaluations and time are the baseline).
 */
export class RateMeter {
  readonly clock = new RunClock();
  private first: RateSample | null = null;

  /** Call with every progress report; the first one starts the clock. */
  report(sample: RateSample, now: number): void {
    if (!this.first) {
      this.first = { ...sample };
      this.clock.start(now);
    }
  }

  /** Evaluations per second since the first report, or null before there is a measurement. */
  evalsPerSecond(sample: RateSample, now: number): number | null {
    if (!this.first) return null;
    const s = this.clock.activeMs(now) / 1000;
    const n = sample.evaluation - this.first.evaluation;
    return s > 0 && n > 0 ? n / s : null;
  }

  /** Seconds left until `planned` units are done, at the pace since the first report; null when unknown. */
  etaSeconds(sample: RateSample, planned: number, now: number): number | null {
    if (!this.first) return null;
    const s = this.clock.activeMs(now) / 1000;
    const n = sample.done - this.first.done;
    if (!(s > 0 && n > 0)) return null;
    return Math.max(0, planned - sample.done) * (s / n);
  }
}
