// The state of one run on the page, as plain data: the app's states, a run's settings, images,
// counters and controls (Run), the last iterate kept for resuming after a lost device
// (Checkpoint), the latest report (Current), the loss history, and what window.__app.status()
// returns (AppStatus); with the two rules that make it (newRun, recordPoint).
// app.ts drives it; view.ts shows it; probe.ts adds what the tests measure.

import { workingSize } from '../image/resize.ts';
import type { RgbaImage } from '../image/types.ts';
import type { LossBreakdown } from '../style/types.ts';
import type { PickedImage } from './images.ts';
import type { LossPoint } from './lossplot.ts';
import type { Frame } from './probe.ts';
import { RateMeter } from './progress.ts';
import { plannedWork, type WebSettings } from './settings.ts';
import type { StyleFields } from './styles.ts';

export type AppState = 'starting' | 'no-gpu' | 'idle' | 'preparing' | 'running' | 'pausing' | 'paused' | 'stopping' | 'done' | 'stopped' | 'failed';

export interface HistoryPoint extends LossPoint {
  evaluation: number;
  /** seconds since the run's first report, pauses excluded */
  seconds: number;
}

/** What window.__app.status() returns (plain data). */
export interface AppStatus {
  state: AppState;
  adapter: string | null;
  isCpuAdapter: boolean;
  rows: number;
  cols: number;
  iteration: number;
  evaluation: number;
  planned: number;
  unit: 'iteration' | 'evaluation';
  loss: number | null;
  history: HistoryPoint[];
  messages: Array<{ kind: string; text: string }>;
  weights: { phase: string; loaded: number; total: number } | null;
  evalsPerSecond: number | null;
  /** durations (ms) of main-thread tasks over 50 ms since the current run's first report */
  longTasksDuringRun: number[];
  checkpointIteration: number | null;
  /** the phases of the current or last run with their start times (ms since page load) */
  phases: Array<{ text: string; at: number }>;
  /** the longest gap (ms) between animation frames since the current run's first report */
  longestFrameGapMs: number;
  /** frames recorded by recordFrames(): a hash of the canvas pixels after each draw */
  frames: Frame[];
  /** the styles and masks the current or last run was given (1 and 0 for a single-style run) */
  styles: { count: number; masks: number } | null;
}

export interface Run {
  settings: WebSettings;
  content: PickedImage;
  style: PickedImage;
  /** several styles / masks (styles.ts); null: the single-style transfer */
  styleFields: StyleFields | null;
  rows: number;
  cols: number;
  controller: AbortController;
  pauseRequested: boolean;
  release: (() => void) | null;
  /** counts carried over from before a lost device (0 for a fresh run) */
  offset: { iteration: number; evaluation: number; round: number };
  planned: { count: number; unit: 'iteration' | 'evaluation' };
  resumedFrom?: number;
  init: 'content' | 'random' | RgbaImage;
  meter: RateMeter;
  firstReportAt: number | null;
  /** performance.now() when Start was pressed: set-up = the transfer's firstEvaluationAt minus this */
  startedAt: number;
}

export interface Checkpoint {
  image: RgbaImage;
  iteration: number;
  evaluation: number;
  round: number;
  loss: number;
  run: Run;
}

export interface Current {
  iteration: number;
  evaluation: number;
  round: number;
  loss: number;
  terms: LossBreakdown | null;
  /** multi-scale: the stage (1-based) of how many, at how many rows */
  stage?: { index: number; count: number; rows: number };
}

/**
 * A run as Start makes it: from the form, or resuming from a checkpoint after a lost device,
 * when it keeps the original run's plan and counts on from the checkpoint's iterate.
 */
export function newRun(
  from: { settings: WebSettings; content: PickedImage; style: PickedImage; styleFields: StyleFields | null },
  resume: Checkpoint | undefined,
  startedAt: number,
): Run {
  const { settings, content } = from;
  const { rows, cols } = workingSize(content.image.height, content.image.width, settings.rows);
  return {
    ...from,
    rows,
    cols,
    controller: new AbortController(),
    pauseRequested: false,
    release: null,
    offset: resume ? { iteration: resume.iteration, evaluation: resume.evaluation, round: resume.round } : { iteration: 0, evaluation: 0, round: 0 },
    planned: resume ? resume.run.planned : plannedWork(settings),
    resumedFrom: resume ? resume.iteration : undefined,
    init: resume ? resume.image : settings.init,
    meter: new RateMeter(),
    firstReportAt: null,
    startedAt,
  };
}

/** Adds a report to the history; a second report of the same iteration replaces the first. */
export function recordPoint(history: HistoryPoint[], point: HistoryPoint): void {
  const last = history[history.length - 1];
  if (last && last.iteration === point.iteration) history[history.length - 1] = point;
  else history.push(point);
}
