// What the page shows, drawn from the app's state: the buttons and the stage (which of the
// canvas and its placeholder), the WebGPU line, the thumbnails, the size note, the phase box,
// the figures (iteration, loss, rate, elapsed, remaining), the loss plot and its legend, and
// the download. It keeps no state of its own: app.ts decides, this module only writes the DOM.
// (The settings form and the messages are ui.ts's, the extra styles styles.ts's, the canvas
// pixels canvas.ts's.)

import type { PickedImage } from './images.ts';
import { drawThumbnail } from './images.ts';
import { LossPlot, SERIES } from './lossplot.ts';
import type { AppState, Current, HistoryPoint } from './run_state.ts';
import { formatDuration, formatLoss } from './settings.ts';
import { byId } from './ui.ts';

/** What the buttons and the stage are drawn from. */
export interface ButtonsInput {
  state: AppState;
  /** a run is on (from Start until it has ended) */
  running: boolean;
  /** both a content and a style image are chosen */
  haveImages: boolean;
  /** an iterate is on the canvas */
  showingImage: boolean;
  /** there is something to download (the canvas or a checkpoint) */
  canDownload: boolean;
}

/** What the figures are drawn from. */
export interface StatsInput {
  state: AppState;
  running: boolean;
  current: Current | null;
  planned: { count: number; unit: 'iteration' | 'evaluation' } | null;
  /** the rounds of an L-BFGS run by rounds, shown beside the evaluation; null otherwise */
  rounds: number | null;
  /** the run's speed, while a run is on and has reported */
  timing: { rate: number | null; etaSeconds: number | null; elapsedSeconds: number } | null;
}

export class PageView {
  readonly buttons = {
    start: byId<HTMLButtonElement>('start'),
    pause: byId<HTMLButtonElement>('pause'),
    stop: byId<HTMLButtonElement>('stop'),
    download: byId<HTMLButtonElement>('download'),
    example: byId<HTMLButtonElement>('example'),
  };
  /** the WebGPU canvas the iterate is drawn on (canvas.ts draws into it) */
  readonly canvas = byId<HTMLCanvasElement>('output');
  private readonly plot = new LossPlot(byId('lossplot'));

  /** The WebGPU line: the adapter, with a warning when it is a CPU emulation. */
  showAdapter(description: string, isCpuAdapter: boolean): void {
    const status = byId('status');
    const cpu = isCpuAdapter ? ' — a CPU emulation, not a GPU: expect seconds per evaluation even at 48 rows' : '';
    status.textContent = `WebGPU available: yes (${description})${cpu}`;
    status.classList.toggle('warn', isCpuAdapter);
  }

  showNoWebGpu(detail: string): void {
    byId('status').textContent = `WebGPU available: no (${detail})`;
  }

  /** The thumbnail and caption of a chosen image. */
  showPicked(which: 'content' | 'style', picked: PickedImage): void {
    const thumb = byId<HTMLCanvasElement>(`${which}-thumb`);
    drawThumbnail(thumb, picked.image);
    thumb.hidden = false;
    byId(`${which}-drop`).classList.add('has-image');
    byId(`${which}-caption`).textContent = `${which}: ${picked.name} (${picked.image.width}×${picked.image.height})`;
  }

  /** The note beside the rows field; `bad` marks a size that does not fit. */
  showSizeNote(text: string, bad = false): void {
    const note = byId('size-note');
    note.classList.toggle('bad', bad);
    note.textContent = text;
  }

  /** The phase box (hidden for null), with a progress bar when `max` is given, else an indeterminate one. */
  showPhase(text: string | null, value?: number, max?: number): void {
    const box = byId('phase');
    box.hidden = text === null;
    if (text === null) return;
    byId('phase-text').textContent = text;
    const bar = byId<HTMLProgressElement>('phase-progress');
    if (value !== undefined && max) {
      bar.max = max;
      bar.value = Math.min(value, max);
    } else {
      bar.removeAttribute('value'); // indeterminate
    }
  }

  renderStats(s: StatsInput): void {
    const { current: cur, planned } = s;
    if (cur && planned) {
      const roundInfo = s.rounds !== null ? `, round ${cur.round + 1} of ${s.rounds}` : '';
      const stageInfo = cur.stage ? ` — stage ${cur.stage.index} of ${cur.stage.count} (${cur.stage.rows} rows)` : '';
      byId('stat-iteration').textContent =
        (planned.unit === 'iteration'
          ? `${cur.iteration} of ${planned.count}`
          : `${cur.iteration} (evaluation ${cur.evaluation} of ${planned.count}${roundInfo})`) + stageInfo;
      byId('stat-loss').textContent = formatLoss(cur.loss);
    } else {
      byId('stat-iteration').textContent = '–';
      byId('stat-loss').textContent = '–';
    }
    if (s.timing) {
      const { rate, etaSeconds } = s.timing;
      byId('stat-rate').textContent = rate === null ? '–' : rate >= 10 ? rate.toFixed(0) : rate.toPrecision(2);
      byId('stat-elapsed').textContent = formatDuration(s.timing.elapsedSeconds);
      byId('stat-eta').textContent = s.state === 'paused' ? 'paused' : etaSeconds === null ? '–' : formatDuration(etaSeconds);
    } else if (!s.running) {
      byId('stat-eta').textContent = s.state === 'done' ? 'done' : '–';
    }
  }

  /** The loss plot, over `plannedIterations` when the run counts iterations. */
  renderPlot(history: HistoryPoint[], plannedIterations?: number): void {
    this.plot.set(history, plannedIterations);
  }

  /** The legend under the plot, with the latest value of each series. */
  renderLegend(last: HistoryPoint | undefined): void {
    byId('legend').replaceChildren(
      ...SERIES.map((s) => {
        const li = document.createElement('li');
        const sw = document.createElement('span');
        sw.className = s.key === 'total' ? 'swatch dashed' : 'swatch';
        sw.style.color = s.color;
        const v = last?.[s.key];
        li.append(sw, `${s.label} ${v === undefined ? '–' : formatLoss(v)}`);
        li.dataset.series = s.key;
        return li;
      }),
    );
  }

  /** Buttons, canvas visibility and the page's data-state. */
  renderButtons(b: ButtonsInput): void {
    const s = b.state;
    const { start, pause, stop, download } = this.buttons;
    start.disabled = b.running || s === 'no-gpu' || s === 'starting' || !b.haveImages;
    start.textContent = s === 'done' || s === 'stopped' ? 'Start again' : 'Start';
    pause.disabled = !b.running || s === 'stopping';
    pause.textContent = s === 'paused' ? 'Resume' : s === 'pausing' ? 'Pausing…' : 'Pause';
    pause.setAttribute('aria-pressed', String(s === 'paused' || s === 'pausing'));
    stop.disabled = !b.running || s === 'stopping';
    download.disabled = !b.canDownload;
    this.canvas.hidden = !b.showingImage;
    byId('stage-empty').hidden = b.showingImage;
    document.body.dataset.state = s;
  }

  /** Hands the bytes to the browser as a download named `name`. */
  save(bytes: Uint8Array, type: string, name: string): void {
    const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }
}
