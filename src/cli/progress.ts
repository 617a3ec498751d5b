// src/cli/progress.ts — optimization progress on stderr.
//
// On a terminal: one cli-progress bar, redrawn in place after every iteration:
//   iteration 37 [██████░░░░░░] 80/200 evals | loss 1.2345e+8 | 2.41 evals/s | ETA 50s
// Anywhere else (a pipe, a file, CI logs): one plain line per iteration, easy to grep:
//   iteration 37  evaluation 80/200  loss 1.2345e+8  2.41 evals/s  eta 50s
// The count out of the plan is the one the plan counts: evaluations for an L-BFGS schedule of
// rounds x evaluations, iterations for --iterations, --scale-iterations and Adam:
//   iteration 3/5  evaluation 7  loss 1.2345e+8  2.41 evals/s  eta 2s
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
  /** the evaluations or iterations planned (plannedUnit says which) */
  planned: number;
  /** what `planned` counts (default 'evaluation') */
  plannedUnit?: 'iteration' | 'evaluation';
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

/** The count the plan is in: iterations or evaluations done. */
const doneOf = (p: ProgressInfo) => (p.plannedUnit === 'iteration' ? p.iteration : p.evaluation);

/**
 * Evaluations per second and the seconds left, from the first and the latest report (the ETA
 * from the rate of the planned unit: iterations for a plan of iterations).
 */
export class RateMeter {
  private first: ProgressInfo | null = null;

  measure(p: ProgressInfo): { rate: number; eta: number } {
    if (!this.first) this.first = p;
    const f = this.first;
    const dSec = p.seconds - f.seconds;
    const per = (done: number, done0: number) => (done - done0 > 0 && dSec > 0 ? (done - done0) / dSec : p.seconds > 0 ? done / p.seconds : NaN);
    const rate = per(p.evaluation, f.evaluation);
    const unitRate = per(doneOf(p), doneOf(f));
    const left = Math.max(0, p.planned - doneOf(p));
    return { rate, eta: left === 0 ? 0 : unitRate > 0 ? left / unitRate : NaN };
  }
}

/** The plain line for one iteration. */
export function formatProgressLine(p: ProgressInfo, rate: number, eta: number): string {
  const r = Number.isFinite(rate) ? rate.toFixed(2) : '?';
  const stage = formatStage(p);
  const counts = p.plannedUnit === 'iteration' ? `iteration ${p.iteration}/${p.planned}  evaluation ${p.evaluation}` : `iteration ${p.iteration}  evaluation ${p.evaluation}/${p.planned}`;
  return `${stage ? `${stage}  ` : ''}${counts}  loss ${formatLoss(p.loss)}  ${r} evals/s  eta ${formatDuration(eta)}`;
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

  // made at the first update, when the unit of the plan is known
  const makeBar = (perIteration: boolean) =>
    new cliProgress.SingleBar(
      {
        stream,
        format: perIteration
          ? '{stageText}iteration [{bar}] {value}/{total} | evaluation {evaluation} | loss {loss} | {rate} evals/s | ETA {etaText}{note}'
          : '{stageText}iteration {iteration} [{bar}] {value}/{total} evals | loss {loss} | {rate} evals/s | ETA {etaText}{note}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 1,
      },
      cliProgress.Presets.shades_classic,
    );
  let bar: cliProgress.SingleBar | null = null;
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
        evaluation: p.evaluation,
        loss: formatLoss(p.loss),
        rate: Number.isFinite(rate) ? rate.toFixed(2) : '?',
        etaText: formatDuration(eta),
        note: pendingNote ? ` | ${pendingNote}` : '',
      };
      if (!bar) {
        bar = makeBar(p.plannedUnit === 'iteration');
        bar.start(p.planned, doneOf(p), payload);
      } else {
        bar.setTotal(p.planned);
        bar.update(doneOf(p), payload);
      }
    },
    note(text) {
      pendingNote = text;
      if (bar && !stopped) bar.update({ note: ` | ${text}` });
    },
    stop() {
      if (bar && !stopped) bar.stop();
      stopped = true;
    },
  };
}
