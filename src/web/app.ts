// The app: what happens on Start, Pause/Resume, Stop and Download, and the messages.
//
// One run:
//   settings (form) + images --checkWorkingSize--> (too big: offer the largest rows that fit)
//   --loadWeights (fetch, progress)--> Vgg19 on the device (cached per pooling)
//   --styleTransfer(onProgress)--> per iteration, inside onProgress while p.x is valid:
//        copy p.x into the canvas's display buffer and draw it (canvas.ts; no read-back),
//        record the loss (and its terms when the transfer reports them), update the stats,
//        wait there while paused (the optimizer awaits onProgress),
//        at most once a second, read the display buffer back as a checkpoint (only so a
//        lost device can be resumed from the last iterate).
//   Stop aborts through the transfer's signal: it returns its best image, which is shown.
// All GPU work is submitted asynchronously; the page's main thread only waits on promises,
// so it keeps painting and taking input while the GPU works. (Each evaluation is one command
// buffer, encoded by src/style/objective.ts; splitting it further is that module's business.)
//
// The state for tests is window.__app (see main.ts): status(), checkDisplay(), loseDevice().
// The run's state types are in run_state.ts; what the tests measure (frames, long tasks) in probe.ts.

import { acquireGpu, type GpuContext, NO_WEBGPU_HELP_BROWSER } from '../gpu/device.ts';
import { encodePng } from '../image/decode.ts';
import { workingSize } from '../image/resize.ts';
import type { RgbaImage } from '../image/types.ts';
import { Vgg19 } from '../model/vgg19.ts';
import { isH5Name, type Vgg19Weights } from '../model/weights.ts';
import { checkWorkingSize, styleTransfer } from '../style/transfer.ts';
import type { LossBreakdown, TransferProgress, TransferResult } from '../style/types.ts';
import { StyleExtras, type StyleFields } from './styles.ts';
import { CaffeCanvas, checkDisplay, type DisplayCheck } from './canvas.ts';
import { PageProbe } from './probe.ts';
import type { AppState, AppStatus, Checkpoint, Current, HistoryPoint, Run } from './run_state.ts';
import { acceptFiles, decodeFile, DEFAULT_IMAGES_URL, drawThumbnail, EXAMPLE_PAIR, fetchImage, type PickedImage } from './images.ts';
import { LossPlot, type LossPoint, SERIES } from './lossplot.ts';
import { RateMeter } from './progress.ts';
import {
  buildConfig,
  downloadName,
  formatDuration,
  formatLoss,
  gflopPerEvaluation,
  largestRowsIn,
  plannedWork,
  pngText,
  remainingSchedule,
  settingsRecord,
  maxBufferBytes,
  memoryBudgetBytes,
  transferScales,
  transferSchedule,
  validateSettings,
  type WebSettings,
} from './settings.ts';
import { byId, Controls, Messages } from './ui.ts';

/** memoryBudgetBytes of this browser (navigator.deviceMemory is Chromium's, not in every type set). */
function pageMemoryBudget(): number {
  return memoryBudgetBytes((navigator as { deviceMemory?: number }).deviceMemory);
}
import { loadWeights, weightsFolderUrl } from './weights.ts';

/** The working size proposed on a CPU emulation (SwiftShader, lavapipe) instead of the notebook's 400. */
const CPU_ADAPTER_ROWS = 64;

const now = () => performance.now();
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class App {
  private state: AppState = 'starting';
  private ctx: GpuContext | null = null;
  private view: CaffeCanvas | null = null;
  private readonly nets = new WeakMap<GpuContext, Map<string, Promise<Vgg19>>>();
  private content: PickedImage | null = null;
  private style: PickedImage | null = null;
  private run: Run | null = null;
  /** the latest run, also after it ended (Download's settings record) */
  private lastRun: Run | null = null;
  private current: Current | null = null;
  private history: HistoryPoint[] = [];
  private checkpoint: Checkpoint | null = null;
  private checkpointing = false;
  private lastCheckpointAt = 0;
  private weightsPhase: AppStatus['weights'] = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private phases: AppStatus['phases'] = [];
  /** what the browser tests measure (frames, frame gaps, long tasks): probe.ts */
  private readonly probe = new PageProbe();
  private lastRate: number | null = null;
  private lastPlanned: Run['planned'] | null = null;
  /** GFLOP/s of the last run (its evaluations per second x the work of one), for the size note */
  private measuredGflops: number | null = null;

  readonly controls = new Controls();
  readonly messages = new Messages();
  private readonly styleExtras = new StyleExtras(byId('more-styles'), byId<HTMLButtonElement>('add-style'), (problem) => {
    if (problem) this.messages.show('decode', 'Could not read the image.', problem);
    this.update();
  });
  private readonly plot = new LossPlot(byId('lossplot'));
  private readonly canvas = byId<HTMLCanvasElement>('output');
  private readonly buttons = {
    start: byId<HTMLButtonElement>('start'),
    pause: byId<HTMLButtonElement>('pause'),
    stop: byId<HTMLButtonElement>('stop'),
    download: byId<HTMLButtonElement>('download'),
    example: byId<HTMLButtonElement>('example'),
  };

  constructor(
    private readonly options: { weightsUrl: string; imagesUrl: string; settings: WebSettings; rowsGiven?: boolean },
  ) {
    this.controls.write(options.settings);
    this.controls.weightsUrl.value = options.weightsUrl;
    this.controls.onChange(() => this.updateSizeNote());
    acceptFiles(byId('content-drop'), byId<HTMLInputElement>('content-file'), (f) => void this.pickFile('content', f));
    acceptFiles(byId('style-drop'), byId<HTMLInputElement>('style-file'), (f) => void this.pickFile('style', f));
    this.buttons.example.addEventListener('click', () => void this.useExample());
    const report = (what: string) => (e: unknown) => this.messages.show('error', what, messageOf(e));
    this.buttons.start.addEventListener('click', () => this.start().catch(report('The run could not start.')));
    this.buttons.pause.addEventListener('click', () => this.togglePause());
    this.buttons.stop.addEventListener('click', () => this.stop());
    this.buttons.download.addEventListener('click', () => this.download().catch(report('The download failed.')));
    this.renderLegend();
    this.probe.observeLongTasks();
    this.update();
  }

  // ---------------------------------------------------------------------------------------
  // GPU
  // ---------------------------------------------------------------------------------------

  /** Checks for WebGPU and takes a device; shows the no-WebGPU message when there is none. */
  async init(): Promise<void> {
    const status = byId('status');
    if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
      this.noWebGpu('this browser has no navigator.gpu');
      return;
    }
    try {
      const ctx = await this.gpu();
      const cpu = ctx.isCpuAdapter ? ' — a CPU emulation, not a GPU: expect seconds per evaluation even at 48 rows' : '';
      status.textContent = `WebGPU available: yes (${ctx.description})${cpu}`;
      status.classList.toggle('warn', ctx.isCpuAdapter);
      if (ctx.isCpuAdapter && !this.options.rowsGiven && this.controls.read().rows === this.options.settings.rows) {
        // 400 rows would take many minutes per evaluation on a CPU emulation
        this.controls.setRows(CPU_ADAPTER_ROWS);
      }
      this.state = 'idle';
    } catch (e) {
      this.noWebGpu(messageOf(e));
    }
    this.updateSizeNote();
    this.update();
  }

  private noWebGpu(detail: string): void {
    this.state = 'no-gpu';
    byId('status').textContent = `WebGPU available: no (${detail})`;
    const here = detail.includes(NO_WEBGPU_HELP_BROWSER) ? '' : ` (Here: ${detail}.)`;
    this.messages.show('no-webgpu', 'No WebGPU here.', `${NO_WEBGPU_HELP_BROWSER}${here} Style transfer needs it: open this page in one of those.`);
    this.update();
  }

  /** The device, acquired (again) when there is none or it was lost. */
  private async gpu(): Promise<GpuContext> {
    if (this.ctx && !this.ctx.lost) return this.ctx;
    this.view = null;
    this.ctx = null;
    const ctx: GpuContext = await acquireGpu({ onError: (m) => this.onGpuError(ctx, m) });
    // acquireGpu ignores reason 'destroyed'; here any loss counts (loseDevice() destroys).
    ctx.device.lost.then((info) => {
      if (!ctx.lost) ctx.lost = `GPU device lost (${info.reason}): ${info.message || 'no details'}`;
      this.onDeviceLost(ctx);
    });
    this.ctx = ctx;
    return ctx;
  }

  /** Uncaptured validation / out-of-memory / internal errors of the current device. */
  private onGpuError(ctx: GpuContext, message: string): void {
    if (message.startsWith('GPU device lost')) return; // onDeviceLost handles it
    if (ctx !== this.ctx) return;
    this.messages.show('gpu-error', 'The GPU reported an error.', message);
  }

  private onDeviceLost(ctx: GpuContext): void {
    if (ctx !== this.ctx) return;
    this.view = null;
    const run = this.run;
    if (run) {
      // The transfer fails at its next submit or read-back; wake it if it waits in a pause.
      run.controller.abort();
      run.release?.();
    } else {
      this.offerResume(ctx.lost ?? 'GPU device lost');
    }
    this.update();
  }

  /** The device-lost message, with "resume" when an unfinished run left a checkpoint. */
  private offerResume(reason: string): void {
    const cp = this.state === 'done' || this.state === 'stopped' ? null : this.checkpoint;
    const resume = () => this.start(cp!).catch((e: unknown) => this.messages.show('error', 'The run could not resume.', messageOf(e)));
    const actions = cp ? [{ label: `Resume from iteration ${cp.iteration}`, run: () => void resume(), testid: 'resume' }] : [];
    this.messages.show(
      'device-lost',
      'The GPU device was lost.',
      `${reason}. This happens when the GPU driver resets or runs out of memory, or the browser takes the GPU back. ` +
        (actions.length
          ? `The last iterate (iteration ${cp!.iteration}) was kept: resume continues from it on a new device (the optimizer's memory starts afresh).`
          : 'Start again to set up a new device.'),
      actions,
    );
  }

  /** Loses the device on purpose (tests): as a driver reset would, mid-run or idle. */
  loseDevice(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    ctx.lost = 'GPU device lost (simulated by the page\'s test hook)';
    ctx.device.destroy();
  }

  // ---------------------------------------------------------------------------------------
  // Images
  // ---------------------------------------------------------------------------------------

  private setImage(which: 'content' | 'style', picked: PickedImage): void {
    this[which] = picked;
    const thumb = byId<HTMLCanvasElement>(`${which}-thumb`);
    drawThumbnail(thumb, picked.image);
    thumb.hidden = false;
    byId(`${which}-drop`).classList.add('has-image');
    byId(`${which}-caption`).textContent = `${which}: ${picked.name} (${picked.image.width}×${picked.image.height})`;
    this.messages.clear('decode');
    this.updateSizeNote();
    this.update();
  }

  private async pickFile(which: 'content' | 'style', file: File): Promise<void> {
    try {
      this.setImage(which, await decodeFile(file));
    } catch (e) {
      this.messages.show('decode', `Could not read the ${which} image.`, `${messageOf(e)}. Choose a JPEG or PNG file.`);
    }
  }

  private async useExample(): Promise<void> {
    this.buttons.example.disabled = true;
    try {
      const base = new URL(this.options.imagesUrl, location.href);
      const [c, s] = await Promise.all([EXAMPLE_PAIR.content, EXAMPLE_PAIR.style].map((f) => fetchImage(new URL(f, base).href)));
      this.setImage('content', c);
      this.setImage('style', s);
    } catch (e) {
      this.messages.show('decode', 'The example pair is not available here.', messageOf(e));
    } finally {
      this.buttons.example.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Settings feedback
  // ---------------------------------------------------------------------------------------

  private updateSizeNote(): void {
    const note = byId('size-note');
    const s = this.controls.read();
    note.classList.remove('bad');
    if (!Number.isInteger(s.rows) || s.rows < 1) {
      note.textContent = '';
      return;
    }
    if (!this.content) {
      note.textContent = 'width follows the content image';
      return;
    }
    let cols: number;
    try {
      cols = workingSize(this.content.image.height, this.content.image.width, s.rows).cols;
    } catch {
      note.textContent = '';
      return;
    }
    const gflop = gflopPerEvaluation(s.rows, cols);
    let text = `${cols} × ${s.rows} px, ≈ ${formatGflop(gflop)} per evaluation`;
    if (this.measuredGflops) text += ` (≈ ${formatDuration(gflop / this.measuredGflops)} each at the speed measured here)`;
    if (this.ctx && !this.ctx.lost) {
      try {
        checkWorkingSize(this.ctx, s.rows, cols, buildConfig(s), maxBufferBytes(s), pageMemoryBudget(), this.styleCounts(s));
      } catch (e) {
        const largest = largestRowsIn(messageOf(e));
        text = largest ? `${cols} × ${s.rows} px is too large for this GPU; at most ${largest} rows` : messageOf(e);
        note.classList.add('bad');
      }
    }
    note.textContent = text;
  }

  // ---------------------------------------------------------------------------------------
  // Run
  // ---------------------------------------------------------------------------------------

  /** Starts a run from the form (or resumes one from a checkpoint after a lost device). */
  async start(resume?: Checkpoint): Promise<void> {
    if (this.run || this.state === 'no-gpu' || this.state === 'starting') return;
    this.messages.clear('limits', 'settings', 'weights', 'error', 'device-lost', 'gpu-error', 'info');
    const settings = resume ? resume.run.settings : this.controls.read();
    const content = resume ? resume.run.content : this.content;
    const style = resume ? resume.run.style : this.style;
    if (!content || !style) {
      this.messages.show('settings', 'Two images are needed.', 'Choose or drop a content image and a style image (or use the example pair), then start.', [], 'warning');
      return;
    }
    const several = resume ? { fields: resume.run.styleFields, problems: [] as string[] } : this.styleExtras.read(style.image);
    const problems = [...validateSettings(settings), ...several.problems];
    if (problems.length) {
      this.messages.show('settings', 'Check the settings.', problems.join('; ') + '.', [], 'warning');
      return;
    }
    // A resumed run does what is left of the original schedule (counts are absolute).
    const runSettings = resume ? remainingSchedule(settings, { iteration: resume.iteration, round: resume.round }) : settings;
    const { rows, cols } = workingSize(content.image.height, content.image.width, settings.rows);
    const run: Run = {
      settings,
      content,
      style,
      styleFields: several.fields,
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
      startedAt: now(),
    };
    this.run = run;
    this.lastRun = run;
    if (!resume) {
      this.phases = [];
      this.probe.frames = [];
    }
    this.state = 'preparing';
    this.controls.setLocked(true);
    this.styleExtras.setLocked(true);
    if (!resume) {
      this.history = [];
      this.current = null;
      this.checkpoint = null;
    } else {
      this.history = this.history.filter((h) => h.iteration <= resume.iteration);
    }
    this.lastCheckpointAt = 0;
    this.plot.set(this.history, run.planned.unit === 'iteration' ? run.planned.count : undefined);
    this.update();
    this.ticker = setInterval(() => this.renderStats(), 1000);

    let result: TransferResult | null = null;
    try {
      const ctx = await this.gpu();
      const config = buildConfig(settings);
      try {
        checkWorkingSize(ctx, rows, cols, config, maxBufferBytes(settings), pageMemoryBudget(), this.styleCounts(settings));
      } catch (e) {
        const largest = largestRowsIn(messageOf(e));
        const text = messageOf(e).replace(/--rows (\d+)/, '$1 rows');
        this.messages.show(
          'limits',
          'This size does not fit this GPU.',
          text,
          largest ? [{ label: `Use ${largest} rows`, run: () => this.controls.setRows(largest), testid: 'use-largest' }] : [],
          'warning',
        );
        return;
      }

      const net = await this.network(ctx, config.pooling, run);
      if (run.controller.signal.aborted) return;
      this.phase('Compiling the kernels and computing the content and style targets…');

      if (!this.view || this.view.ctx !== ctx) this.view = await CaffeCanvas.create(ctx, this.canvas);
      this.view.setSize(rows, cols);
      const view = this.view;
      view.afterDraw = (canvas) => this.probe.recordFrame(canvas);

      result = await styleTransfer(ctx, net, {
        content: content.image,
        style: style.image,
        rows,
        config,
        init: run.init,
        seed: settings.seed,
        optimizer: settings.optimizer,
        ...transferSchedule(runSettings),
        scales: transferScales(runSettings),
        maxBufferBytes: maxBufferBytes(settings),
        preserveColors: settings.preserveColors,
        styleScale: settings.styleScale,
        learningRate: settings.optimizer === 'adam' ? settings.learningRate : undefined,
        signal: run.controller.signal,
        // A few dispatches per submission, waiting for the GPU in between, so the compositor
        // gets frames during an evaluation (one conv layer at 400 rows is ~10 ms on a GPU).
        maxDispatchesPerSubmit: 4,
        onProgress: (p) => this.onProgress(run, view, p),
        // several styles, blend weights, masks (absent for one style without a mask)
        ...(run.styleFields ?? {}),
      });
      if (ctx.lost) throw new Error(ctx.lost);
      // Show what the transfer returns (its best point; for L-BFGS the last reported one).
      await view.showImage(result.image);
      this.state = result.stopped ? 'stopped' : 'done';
      if (this.current) this.current.loss = result.loss.total;
      this.messages.show(
        'info',
        result.stopped ? 'Stopped.' : 'Done.',
        `${result.iterations + run.offset.iteration} iterations, ${result.evaluations + run.offset.evaluation} evaluations, loss ${formatLoss(result.loss.total)} ` +
          `(content ${formatLoss(result.loss.content)}, style ${formatLoss(result.loss.style)}, TV ${formatLoss(result.loss.tv)}). ${result.reason.replace(/\.?$/, '.')}` +
          (result.firstEvaluationAt !== null ? ` Set-up (Start to the first evaluation): ${((result.firstEvaluationAt - run.startedAt) / 1000).toFixed(1)} s.` : ''),
        [],
        'info',
      );
    } catch (e) {
      const ctx = this.ctx;
      if (ctx?.lost) {
        this.state = 'failed';
        this.offerResume(ctx.lost);
      } else if (run.controller.signal.aborted) {
        this.state = 'stopped';
      } else {
        this.state = 'failed';
        const msg = messageOf(e);
        if (this.weightsPhase && this.weightsPhase.phase !== 'ready') this.weightsFailed(msg);
        else this.messages.show('error', 'The run failed.', msg);
      }
    } finally {
      if (this.ticker) clearInterval(this.ticker);
      this.ticker = null;
      this.run = null;
      this.controls.setLocked(false);
      this.styleExtras.setLocked(false);
      const st = this.state as AppState; // stop() and the pause may have changed it meanwhile
      if (st === 'preparing' || st === 'stopping' || st === 'running' || st === 'pausing' || st === 'paused') this.state = run.controller.signal.aborted ? 'stopped' : 'idle';
      this.phase(null);
      this.phases.push({ text: `ended: ${this.state}`, at: Math.round(now()) });
      this.renderStats();
      this.updateSizeNote();
      this.update();
    }
  }

  /** VGG19 with the weights on this device (cached per pooling); weight loading shows progress. */
  private async network(ctx: GpuContext, pooling: string, run: Run): Promise<Vgg19> {
    const folder = weightsFolderUrl(this.controls.weightsUrl.value, location.href);
    let byKey = this.nets.get(ctx);
    if (!byKey) this.nets.set(ctx, (byKey = new Map()));
    const key = `${folder} ${pooling}`;
    let p = byKey.get(key);
    if (!p) {
      p = (async () => {
        this.weightsPhase = { phase: 'download', loaded: 0, total: 0 };
        this.phase(`Loading the VGG19 weights from ${folder}…`, 0, 0);
        const weights: Vgg19Weights = await loadWeights(folder, (phase, loaded, total) => {
          this.weightsPhase = { phase, loaded, total };
          const mb = (b: number) => (b / 2 ** 20).toFixed(1);
          this.phase(
            phase === 'download' ? `Downloading the VGG19 weights: ${mb(loaded)} of ${mb(total)} MiB` : `Decoding the weights: ${mb(loaded)} of ${mb(total)} MiB`,
            loaded,
            total,
          );
        });
        this.weightsPhase = { phase: 'ready', loaded: 1, total: 1 };
        this.phase('Uploading the weights to the GPU…');
        return Vgg19.create(ctx, weights, { pooling: pooling as 'max' | 'avg' });
      })();
      byKey.set(key, p);
      p.catch(() => byKey!.delete(key));
    }
    // Stop while loading: stop waiting (the load itself finishes in the background and is cached).
    const aborted = new Promise<never>((_, reject) => {
      run.controller.signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true });
    });
    aborted.catch(() => {}); // a stop after the network is ready rejects nobody's promise
    return Promise.race([p, aborted]);
  }

  private weightsFailed(msg: string): void {
    const folder = weightsFolderUrl(this.controls.weightsUrl.value, location.href);
    this.messages.show(
      'weights',
      'The VGG19 weights did not load.',
      `${msg}. The page fetches ${isH5Name(folder) ? folder : `${folder}weights_manifest.json and the .bin files it lists`}: point "Weights URL" ` +
        '(Settings → Weights) or ?weights=<URL> in the address at a folder that has them or at a Keras .h5 file (`npm run dev` serves them at weights/vgg19/).',
      [{ label: 'Show the weights setting', run: () => this.revealWeightsField() }],
    );
    this.weightsPhase = null;
  }

  private revealWeightsField(): void {
    const details = this.controls.weightsUrl.closest('details');
    if (details) details.open = true;
    this.controls.weightsUrl.focus();
  }

  /** Called by the transfer after every iteration (awaited): draw, record, maybe pause. */
  /** The style images the next run takes, for the memory check. */
  private styleCounts(s: WebSettings): { count: number; masked: number; scale: number } {
    const c = this.styleExtras.counts();
    return { count: c.styles, masked: c.masks, scale: s.styleScale };
  }

  private async onProgress(run: Run, view: CaffeCanvas, p: TransferProgress): Promise<void> {
    if (this.ctx?.lost) return;
    const t = now();
    const iteration = run.offset.iteration + p.iteration;
    const evaluation = run.offset.evaluation + p.evaluation;
    const terms = p.terms ?? null;
    this.probe.pendingIteration = iteration;
    if (p.rows !== view.rows || p.cols !== view.cols) view.setSize(p.rows, p.cols); // a new stage
    // luminance-only transfer: the iterate on the GPU is grey; p.image() gives it the content's colours
    if (run.settings.preserveColors === 'luminance') await view.showImage(await p.image());
    else await view.show(p.x, p.segments);

    if (run.firstReportAt === null) {
      run.firstReportAt = t;
      this.probe.resetLongTasks();
      this.phases.push({ text: 'first iterate shown', at: Math.round(t) });
      this.phase(null);
      this.probe.watchFrames(() => this.run === run);
    }
    if (this.state === 'preparing') this.state = 'running'; // 'pausing' stays until the pause below
    const done = run.planned.unit === 'iteration' ? iteration : evaluation;
    run.meter.report({ evaluation, done }, t);
    this.current = {
      iteration,
      evaluation,
      round: run.offset.round + p.round,
      loss: p.loss,
      terms,
      stage: p.stages > 1 ? { index: p.stage, count: p.stages, rows: p.rows } : undefined,
    };
    const point: HistoryPoint = {
      iteration,
      evaluation,
      total: p.loss,
      content: terms?.content,
      style: terms?.style,
      tv: terms?.tv,
      seconds: run.meter.clock.activeMs(t) / 1000,
    };
    const last = this.history[this.history.length - 1];
    if (last && last.iteration === iteration) this.history[this.history.length - 1] = point;
    else this.history.push(point);
    this.plot.set(this.history, run.planned.unit === 'iteration' ? run.planned.count : undefined);
    this.renderStats();
    this.renderLegend();
    this.maybeCheckpoint(run, view);
    this.update();

    if (run.pauseRequested && !run.controller.signal.aborted) {
      this.state = 'paused';
      run.meter.clock.pause(now());
      this.update();
      await new Promise<void>((resolve) => (run.release = resolve));
      run.release = null;
      run.meter.clock.resume(now());
      if (this.state === 'paused') this.state = 'running';
      this.update();
    }
  }

  /** Reads the displayed iterate back at most once a second, for resuming after a lost device. */
  private maybeCheckpoint(run: Run, view: CaffeCanvas, force = false): void {
    const t = now();
    if (this.checkpointing || (!force && t - this.lastCheckpointAt < 1000) || !this.current) return;
    this.checkpointing = true;
    this.lastCheckpointAt = t;
    const at = { ...this.current };
    view
      .snapshot()
      .then((image) => {
        this.checkpoint = { image, iteration: at.iteration, evaluation: at.evaluation, round: at.round, loss: at.loss, run };
      })
      .catch(() => {
        // the device went away meanwhile: the previous checkpoint stays
      })
      .finally(() => {
        this.checkpointing = false;
      });
  }

  togglePause(): void {
    const run = this.run;
    if (!run) return;
    if (this.state === 'paused') {
      run.pauseRequested = false;
      run.release?.();
    } else if (this.state === 'pausing') {
      run.pauseRequested = false;
      this.state = run.firstReportAt === null ? 'preparing' : 'running';
    } else if (this.state === 'running' || this.state === 'preparing') {
      run.pauseRequested = true; // takes effect at the next iteration's report
      this.state = 'pausing';
    }
    this.update();
  }

  stop(): void {
    const run = this.run;
    if (!run) return;
    this.state = 'stopping';
    run.pauseRequested = false;
    run.controller.abort();
    run.release?.();
    this.update();
  }

  /** The image on the canvas as a PNG of the working size, with the settings in a text chunk. */
  async download(): Promise<void> {
    const run = this.run ?? this.lastRun;
    let image: RgbaImage | null = null;
    let at = this.current;
    if (this.view?.hasImage && !this.ctx?.lost) {
      try {
        image = await this.view.snapshot();
      } catch {
        image = null;
      }
    }
    if (!image && this.checkpoint) {
      image = this.checkpoint.image;
      at = { ...this.checkpoint, terms: null };
    }
    if (!image || !run) {
      this.messages.show('error', 'Nothing to download yet.', 'Start a run first; the image on the canvas is what gets saved.', [], 'warning');
      return;
    }
    const record = settingsRecord(run.settings, {
      content: run.content.name,
      style: run.style.name,
      cols: image.width,
      iteration: at?.iteration ?? 0,
      evaluation: at?.evaluation ?? 0,
      loss: at?.loss ?? null,
      adapter: this.ctx?.description ?? 'unknown',
      resumedFrom: run.resumedFrom,
    });
    const bytes = encodePng(image, pngText(record));
    const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = downloadName(run.content.name, run.style.name, image.width, image.height, at?.iteration ?? 0);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }


  // ---------------------------------------------------------------------------------------
  // Rendering
  // ---------------------------------------------------------------------------------------

  private phase(text: string | null, value?: number, max?: number): void {
    const label = text?.replace(/[\d.]+ of [\d.]+ MiB/, '…') ?? null;
    if (label !== null && this.phases[this.phases.length - 1]?.text !== label) this.phases.push({ text: label, at: Math.round(now()) });
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

  private renderStats(): void {
    const run = this.run;
    const cur = this.current;
    const t = now();
    const planned = run?.planned ?? this.lastPlanned;
    if (cur && planned) {
      const roundInfo = run && run.settings.schedule === 'rounds' && run.settings.optimizer === 'lbfgs' ? `, round ${cur.round + 1} of ${run.settings.rounds}` : '';
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
    if (run && cur) {
      const sample = { evaluation: cur.evaluation, done: planned!.unit === 'iteration' ? cur.iteration : cur.evaluation };
      const rate = run.meter.evalsPerSecond(sample, t);
      const eta = run.meter.etaSeconds(sample, planned!.count, t);
      byId('stat-rate').textContent = rate === null ? '–' : rate >= 10 ? rate.toFixed(0) : rate.toPrecision(2);
      if (rate !== null) this.measuredGflops = rate * gflopPerEvaluation(run.rows, run.cols);
      byId('stat-elapsed').textContent = formatDuration(run.meter.clock.activeMs(t) / 1000);
      byId('stat-eta').textContent = this.state === 'paused' ? 'paused' : eta === null ? '–' : formatDuration(eta);
      this.lastRate = rate;
    } else if (!run) {
      byId('stat-eta').textContent = this.state === 'done' ? 'done' : '–';
    }
  }

  private renderLegend(): void {
    const legend = byId('legend');
    const last = this.history[this.history.length - 1];
    legend.replaceChildren(
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

  /** Buttons, canvas visibility and the form lock from the state. */
  private update(): void {
    const s = this.state;
    const running = this.run !== null;
    if (this.run) this.lastPlanned = this.run.planned;
    const b = this.buttons;
    b.start.disabled = running || s === 'no-gpu' || s === 'starting' || !this.content || !this.style;
    b.start.textContent = s === 'done' || s === 'stopped' ? 'Start again' : 'Start';
    b.pause.disabled = !running || s === 'stopping';
    b.pause.textContent = s === 'paused' ? 'Resume' : s === 'pausing' ? 'Pausing…' : 'Pause';
    b.pause.setAttribute('aria-pressed', String(s === 'paused' || s === 'pausing'));
    b.stop.disabled = !running || s === 'stopping';
    b.download.disabled = !((this.view?.hasImage && this.current) || this.checkpoint);
    const hasImage = !!(this.view?.hasImage && this.current);
    this.canvas.hidden = !hasImage;
    byId('stage-empty').hidden = hasImage;
    document.body.dataset.state = s;
  }

  // ---------------------------------------------------------------------------------------
  // For tests (window.__app)
  // ---------------------------------------------------------------------------------------

  /** Starts (or stops) hashing the canvas after every draw; returns nothing. */
  recordFrames(on: boolean): void {
    this.probe.recordFrames(on);
  }

  /** The canvas pixels of the last recorded frame, RGBA as a plain array (tests). */
  lastFrame(): { width: number; height: number; data: number[] } | null {
    return this.probe.lastFrame(this.canvas.width, this.canvas.height);
  }

  /** Redraws the canvas from its buffer and reads it in the same task (tests). */
  readCanvas(): { width: number; height: number; data: number[] } | null {
    if (!this.view?.hasImage) return null;
    return { width: this.canvas.width, height: this.canvas.height, data: Array.from(this.view.readPixels()) };
  }

  status(): AppStatus {
    const run = this.run;
    const planned = run?.planned ?? this.lastPlanned;
    const since = run?.firstReportAt ?? null;
    return {
      state: this.state,
      adapter: this.ctx?.description ?? null,
      isCpuAdapter: this.ctx?.isCpuAdapter ?? false,
      rows: this.view?.rows ?? 0,
      cols: this.view?.cols ?? 0,
      iteration: this.current?.iteration ?? 0,
      evaluation: this.current?.evaluation ?? 0,
      planned: planned?.count ?? 0,
      unit: planned?.unit ?? 'iteration',
      loss: this.current?.loss ?? null,
      history: this.history.map((h) => ({ ...h })),
      messages: this.messages.list(),
      weights: this.weightsPhase,
      evalsPerSecond: this.lastRate,
      longTasksDuringRun: since === null ? [] : this.probe.longTasksSince(since),
      checkpointIteration: this.checkpoint?.iteration ?? null,
      phases: this.phases.map((p) => ({ ...p })),
      longestFrameGapMs: this.probe.longestFrameGapMs,
      frames: this.probe.frames.map((f) => ({ ...f })),
      styles: this.lastRun
        ? { count: this.lastRun.styleFields?.styles.length ?? 1, masks: this.lastRun.styleFields?.styleMasks.filter(Boolean).length ?? 0 }
        : null,
    };
  }

  async checkDisplay(): Promise<DisplayCheck> {
    return checkDisplay(await this.gpu());
  }
}

function formatGflop(g: number): string {
  return g >= 100 ? `${Math.round(g)} GFLOP` : `${g.toPrecision(2)} GFLOP`;
}
