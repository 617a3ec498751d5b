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
// This class is the controller: it holds the state (its types in run_state.ts), drives the
// engine (device, weights, styleTransfer) and hands what is to be shown to view.ts, which alone
// writes the page's figures, buttons and boxes; what the tests measure (frames, long tasks) is
// in probe.ts.

import { acquireGpu, type GpuContext, NO_WEBGPU_HELP_BROWSER } from '../gpu/device.ts';
import { encodePng } from '../image/decode.ts';
import { workingSize } from '../image/resize.ts';
import type { RgbaImage } from '../image/types.ts';
import { Vgg19 } from '../model/vgg19.ts';
import { isH5Name, type Vgg19Weights } from '../model/weights.ts';
import { checkWorkingSize, styleTransfer } from '../style/transfer.ts';
import type { TransferProgress, TransferResult } from '../style/types.ts';
import { StyleExtras } from './styles.ts';
import { CaffeCanvas, checkDisplay, type DisplayCheck } from './canvas.ts';
import { PageProbe } from './probe.ts';
import { type AppState, type AppStatus, type Checkpoint, type Current, type HistoryPoint, newRun, recordPoint, type Run } from './run_state.ts';
import { acceptFiles, decodeFile, EXAMPLE_PAIR, fetchImage, type PickedImage } from './images.ts';
import {
  buildConfig,
  downloadName,
  formatDuration,
  formatLoss,
  gflopPerEvaluation,
  largestRowsIn,
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
import { PageView, type StatsInput } from './view.ts';
import { loadWeights, weightsFolderUrl } from './weights.ts';

/** memoryBudgetBytes of this browser (navigator.deviceMemory is Chromium's, not in every type set). */
function pageMemoryBudget(): number {
  return memoryBudgetBytes((navigator as { deviceMemory?: number }).deviceMemory);
}

/** The working size proposed on a CPU emulation (SwiftShader, lavapipe) instead of the notebook's 400. */
const CPU_ADAPTER_ROWS = 64;

const now = () => performance.now();
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class App {
  private state: AppState = 'starting';
  private ctx: GpuContext | null = null;
  /** the canvas's GPU side on the current device (canvas.ts) */
  private display: CaffeCanvas | null = null;
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
  private readonly view = new PageView();

  constructor(
    private readonly options: { weightsUrl: string; imagesUrl: string; settings: WebSettings; rowsGiven?: boolean },
  ) {
    this.controls.write(options.settings);
    this.controls.weightsUrl.value = options.weightsUrl;
    this.controls.onChange(() => this.updateSizeNote());
    acceptFiles(byId('content-drop'), byId<HTMLInputElement>('content-file'), (f) => void this.pickFile('content', f));
    acceptFiles(byId('style-drop'), byId<HTMLInputElement>('style-file'), (f) => void this.pickFile('style', f));
    const buttons = this.view.buttons;
    buttons.example.addEventListener('click', () => void this.useExample());
    const report = (what: string) => (e: unknown) => this.messages.show('error', what, messageOf(e));
    buttons.start.addEventListener('click', () => this.start().catch(report('The run could not start.')));
    buttons.pause.addEventListener('click', () => this.togglePause());
    buttons.stop.addEventListener('click', () => this.stop());
    buttons.download.addEventListener('click', () => this.download().catch(report('The download failed.')));
    this.renderLegend();
    this.probe.observeLongTasks();
    this.update();
  }

  // ---------------------------------------------------------------------------------------
  // GPU
  // ---------------------------------------------------------------------------------------

  /** Checks for WebGPU and takes a device; shows the no-WebGPU message when there is none. */
  async init(): Promise<void> {
    if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
      this.noWebGpu('this browser has no navigator.gpu');
      return;
    }
    try {
      const ctx = await this.gpu();
      this.view.showAdapter(ctx.description, ctx.isCpuAdapter);
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
    this.view.showNoWebGpu(detail);
    const here = detail.includes(NO_WEBGPU_HELP_BROWSER) ? '' : ` (Here: ${detail}.)`;
    this.messages.show('no-webgpu', 'No WebGPU here.', `${NO_WEBGPU_HELP_BROWSER}${here} Style transfer needs it: open this page in one of those.`);
    this.update();
  }

  /** The device, acquired (again) when there is none or it was lost. */
  private async gpu(): Promise<GpuContext> {
    if (this.ctx && !this.ctx.lost) return this.ctx;
    this.display = null;
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
    this.display = null;
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
    this.view.showPicked(which, picked);
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
    this.view.buttons.example.disabled = true;
    try {
      const base = new URL(this.options.imagesUrl, location.href);
      const [c, s] = await Promise.all([EXAMPLE_PAIR.content, EXAMPLE_PAIR.style].map((f) => fetchImage(new URL(f, base).href)));
      this.setImage('content', c);
      this.setImage('style', s);
    } catch (e) {
      this.messages.show('decode', 'The example pair is not available here.', messageOf(e));
    } finally {
      this.view.buttons.example.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Settings feedback
  // ---------------------------------------------------------------------------------------

  private updateSizeNote(): void {
    const s = this.controls.read();
    if (!Number.isInteger(s.rows) || s.rows < 1) return this.view.showSizeNote('');
    if (!this.content) return this.view.showSizeNote('width follows the content image');
    let cols: number;
    try {
      cols = workingSize(this.content.image.height, this.content.image.width, s.rows).cols;
    } catch {
      return this.view.showSizeNote('');
    }
    const gflop = gflopPerEvaluation(s.rows, cols);
    let text = `${cols} × ${s.rows} px, ≈ ${formatGflop(gflop)} per evaluation`;
    if (this.measuredGflops) text += ` (≈ ${formatDuration(gflop / this.measuredGflops)} each at the speed measured here)`;
    if (this.ctx && !this.ctx.lost) {
      try {
        checkWorkingSize(this.ctx, s.rows, cols, buildConfig(s), maxBufferBytes(s), pageMemoryBudget(), this.styleCounts(s), s.kernels);
      } catch (e) {
        const largest = largestRowsIn(messageOf(e));
        return this.view.showSizeNote(largest ? `${cols} × ${s.rows} px is too large for this GPU; at most ${largest} rows` : messageOf(e), true);
      }
    }
    this.view.showSizeNote(text);
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
    const run = newRun({ settings, content, style, styleFields: several.fields }, resume, now());
    const { rows, cols } = run;
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
    this.renderPlot(run);
    this.update();
    this.ticker = setInterval(() => this.renderStats(), 1000);

    let result: TransferResult | null = null;
    try {
      const ctx = await this.gpu();
      const config = buildConfig(settings);
      try {
        checkWorkingSize(ctx, rows, cols, config, maxBufferBytes(settings), pageMemoryBudget(), this.styleCounts(settings), settings.kernels);
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
      this.phase(
        settings.kernels === 'tuned'
          ? 'Compiling the kernels, timing them on this GPU where not yet measured (a few seconds) and computing the content and style targets…'
          : 'Compiling the kernels and computing the content and style targets…',
      );

      if (!this.display || this.display.ctx !== ctx) this.display = await CaffeCanvas.create(ctx, this.view.canvas);
      const display = this.display;
      display.setSize(rows, cols);
      display.afterDraw = (canvas) => this.probe.recordFrame(canvas);

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
        kernels: settings.kernels,
        learningRate: settings.optimizer === 'adam' ? settings.learningRate : undefined,
        signal: run.controller.signal,
        // A few dispatches per submission, waiting for the GPU in between, so the compositor
        // gets frames during an evaluation (one conv layer at 400 rows is ~10 ms on a GPU).
        maxDispatchesPerSubmit: 4,
        onProgress: (p) => this.onProgress(run, display, p),
        // several styles, blend weights, masks (absent for one style without a mask)
        ...(run.styleFields ?? {}),
      });
      if (ctx.lost) throw new Error(ctx.lost);
      // Show what the transfer returns (its best point; for L-BFGS the last reported one).
      await display.showImage(result.image);
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

  /** The style images the next run takes, for the memory check. */
  private styleCounts(s: WebSettings): { count: number; masked: number; scale: number } {
    const c = this.styleExtras.counts();
    return { count: c.styles, masked: c.masks, scale: s.styleScale };
  }

  /** Called by the transfer after every iteration (awaited): draw, record, maybe pause. */

  private async onProgress(run: Run, display: CaffeCanvas, p: TransferProgress): Promise<void> {
    if (this.ctx?.lost) return;
    const t = now();
    const iteration = run.offset.iteration + p.iteration;
    const evaluation = run.offset.evaluation + p.evaluation;
    const terms = p.terms ?? null;
    this.probe.pendingIteration = iteration;
    if (p.rows !== display.rows || p.cols !== display.cols) display.setSize(p.rows, p.cols); // a new stage
    // luminance-only transfer: the iterate on the GPU is grey; p.image() gives it the content's colours
    if (run.settings.preserveColors === 'luminance') await display.showImage(await p.image());
    else await display.show(p.x, p.segments);

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
    recordPoint(this.history, point);
    this.renderPlot(run);
    this.renderStats();
    this.renderLegend();
    this.maybeCheckpoint(run, display);
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
  private maybeCheckpoint(run: Run, display: CaffeCanvas, force = false): void {
    const t = now();
    if (this.checkpointing || (!force && t - this.lastCheckpointAt < 1000) || !this.current) return;
    this.checkpointing = true;
    this.lastCheckpointAt = t;
    const at = { ...this.current };
    display
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
    if (this.display?.hasImage && !this.ctx?.lost) {
      try {
        image = await this.display.snapshot();
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
    const name = downloadName(run.content.name, run.style.name, image.width, image.height, at?.iteration ?? 0);
    this.view.save(encodePng(image, pngText(record)), 'image/png', name);
  }


  // ---------------------------------------------------------------------------------------
  // Handing the state to the view (view.ts draws)
  // ---------------------------------------------------------------------------------------

  /** Shows a phase (null: none) and records it in the run's phases (the text without its MiB figures). */
  private phase(text: string | null, value?: number, max?: number): void {
    const label = text?.replace(/[\d.]+ of [\d.]+ MiB/, '…') ?? null;
    if (label !== null && this.phases[this.phases.length - 1]?.text !== label) this.phases.push({ text: label, at: Math.round(now()) });
    this.view.showPhase(text, value, max);
  }

  /** The figures; measures the rate on the way (status() and the size note use it). */
  private renderStats(): void {
    const run = this.run;
    const cur = this.current;
    const t = now();
    let timing: StatsInput['timing'] = null;
    if (run && cur) {
      const sample = { evaluation: cur.evaluation, done: run.planned.unit === 'iteration' ? cur.iteration : cur.evaluation };
      const rate = run.meter.evalsPerSecond(sample, t);
      if (rate !== null) this.measuredGflops = rate * gflopPerEvaluation(run.rows, run.cols);
      this.lastRate = rate;
      timing = { rate, etaSeconds: run.meter.etaSeconds(sample, run.planned.count, t), elapsedSeconds: run.meter.clock.activeMs(t) / 1000 };
    }
    this.view.renderStats({
      state: this.state,
      running: run !== null,
      current: cur,
      planned: run?.planned ?? this.lastPlanned,
      rounds: run && run.settings.schedule === 'rounds' && run.settings.optimizer === 'lbfgs' ? run.settings.rounds : null,
      timing,
    });
  }

  private renderPlot(run: Run): void {
    this.view.renderPlot(this.history, run.planned.unit === 'iteration' ? run.planned.count : undefined);
  }

  private renderLegend(): void {
    this.view.renderLegend(this.history[this.history.length - 1]);
  }

  /** Buttons, canvas visibility and the page's data-state, from the state. */
  private update(): void {
    if (this.run) this.lastPlanned = this.run.planned;
    const showingImage = !!(this.display?.hasImage && this.current);
    this.view.renderButtons({
      state: this.state,
      running: this.run !== null,
      haveImages: !!(this.content && this.style),
      showingImage,
      canDownload: showingImage || !!this.checkpoint,
    });
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
    return this.probe.lastFrame(this.view.canvas.width, this.view.canvas.height);
  }

  /** Redraws the canvas from its buffer and reads it in the same task (tests). */
  readCanvas(): { width: number; height: number; data: number[] } | null {
    if (!this.display?.hasImage) return null;
    const { canvas } = this.view;
    return { width: canvas.width, height: canvas.height, data: Array.from(this.display.readPixels()) };
  }

  status(): AppStatus {
    const run = this.run;
    const planned = run?.planned ?? this.lastPlanned;
    const since = run?.firstReportAt ?? null;
    return {
      state: this.state,
      adapter: this.ctx?.description ?? null,
      isCpuAdapter: this.ctx?.isCpuAdapter ?? false,
      rows: this.display?.rows ?? 0,
      cols: this.display?.cols ?? 0,
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
