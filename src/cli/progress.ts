// src/cli/progress.ts — optimization progress on stderr.
//
// On a terminal: one cli-progress bar, redrawn in place after every iteration:
//   iteration 37 [██████░░░░░░] 80/200 evals | loss 1.2345e+8 | 2.41 evals/s | ETA 50s
// Anywhere else (a pipe, a file, CI logs): one plain line per iteration, easy to grep:
//   iteration 37  evaluation 80/200  loss 1.2345e+8  2.41 evals/s  eta 50s
// A multi-scale run (--scales) puts its stage first, on the bar and on each line:
//   stage 2/3 (512 rows)  iteration 237  evaluation 280/350  loss ...
// (iterations and evaluations count over all stages; the ETA assumes the current rate, so it
// is optimistic while a smaller stage runs).
//
// The rate counts evaluations since the first report, so the one-off setup before the first
// iteration (targets, pipeline compilation) does not make the ETA too pessimistic.

import cliProgress from 'cli-progress';

/** The fields of a TransferProgress this module shows. */
export interface ProgressInfo {
  iteration: number;
  evaluation: number;
  /** evaluations (L-BFGS) or iterations (Adam) planned */
  planned: number;
  loss: number;
  /** since the transfer started */
  seconds: number;
  /** multi-scale: the stage (1-based), the number of stages and the stage's rows */
  stage?: number;
  stages?: number;
  rows?: number;
}

/** "stage 2/3 (512 rows)" for a run of several stages, "" for one stage. */
export function formatStage(p: ProgressInfo): string {
  if (!p.stages || p.stages < 2 || !p.stage) return '';
  return `stage ${p.stage}/${p.stages}${p.rows ? ` (${p.rows} rows)` : ''}`;
}

export interface ProgressReporter {
  update(p: ProgressInfo): void;
  /** a short note shown with the next update (on a bar) or as its own line (plain) */
  note(text: string): void;
  /** ends the bar (leaves the cursor on a new line); safe to call twice */
  stop(): void;
}

/** 75 → "1m15s", 3725 → "1h02m", 4 → "4s"; non-finite → "?". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatLoss(loss: number): string {
  return Number.isFinite(loss) ? loss.toExponential(4) : String(loss);
}

/** Evaluations per second and the seconds left, from the first and the latest report. */
export class RateMeter {
  private first: ProgressInfo | null = null;

  measure(p: ProgressInfo): { rate: number; eta: number } {
    if (!this.first) this.first = p;
    const f = this.first;
    const dEval = p.evaluation - f.evaluation;
    const dSec = p.seconds - f.seconds;
    const rate = dEval > 0 && dSec > 0 ? dEval / dSec : p.seconds > 0 ? p.evaluation / p.seconds : NaN;
    const left = Math.max(0, p.planned - p.evaluation);
    return { rate, eta: left === 0 ? 0 : rate > 0 ? left / rate : NaN };
  }
}

/** The plain line for one iteration. */
export function formatProgressLine(p: ProgressInfo, rate: number, eta: number): string {
  const r = Number.isFinite(rate) ? rate.toFixed(2) : '?';
  const stage = formatStage(p);
  return `${stage ? `${stage}  ` : ''}iteration ${p.iteration}  evaluation ${p.evaluation}/${p.planned}  loss ${formatLoss(p.loss)}  ${r} evals/s  eta ${formatDuration(eta)}`;
}

/** A bar when `tty`, plain lines otherwise, written to `stream`. */
export function createProgress(stream: NodeJS.WritableStream, tty: boolean): ProgressReporter {
  const meter = new RateMeter();
  if (!tty) {
    return {
      update(p) {
        const { rate, eta } = meter.measure(p);
        stream.write(formatProgressLine(p, rate, eta) + '\n');
      },
      note(text) {
        stream.write(text + '\n');
      },
      stop() {},
    };
  }

  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{stageText}iteration {iteration} [{bar}] {value}/{total} evals | loss {loss} | {rate} evals/s | ETA {etaText}{note}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 1,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  let pendingNote = '';
  return {
    update(p) {
      if (stopped) return;
      const { rate, eta } = meter.measure(p);
      const stage = formatStage(p);
      const payload = {
        stageText: stage ? `${stage} | ` : '',
        iteration: p.iteration,
        loss: formatLoss(p.loss),
        rate: Number.isFinite(rate) ? rate.toFixed(2) : '?',
        etaText: formatDuration(eta),
        note: pendingNote ? ` | ${pendingNote}` : '',
      };
      if (!started) {
        bar.start(p.planned, p.evaluation, payload);
        started = true;
      } else {
        bar.setTotal(p.planned);
        bar.update(p.evaluation, payload);
      }
    },
    note(text) {
      pendingNote = text;
      if (started && !stopped) bar.update({ note: ` | ${text}` });
    },
    stop() {
      if (started && !stopped) bar.stop();
      stopped = true;
    },
  };
}
