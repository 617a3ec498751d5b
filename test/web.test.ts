// The browser app (index.html, src/web/): its pure helpers in Node, then the page itself in
// headless Chromium (WebGPU through SwiftShader, test/browser/harness.ts with webgpuCanvas):
//   - without navigator.gpu the page says so (which browsers, which flags) instead of failing;
//   - the display shader (shaders/display_caffe.wgsl) draws a known buffer as fromCaffe does;
//   - an undecodable image, a too-large working size and a wrong weights URL give clear messages;
//   - a real run (content and style 48 rows, notebook preset, 5 L-BFGS iterations): the canvas
//     changes after every iteration, the loss shown decreases, pause holds the run still, a
//     lost device is reported and the run resumes from the last iterate, the download is a PNG of the working size with the settings in a text chunk and the same
//     pixels as the canvas; screenshots go to test/artifacts/ (git-ignored).
// SwiftShader is slow (about 10 s per evaluation at 64x48 here): the run is the long test.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/device.ts';
import { decodeImage, encodePng, readPngText } from '../src/image/decode.ts';
import { readImageFile } from '../src/image/node.ts';
import { fromCaffe } from '../src/image/preprocess.ts';
import { resize, workingSize } from '../src/image/resize.ts';
import { displayCaffeBytesCpu, displayCaffeCpu } from '../src/ref/display.ts';
import { makeConfig } from '../src/style/config.ts';
import { checkWorkingSize } from '../src/style/transfer.ts';
import type { AppStatus } from '../src/web/run_state.ts';
import type { DisplayCheck } from '../src/web/canvas.ts';
import { buildPlot, linearTicks, logTicks } from '../src/web/lossplot.ts';
import { RateMeter, RunClock } from '../src/web/progress.ts';
import {
  DEFAULT_SETTINGS,
  downloadName,
  formatDuration,
  formatWeight,
  largestRowsIn,
  maxBufferBytes,
  memoryBudgetBytes,
  PNG_TEXT_KEY,
  plannedWork,
  pngText,
  parseRefineFrom,
  remainingSchedule,
  settingsFromQuery,
  settingsRecord,
  sliderToWeight,
  transferSchedule,
  transferScales,
  validateSettings,
  WEIGHT_SCALE,
  weightToSlider,
  zeroStop,
} from '../src/web/settings.ts';
import { manifestBytes, weightsFolderUrl } from '../src/web/weights.ts';
import { resolveImagesDir, resolveWeightsDir } from '../src/model/locate.ts';
import { type DevServer, type OpenedPage, openPage, REPO_ROOT, startServer } from './browser/harness.ts';
import { browserSuite } from './browser/suite.ts';
import { randomArray } from './helpers.ts';

const ARTIFACTS = join(REPO_ROOT, 'test', 'artifacts');

describe('web page helpers (Node)', () => {
  it('default settings are valid; bad ones are reported one by one', () => {
    expect(validateSettings(DEFAULT_SETTINGS)).toEqual([]);
    const bad = validateSettings({ ...DEFAULT_SETTINGS, rows: 8, styleWeight: -1, rounds: 0, seed: 1.5 });
    expect(bad).toHaveLength(4);
    expect(bad.join('\n')).toMatch(/rows.*16/);
    expect(validateSettings({ ...DEFAULT_SETTINGS, rows: NaN })).toHaveLength(1);
  });

  it('schedules: rounds x evaluations, plain iterations, Adam, and what is left after a lost device', () => {
    expect(transferSchedule(DEFAULT_SETTINGS)).toEqual({ rounds: 10, evalsPerRound: 20 });
    expect(plannedWork(DEFAULT_SETTINGS)).toEqual({ count: 200, unit: 'evaluation' });
    const it5 = { ...DEFAULT_SETTINGS, schedule: 'iterations' as const, iterations: 5 };
    expect(transferSchedule(it5)).toEqual({ iterations: 5 });
    expect(plannedWork(it5)).toEqual({ count: 5, unit: 'iteration' });
    expect(transferSchedule({ ...DEFAULT_SETTINGS, optimizer: 'adam' })).toEqual({ iterations: 200 });
    expect(transferSchedule(remainingSchedule(it5, { iteration: 3, round: 0 }))).toEqual({ iterations: 2 });
    expect(transferSchedule(remainingSchedule(DEFAULT_SETTINGS, { iteration: 40, round: 3 }))).toEqual({ rounds: 7, evalsPerRound: 20 });
  });

  it('"start small, then refine": stages, validation, planned work, the PNG record, the query string', () => {
    const ms = { ...DEFAULT_SETTINGS, rows: 400, refineFrom: [100, 200], schedule: 'iterations' as const, iterations: 50 };
    expect(validateSettings(ms)).toEqual([]);
    expect(transferScales(ms)).toEqual([100, 200, 400]);
    expect(transferScales(DEFAULT_SETTINGS)).toBeUndefined();
    expect(plannedWork(ms)).toEqual({ count: 150, unit: 'iteration' }); // the schedule runs per stage
    expect(plannedWork({ ...ms, schedule: 'rounds' })).toEqual({ count: 600, unit: 'evaluation' });
    // resumed after a lost device: what is left, at the working size only
    const left = remainingSchedule(ms, { iteration: 70, round: 0 });
    expect(left.refineFrom).toEqual([]);
    expect(transferSchedule(left)).toEqual({ iterations: 80 });
    for (const [refineFrom, re] of [
      [[200, 100], /ascending and smaller than the working size \(400 rows\)/],
      [[100, 100], /ascending/],
      [[100, 400], /smaller than the working size/],
      [[8], /from 16 to 8192/],
      [[NaN], /from 16 to 8192/],
      [[100.5], /whole numbers/],
    ] as Array<[number[], RegExp]>) {
      const errs = validateSettings({ ...ms, refineFrom });
      expect(errs, String(refineFrom)).toHaveLength(1);
      expect(errs[0]).toMatch(re);
    }
    expect(parseRefineFrom(' 100, 200 ')).toEqual([100, 200]);
    expect(parseRefineFrom('')).toEqual([]);
    expect(parseRefineFrom('100,,200').some(Number.isNaN)).toBe(true);
    const record = settingsRecord(ms, { content: 'a.png', style: 'b.jpg', cols: 533, iteration: 150, evaluation: 170, loss: 1, adapter: 'test' });
    expect(record).toMatchObject({ rows: 400, scales: [100, 200, 400], iterations: 50 });
    expect(settingsRecord(DEFAULT_SETTINGS, { content: 'a', style: 'b', cols: 1, iteration: 0, evaluation: 0, loss: null, adapter: 't' })).not.toHaveProperty('scales');
    const q = settingsFromQuery(new URLSearchParams('rows=64&refineFrom=32,48'), DEFAULT_SETTINGS);
    expect(q).toEqual({ settings: { ...DEFAULT_SETTINGS, rows: 64, refineFrom: [32, 48] }, problems: [] });
    expect(settingsFromQuery(new URLSearchParams('refineFrom=32,x'), DEFAULT_SETTINGS).problems).toEqual(['?refineFrom=32,x: expected comma-separated rows, e.g. 100,200']);
  });

  it('largest GPU buffer: the query string, validation, the bytes the transfer gets, the page\'s memory budget', () => {
    const q = settingsFromQuery(new URLSearchParams('maxBufferMib=0.5'), DEFAULT_SETTINGS);
    expect(q.problems).toEqual([]);
    expect(q.settings.maxBufferMib).toBe(0.5);
    expect(maxBufferBytes(q.settings)).toBe(512 * 1024);
    expect(maxBufferBytes(DEFAULT_SETTINGS)).toBeUndefined();
    expect(validateSettings({ ...DEFAULT_SETTINGS, maxBufferMib: -1 })).toEqual([expect.stringMatching(/largest GPU buffer must be a number of MiB >= 0/)]);
    expect(settingsRecord({ ...DEFAULT_SETTINGS, maxBufferMib: 64 }, { content: 'a', style: 'b', cols: 1, iteration: 0, evaluation: 0, loss: 0, adapter: 'x' })).toMatchObject({ maxBufferMib: 64 });
    expect(memoryBudgetBytes(8)).toBe(4 * 2 ** 30);
    expect(memoryBudgetBytes(undefined)).toBe(4 * 2 ** 30);
    expect(memoryBudgetBytes(2)).toBe(2 ** 30);
  });

  it('colours and style scale: the query string, validation, the PNG record', () => {
    const q = settingsFromQuery(new URLSearchParams('preserveColors=histogram&styleScale=1.5'), DEFAULT_SETTINGS);
    expect(q.problems).toEqual([]);
    expect([q.settings.preserveColors, q.settings.styleScale]).toEqual(['histogram', 1.5]);
    expect(settingsFromQuery(new URLSearchParams('preserveColors=sepia'), DEFAULT_SETTINGS).problems).toEqual(['?preserveColors=sepia: expected one of none, luminance, histogram']);
    expect(validateSettings({ ...DEFAULT_SETTINGS, styleScale: 0 })).toEqual([expect.stringMatching(/style scale must be a number > 0/)]);
    expect(settingsRecord({ ...DEFAULT_SETTINGS, preserveColors: 'luminance' }, { content: 'a', style: 'b', cols: 1, iteration: 0, evaluation: 0, loss: 0, adapter: 'x' })).toMatchObject({ preserveColors: 'luminance', styleScale: 1 });
  });

  it('conv kernels (default or tuned): the query string, validation, the PNG record', () => {
    expect(DEFAULT_SETTINGS.kernels).toBe('default');
    const q = settingsFromQuery(new URLSearchParams('kernels=tuned'), DEFAULT_SETTINGS);
    expect([q.problems, q.settings.kernels]).toEqual([[], 'tuned']);
    expect(settingsFromQuery(new URLSearchParams('kernels=fast'), DEFAULT_SETTINGS).problems).toEqual(['?kernels=fast: expected one of default, tuned']);
    expect(validateSettings({ ...DEFAULT_SETTINGS, kernels: 'fast' as 'tuned' })).toEqual(['kernels must be default or tuned, got "fast"']);
    expect(settingsRecord({ ...DEFAULT_SETTINGS, kernels: 'tuned' }, { content: 'a', style: 'b', cols: 1, iteration: 0, evaluation: 0, loss: 0, adapter: 'x' })).toMatchObject({ kernels: 'tuned' });
  });

  it('settings from the query string', () => {
    const { settings, problems } = settingsFromQuery(new URLSearchParams('rows=48&iterations=5&preset=paper&pooling=max&seed=x'), DEFAULT_SETTINGS);
    expect(settings.rows).toBe(48);
    expect(settings.schedule).toBe('iterations');
    expect(settings.iterations).toBe(5);
    expect(settings.preset).toBe('paper');
    expect(settings.contentWeight).toBe(1e-3); // the paper preset's weights
    expect(settings.pooling).toBe('max'); // explicit beats the preset's avg
    expect(problems).toEqual(['?seed=x: not a number']);
  });

  it('log-scale weight sliders: round trip, zero stop, formatting', () => {
    for (const w of [1e-6, 1e-3, 0.1, 1, 10, 2.5e4, 1e6]) {
      expect(sliderToWeight(weightToSlider(w))).toBeCloseTo(w, 10);
    }
    expect(weightToSlider(0)).toBe(zeroStop(WEIGHT_SCALE));
    expect(sliderToWeight(zeroStop(WEIGHT_SCALE))).toBe(0);
    expect(sliderToWeight(0.1)).toBe(1.26);
    expect(weightToSlider(1e9)).toBe(WEIGHT_SCALE.max);
    expect([0, 0.1, 1, 10, 1.26, 1e-3, 1e-4, 2e6].map(formatWeight)).toEqual(['0', '0.1', '1', '10', '1.26', '0.001', '1e-4', '2e6']);
    expect([0.42, 12.4, 185, 3725].map(formatDuration)).toEqual(['0.4 s', '12 s', '3 min 05 s', '1 h 02 min']);
  });

  it('the largest working size that fits is read from checkWorkingSize and does fit', () => {
    const limit = 64 * 2 ** 20;
    const ctx = { device: { limits: { maxStorageBufferBindingSize: limit, maxBufferSize: limit } } } as unknown as GpuContext;
    const cfg = makeConfig('notebook');
    let message = '';
    try {
      checkWorkingSize(ctx, 800, 1066, cfg, undefined, 2 ** 30);
    } catch (e) {
      message = (e as Error).message;
    }
    const n = largestRowsIn(message);
    expect(n, message).not.toBeNull();
    const cols = (r: number) => Math.trunc((r * 1066) / 800);
    expect(() => checkWorkingSize(ctx, n!, cols(n!), cfg, undefined, 2 ** 30)).not.toThrow();
    expect(() => checkWorkingSize(ctx, n! + 1, cols(n! + 1), cfg, undefined, 2 ** 30)).toThrow();
    expect(largestRowsIn('no number here')).toBeNull();
  });

  it('the PNG record: settings in a tEXt chunk, read back', () => {
    const s = { ...DEFAULT_SETTINGS, rows: 48, schedule: 'iterations' as const, iterations: 5 };
    const record = settingsRecord(s, { content: 'a.png', style: 'b.jpg', cols: 64, iteration: 5, evaluation: 10, loss: 123.5, adapter: 'test' });
    const png = encodePng({ width: 2, height: 1, data: new Uint8ClampedArray(8).fill(200) }, pngText(record));
    const parsed = JSON.parse(readPngText(png)[PNG_TEXT_KEY]);
    expect(parsed).toMatchObject({ rows: 48, cols: 64, preset: 'notebook', iterations: 5, resize: 'nearest', iteration: 5, loss: 123.5, content: 'a.png' });
    expect(parsed.config.contentLayer).toBe('block5_conv2');
    expect(downloadName('tübingen photo.jpg', 'starry_night.jpg', 64, 48, 5)).toBe('t_bingen_photo_starry_night_64x48_it5.png');
  });

  it('display reference: equals fromCaffe within one 8-bit step, nearest sampling when scaled', () => {
    const rows = 9;
    const cols = 11;
    const x = randomArray(rows * cols * 3, 7, -200, 200);
    const a = displayCaffeBytesCpu(x, rows, cols);
    const b = fromCaffe(x, rows, cols).data;
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    expect(max).toBeLessThanOrEqual(1);
    const big = displayCaffeCpu(x, rows, cols, cols * 2, rows * 2);
    const small = displayCaffeCpu(x, rows, cols);
    for (const [py, px] of [[0, 0], [5, 7], [17, 21]]) {
      const o = (py * cols * 2 + px) * 4;
      const s = (Math.floor(py / 2) * cols + Math.floor(px / 2)) * 4;
      expect([...big.subarray(o, o + 4)]).toEqual([...small.subarray(s, s + 4)]);
    }
  });

  it('loss plot: log ticks, line breaks at non-positive values', () => {
    expect(logTicks(3, 7).ticks).toEqual([2, 5, 10]);
    expect(logTicks(1e3, 1e9).ticks).toEqual([1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]);
    expect(logTicks(2e6, 3e12)).toEqual({ ticks: [1e6, 1e8, 1e10, 1e12, 1e14], range: [6, 14] });
    expect(linearTicks(5)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(linearTicks(200)).toEqual([0, 50, 100, 150, 200]);
    const box = { width: 300, height: 100, left: 40, right: 10, top: 5, bottom: 20 };
    const plot = buildPlot(
      [
        { iteration: 0, total: 100, content: 0, style: 90, tv: 1 },
        { iteration: 1, total: 50, content: 5, style: 40, tv: 1 },
        { iteration: 2, total: 20, content: 6, style: 13, tv: 1 },
      ],
      box,
    );
    const d = Object.fromEntries(plot.paths.map((p) => [p.key, p.d]));
    expect(d.total.match(/[ML]/g)).toEqual(['M', 'L', 'L']);
    expect(d.content.match(/[ML]/g)).toEqual(['M', 'L']); // the 0 at iteration 0 is left out
    // total falls: its y (down the screen) grows
    const ys = [...d.total.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
    expect(ys[0]).toBeLessThan(ys[1]);
    expect(ys[1]).toBeLessThan(ys[2]);
    expect(buildPlot([], box).paths).toEqual([]);
  });

  it('speed and ETA leave paused time out', () => {
    const clock = new RunClock();
    clock.start(0);
    clock.pause(1000);
    clock.resume(5000);
    expect(clock.activeMs(6000)).toBe(2000);
    const m = new RateMeter();
    m.report({ evaluation: 1, done: 0 }, 0);
    m.clock.pause(1000);
    m.clock.resume(11_000);
    expect(m.evalsPerSecond({ evaluation: 5, done: 2 }, 12_000)).toBeCloseTo(2, 10); // 4 evaluations in 2 s
    expect(m.etaSeconds({ evaluation: 5, done: 2 }, 10, 12_000)).toBeCloseTo(8, 10); // 8 left at 1 per s
  });

  it('weights: folder and .h5 URLs (the default beside the page), and the manifest implies the shard files\' sizes', () => {
    expect(weightsFolderUrl('', 'http://h/app/')).toBe('http://h/app/weights/vgg19/');
    expect(weightsFolderUrl('', 'http://h/')).toBe('http://h/weights/vgg19/');
    expect(weightsFolderUrl('../w/vgg19_notop.h5?v=1', 'http://h/app/index.html')).toBe('http://h/w/vgg19_notop.h5?v=1');
    expect(weightsFolderUrl('https://cdn.example/vgg', 'http://h/')).toBe('https://cdn.example/vgg/');
    expect(weightsFolderUrl('w/vgg19?x=1', 'http://h/app/index.html')).toBe('http://h/app/w/vgg19/');
    const dir = resolveWeightsDir().dir;
    const manifest = JSON.parse(readFileSync(join(dir, 'weights_manifest.json'), 'utf8')) as Array<{ paths: string[] }>;
    const onDisk = manifest.flatMap((g) => g.paths).reduce((a, p) => a + statSync(join(dir, p)).size, 0);
    expect(manifestBytes(manifest)).toBe(onDisk);
  });
});

// ------------------------------------------------------------------------------------------
// The page in headless Chromium
// ------------------------------------------------------------------------------------------

/** Content and style, resized to `rows` (area average), as PNG files to hand to the file inputs. */
async function smallPng(name: string, rows: number): Promise<{ name: string; mimeType: string; buffer: Buffer }> {
  const img = await readImageFile(join(resolveImagesDir().dir, name));
  const { cols } = workingSize(img.height, img.width, rows);
  return { name: name.replace(/\.\w+$/, `_${rows}.png`), mimeType: 'image/png', buffer: Buffer.from(encodePng(resize(img, rows, cols, 'area'))) };
}

const status = (o: OpenedPage) => o.page.evaluate(() => window.__app!.status());

/** Polls the page's status until `ok` holds; fails after ms (with the last status) or on a page error. */
async function waitStatus(o: OpenedPage, what: string, ok: (s: AppStatus) => boolean, ms: number): Promise<AppStatus> {
  const t0 = Date.now();
  for (;;) {
    const s = await status(o);
    if (ok(s)) return s;
    if (s.state === 'failed') throw new Error(`waiting for ${what}: the run failed: ${JSON.stringify(s.messages)}`);
    if (o.errors.length) throw new Error(`waiting for ${what}: page errors:\n${o.errors.join('\n')}`);
    if (Date.now() - t0 > ms) {
      throw new Error(`waiting for ${what}: not after ${ms} ms; state ${s.state}, iteration ${s.iteration}, phases ${JSON.stringify(s.phases)}, messages ${JSON.stringify(s.messages)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits for the app to be ready (WebGPU checked). */
async function appReady(o: OpenedPage): Promise<AppStatus> {
  await o.page.waitForFunction(() => !!window.__app, null, { timeout: 60_000 });
  return waitStatus(o, 'the page to check WebGPU', (s) => s.state !== 'starting', 60_000);
}

const ROWS = 48;

/** Chooses the run's pair through the file inputs: Tübingen and The Starry Night at ROWS rows. */
async function choosePair(page: OpenedPage['page']): Promise<void> {
  await page.setInputFiles('[data-testid=content-file]', await smallPng('tubingen.jpg', ROWS));
  await page.setInputFiles('[data-testid=style-file]', await smallPng('starry_night.jpg', ROWS));
}
const ITERATIONS = 5;
/**
 * SwiftShader, 2 cores, measured: weights ~3 s, pipelines and targets ~30 s (twice: again
 * after the lost device), ~10 s per evaluation at 64x48 (5 L-BFGS iterations ~ 10 evaluations).
 */
const RUN_LIMIT_MS = 600_000;

describe('web page in headless Chromium (WebGPU on SwiftShader)', () => {
  const pages = browserSuite({ webgpuCanvas: true });
  beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));
  /** The page at the size of the screenshots. */
  const openRunPage = () => openPage(pages.browser, `${pages.url}/`, { viewport: { width: 1280, height: 1000 } });

  it('without navigator.gpu it shows the no-WebGPU message (browsers and flags) instead of failing', async () => {
    const opened = await openPage(pages.browser, `${pages.url}/`, {
      initScript: () => {
        delete (Navigator.prototype as unknown as { gpu?: unknown }).gpu;
      },
    });
    try {
      const s = await appReady(opened);
      expect(s.state).toBe('no-gpu');
      const msg = opened.page.locator('[data-testid=message-no-webgpu]');
      await msg.waitFor({ timeout: 10_000 });
      const text = (await msg.textContent()) ?? '';
      expect(text).toMatch(/Chrome/);
      expect(text).toMatch(/Safari/);
      expect(text).toMatch(/enable-unsafe-webgpu/);
      expect(await opened.page.locator('#status').textContent()).toMatch(/^WebGPU available: no/);
      expect(await opened.page.locator('[data-testid=start]').isDisabled()).toBe(true);
      expect(opened.errors, 'console errors, page errors or failed requests').toEqual([]);
    } finally {
      await opened.page.close();
    }
  }, 90_000);

  it('display_caffe.wgsl draws a known buffer as fromCaffe does (within 1/255); the example pair loads; stop while preparing', async () => {
    const opened = await openPage(pages.browser, `${pages.url}/`);
    try {
      const ready = await appReady(opened);
      expect(ready.state).toBe('idle');
      // a CPU emulation gets a small default working size
      expect(Number(await opened.page.inputValue('[data-testid=rows]'))).toBe(ready.isCpuAdapter ? 64 : 400);
      const check = await opened.page.evaluate(() => window.__app!.checkDisplay());
      const { input, pixels, ...summary } = check satisfies DisplayCheck;
      // the shader's own reference (round to nearest, as a unorm8 target stores)
      const ref = displayCaffeBytesCpu(input, check.rows, check.cols);
      let maxDiffReference = 0;
      for (let i = 0; i < ref.length; i++) if (i % 4 !== 3) maxDiffReference = Math.max(maxDiffReference, Math.abs(pixels[i] - ref[i]));
      console.log(`display check: ${JSON.stringify({ ...summary, maxDiffReference })}`);
      expect(check.maxDiffFromCaffe).toBeLessThanOrEqual(1);
      expect(maxDiffReference).toBeLessThanOrEqual(1);
      expect(check.nonOpaque).toBe(0);
      expect(check.ok).toBe(true);
      await opened.page.click('[data-testid=example]');
      await opened.page.locator('#content-caption', { hasText: 'tubingen.jpg (1024×768)' }).waitFor({ timeout: 30_000 });
      await opened.page.locator('#style-caption', { hasText: 'starry_night.jpg (1024×640)' }).waitFor({ timeout: 30_000 });
      expect(await opened.page.isEnabled('[data-testid=start]')).toBe(true);
      // Stop while it is still preparing: back to a state that can start again.
      await opened.page.fill('[data-testid=rows]', String(ROWS));
      await opened.page.click('[data-testid=start]');
      await opened.page.click('[data-testid=stop]');
      const stopped = await waitStatus(opened, 'the stop', (x) => x.state === 'stopped', 30_000);
      expect(stopped.iteration).toBe(0);
      expect(await opened.page.isEnabled('[data-testid=start]')).toBe(true);
      expect(opened.errors).toEqual([]);
    } finally {
      await opened.page.close();
    }
  }, 90_000);

  it('clear messages: an undecodable image, a size too large for the adapter (offers the largest), missing weights', async () => {
    const opened = await openPage(pages.browser, `${pages.url}/?weights=/weights/nowhere/`);
    const { page } = opened;
    try {
      await appReady(opened);
      // 1. not an image
      await page.setInputFiles('[data-testid=content-file]', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('<html>not a picture</html>') });
      const decode = page.locator('[data-testid=message-decode]');
      await decode.waitFor({ timeout: 10_000 });
      expect(await decode.textContent()).toMatch(/notes\.jpg: not a JPEG or PNG image.*HTML/);
      // 2. too large: 6000 rows need more GPU memory in all than the page plans for (half the
      //    machine's memory as the browser reports it; activations past a buffer are banded)
      await choosePair(page);
      await page.fill('[data-testid=rows]', '6000');
      await page.click('[data-testid=start]');
      const limits = page.locator('[data-testid=message-limits]');
      await limits.waitFor({ timeout: 30_000 });
      const limitText = (await limits.textContent()) ?? '';
      const largest = Number(/largest that fits[^\d]*(\d+)/.exec(limitText)?.[1]);
      expect(largest, limitText).toBeGreaterThan(100);
      expect(largest).toBeLessThan(6000);
      await page.click('[data-testid=use-largest]');
      expect(Number(await page.inputValue('[data-testid=rows]'))).toBe(largest);
      // 3. weights not found at the URL given by ?weights=
      await page.fill('[data-testid=rows]', String(ROWS));
      await page.click('[data-testid=start]');
      const weights = page.locator('[data-testid=message-weights]');
      await weights.waitFor({ timeout: 60_000 });
      expect(await weights.textContent()).toMatch(/weights\/nowhere\/.*weights_manifest\.json.*Weights URL/s);
      expect((await status(opened)).state).toBe('failed');
      // the only errors: the two 404s of the missing manifest (and model.json, its fallback)
      const unexpected = opened.errors.filter((e) => !/404.*\/weights\/nowhere\/(weights_manifest|model)\.json|Failed to load resource.*404/.test(e));
      expect(opened.errors.length, 'the 404s were seen').toBeGreaterThan(0);
      expect(unexpected).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);

  it(
    `a run: ${ROWS}-row pair, ${ITERATIONS} L-BFGS iterations: live canvas, falling loss, pause, lost device and resume, download, screenshots`,
    async () => {
      const t0 = Date.now();
      const opened = await openRunPage();
      const { page } = opened;
      try {
        await appReady(opened);
        // Choose two small images and the settings through the form.
        await choosePair(page);
        await page.selectOption('[data-testid=preset]', 'notebook');
        await page.fill('[data-testid=rows]', String(ROWS));
        await page.selectOption('[data-testid=optimizer]', 'lbfgs');
        await page.selectOption('[data-testid=schedule]', 'iterations');
        await page.fill('[data-testid=iterations]', String(ITERATIONS));
        expect(await page.textContent('[data-testid=size-note]')).toMatch(/64 × 48 px/);
        await page.evaluate(() => window.__app!.recordFrames(true));
        await page.click('[data-testid=start]');

        // Running: a screenshot once the first iterations are on the canvas.
        let s = await waitStatus(opened, 'iteration 2', (x) => x.iteration >= 2, RUN_LIMIT_MS);
        await page.screenshot({ path: join(ARTIFACTS, 'web_running.png'), fullPage: true });

        // Pause: the run holds still (no new iteration, same canvas) until resumed.
        await page.click('[data-testid=pause]');
        s = await waitStatus(opened, 'the pause', (x) => x.state === 'paused', RUN_LIMIT_MS);
        const pausedAt = s.iteration;
        expect(await page.textContent('[data-testid=pause]')).toBe('Resume');
        await page.waitForTimeout(4000);
        const still = await status(opened);
        expect(still.state).toBe('paused');
        expect(still.iteration).toBe(pausedAt);
        expect(still.frames.length).toBe(s.frames.length);
        await page.click('[data-testid=pause]');

        // The device is lost mid-run (once the checkpoint has caught up): the page says so and
        // offers to resume from the last iterate, which continues on a new device.
        s = await waitStatus(opened, 'iteration 3 and its checkpoint', (x) => x.iteration >= 3 && x.checkpointIteration === x.iteration, RUN_LIMIT_MS);
        const lostAt = s.iteration;
        expect(lostAt).toBeLessThan(ITERATIONS);
        await page.evaluate(() => window.__app!.loseDevice());
        const lost = page.locator('[data-testid=message-device-lost]');
        await lost.waitFor({ timeout: 120_000 });
        expect(await lost.textContent()).toContain(`iteration ${lostAt}`);
        expect((await status(opened)).state).toBe('failed');
        await page.click('[data-testid=resume]');

        s = await waitStatus(opened, 'the end of the run', (x) => x.state === 'done', RUN_LIMIT_MS);
        const runSeconds = (Date.now() - t0) / 1000;

        // The loss shown decreased over the iterations (L-BFGS accepts only decreasing steps).
        const losses = s.history.map((h) => h.total);
        expect(s.history.map((h) => h.iteration)).toEqual([0, 1, 2, 3, 4, 5]);
        for (let i = 1; i < losses.length; i++) expect(losses[i], `iteration ${i}`).toBeLessThan(losses[i - 1]);
        const shown = Number(((await page.textContent('[data-testid=loss]')) ?? '').trim());
        expect(shown / losses[losses.length - 1]).toBeCloseTo(1, 3);
        expect(s.history[ITERATIONS].style, 'per-term losses').toBeGreaterThan(0);

        // The canvas changed between iterations: one frame per iteration (plus the final redraw).
        const byIteration = new Map<number, string>();
        for (const f of s.frames) if (!byIteration.has(f.iteration)) byIteration.set(f.iteration, f.hash);
        expect([...byIteration.keys()]).toEqual([0, 1, 2, 3, 4, 5]);
        const hashes = [...byIteration.values()];
        for (let i = 1; i < hashes.length; i++) expect(hashes[i], `canvas at iteration ${i} vs ${i - 1}`).not.toBe(hashes[i - 1]);
        expect(s.frames.every((f) => f.mean > 5), 'frames are not blank').toBe(true);

        // Download: a PNG of the working size carrying the settings, with the canvas's pixels.
        const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('[data-testid=download]')]);
        const pngPath = join(ARTIFACTS, 'web_download.png');
        await download.saveAs(pngPath);
        const bytes = new Uint8Array(readFileSync(pngPath));
        const png = decodeImage(bytes, download.suggestedFilename());
        expect([png.width, png.height]).toEqual([64, ROWS]);
        expect(download.suggestedFilename()).toBe(`tubingen_48_starry_night_48_64x48_it${ITERATIONS}.png`);
        const record = JSON.parse(readPngText(bytes)[PNG_TEXT_KEY]);
        expect(record).toMatchObject({ rows: ROWS, cols: 64, preset: 'notebook', optimizer: 'lbfgs', iterations: ITERATIONS, iteration: ITERATIONS, resumedFrom: lostAt });
        const canvas = await page.evaluate(() => window.__app!.readCanvas());
        expect(canvas && [canvas.width, canvas.height]).toEqual([64, ROWS]);
        let maxDiff = 0;
        for (let i = 0; i < png.data.length; i++) if (i % 4 !== 3) maxDiff = Math.max(maxDiff, Math.abs(png.data[i] - canvas!.data[i]));
        expect(maxDiff, 'canvas vs downloaded PNG (fromCaffe of the same buffer)').toBeLessThanOrEqual(1);

        // Phone-sized screen.
        await page.setViewportSize({ width: 390, height: 844 });
        await page.waitForTimeout(300);
        await page.screenshot({ path: join(ARTIFACTS, 'web_phone.png'), fullPage: true });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, 'no horizontal scrolling on a phone').toBeLessThanOrEqual(0);

        const phases = s.phases.map((p, i) => `${p.text} +${i ? ((p.at - s.phases[i - 1].at) / 1000).toFixed(1) : '0'} s`).join('; ');
        const report =
          `web run on ${s.adapter}: ${s.cols}x${s.rows}, ${s.iteration} iterations, ${s.evaluation} evaluations (device lost at ${lostAt}, resumed), ` +
          `${s.evalsPerSecond?.toFixed(3)} evaluations/s, loss ${losses[0].toExponential(3)} -> ${losses[losses.length - 1].toExponential(3)}; ` +
          `longest frame gap ${s.longestFrameGapMs} ms, long tasks ${JSON.stringify(s.longTasksDuringRun)}; ${runSeconds.toFixed(0)} s in all\n  phases: ${phases}`;
        console.log(report);
        writeFileSync(join(ARTIFACTS, 'web_run.txt'), report + '\n');
        expect(opened.errors, 'console errors, page errors or failed requests').toEqual([]);
      } finally {
        await page.close();
      }
    },
    RUN_LIMIT_MS + 120_000,
  );

  // Several styles (src/web/styles.ts): the page passes styles / styleBlend / styleMasks, and
  // preserveColors / styleScale / kernels from its settings, to styleTransfer.
  it('two styles with blend sliders and a mask, luminance-only colours, style scale 1.5, tuned kernels: 2 iterations, finite loss, colour on the canvas, no console errors', async () => {
    const opened = await openRunPage();
    const { page } = opened;
    try {
      await appReady(opened);
      await choosePair(page);
      await page.click('[data-testid=add-style]');
      await page.setInputFiles('[data-testid=style-file-1]', await smallPng('the_scream.jpg', ROWS));
      // mask of style 2: its right half (white), 64 x 48 like the working size
      const mask = { width: 64, height: ROWS, data: new Uint8ClampedArray(64 * ROWS * 4) };
      for (let i = 0; i < 64 * ROWS; i++) mask.data.set((i % 64) >= 32 ? [255, 255, 255, 255] : [0, 0, 0, 255], i * 4);
      await page.setInputFiles('[data-testid=style-mask-1]', { name: 'right_half.png', mimeType: 'image/png', buffer: Buffer.from(encodePng(mask)) });
      await page.locator('[data-testid=style-entry-1]', { hasText: 'mask: right_half.png' }).waitFor({ timeout: 10_000 });
      await page.locator('[data-testid=style-entry-1]', { hasText: 'the_scream_48.png' }).waitFor({ timeout: 10_000 });
      await page.locator('[data-testid=style-blend-0]').fill('0.6');
      await page.locator('[data-testid=style-blend-1]').fill('0.4');
      await page.selectOption('[data-testid=preset]', 'notebook');
      await page.fill('[data-testid=rows]', String(ROWS));
      await page.selectOption('[data-testid=optimizer]', 'lbfgs');
      await page.selectOption('[data-testid=schedule]', 'iterations');
      await page.fill('[data-testid=iterations]', '2');
      await page.selectOption('[data-testid=preserveColors]', 'luminance');
      await page.fill('[data-testid=styleScale]', '1.5');
      // tuned conv kernels: timed on this adapter at first use, remembered in localStorage
      await page.selectOption('[data-testid=kernels]', 'tuned');
      await page.click('[data-testid=start]');
      expect(await page.isDisabled('[data-testid=style-blend-1]'), 'locked while running').toBe(true);
      const s = await waitStatus(opened, 'the end of the run', (x) => x.state === 'done' || x.state === 'failed', RUN_LIMIT_MS);
      await page.screenshot({ path: join(ARTIFACTS, 'web_styles.png'), fullPage: true });
      expect(s.state, JSON.stringify(s.messages)).toBe('done');
      expect(s.styles).toEqual({ count: 2, masks: 1 });
      expect(s.iteration).toBe(2);
      // the set-up time (Start to the first evaluation) is shown with the result
      expect(s.messages.map((m) => m.text).join('\n')).toMatch(/Set-up \(Start to the first evaluation\): \d+\.\d s\./);
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(s.history.every((h) => Number.isFinite(h.total))).toBe(true);
      // the transfer ran on luminance; the canvas shows it with the content's colours
      const canvas = await page.evaluate(() => window.__app!.readCanvas());
      let coloured = 0;
      for (let i = 0; i < canvas!.data.length; i += 4) if (Math.abs(canvas!.data[i] - canvas!.data[i + 2]) > 8) coloured++;
      expect(coloured / (canvas!.data.length / 4), 'share of pixels with R != B').toBeGreaterThan(0.2);
      // the autotuner's choices are in this browser's cache (src/kernels/kernel_cache.ts)
      const cache = await page.evaluate(() => localStorage.getItem('neural-style-webgpu/kernels'));
      const tunedShapes = Object.values((JSON.parse(cache ?? '{}') as { adapters?: Record<string, object> }).adapters ?? {}).map((a) => Object.keys(a).length);
      expect(tunedShapes.length, 'one adapter section').toBe(1);
      expect(tunedShapes[0], 'shapes tuned').toBeGreaterThan(0);
      expect(opened.errors, 'console errors, page errors or failed requests').toEqual([]);
    } finally {
      await page.close();
    }
  }, RUN_LIMIT_MS + 60_000);
});

// ------------------------------------------------------------------------------------------
// The dev server's file serving (vite.config.ts): the data folders serve only the file types
// the page reads, never a dotfile, a traversal or a symlink out of the folder; vite itself serves
// only the page's own files (server.fs: strict, allow, deny), so `vite --host` exposes nothing else.
// ------------------------------------------------------------------------------------------

describe('dev server: what it serves', () => {
  let server: DevServer | undefined;
  let dir = '';
  const saved = process.env.NEURAL_STYLE_IMAGES;

  beforeAll(async () => {
    // an images folder with an image, and things that must not come out of it
    dir = mkdtempSync(join(tmpdir(), 'dev-server-images-'));
    const folder = join(dir, 'images');
    mkdirSync(folder);
    writeFileSync(join(folder, 'ok.png'), encodePng({ width: 2, height: 2, data: new Uint8ClampedArray(16).fill(200) }));
    writeFileSync(join(folder, '.env'), 'SECRET=1\n');
    writeFileSync(join(folder, 'notes.txt'), 'not an image\n');
    writeFileSync(join(dir, 'outside.png'), encodePng({ width: 1, height: 1, data: new Uint8ClampedArray(4) }));
    symlinkSync('/etc/passwd', join(folder, 'passwd.png'));
    symlinkSync(join(dir, 'outside.png'), join(folder, 'outside-link.png'));
    mkdirSync(join(folder, '.hidden'));
    writeFileSync(join(folder, '.hidden', 'x.png'), 'hidden-content\n');
    process.env.NEURAL_STYLE_IMAGES = folder; // resolveImagesDir() is read per request
    server = await startServer();
  }, 120_000);

  afterAll(async () => {
    if (saved === undefined) delete process.env.NEURAL_STYLE_IMAGES;
    else process.env.NEURAL_STYLE_IMAGES = saved;
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** A raw GET (no URL normalisation by the client, so '..' reaches the server as sent). */
  const get = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolvePromise, reject) => {
      const u = new URL(server!.url);
      const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path}: no answer in 30 s`)));
      req.end();
    });

  it('an image and a weights shard: 200; a dotfile, a symlink out of the folder, a traversal, an unexpected type: 403/404, never their content', async () => {
    expect((await get('/images/ok.png')).status).toBe(200);
    const shard = await get('/weights/vgg19/block1_conv1.bin');
    expect(shard.status).toBe(existsSync(join(resolveWeightsDir().dir, 'block1_conv1.bin')) ? 200 : 404);
    expect((await get('/weights/vgg19/weights_manifest.json')).status).toBe(200);
    expect((await get('/weights/vgg19/SHA256SUMS')).status).toBe(existsSync(join(resolveWeightsDir().dir, 'SHA256SUMS')) ? 200 : 404); // the page verifies the shards with it
    for (const path of [
      '/images/.env',
      '/images/%2eenv',
      '/images/.hidden/x.png',
      '/images/passwd.png', // a symlink to /etc/passwd
      '/images/outside-link.png', // a symlink to an image outside the folder
      '/images/../outside.png',
      '/images/%2e%2e/outside.png',
      '/images/..%2foutside.png',
      '/images/notes.txt',
      '/weights/vgg19/README.md',
      '/weights/vgg19/../locate.ts',
      '/images/missing.png',
    ]) {
      const r = await get(path);
      expect([403, 404], `${path}: ${r.status} ${r.body.slice(0, 80)}`).toContain(r.status);
      expect(r.body, path).not.toMatch(/SECRET|root:|not an image|hidden-content/);
    }
  });

  it('vite serves the page and its code, not the rest of the checkout or anything outside it (server.fs)', async () => {
    for (const path of ['/index.html', '/src/web/main.ts', '/shaders/display_caffe.wgsl', '/test/browser/kernels.html']) {
      expect((await get(path)).status, path).toBe(200);
    }
    for (const path of ['/package.json', '/.gitignore', '/.git/config', '/vite.config.ts', '/weights/locate.ts', '/README.md', '/@fs/etc/passwd', `/@fs${resolve(REPO_ROOT, '..', 'shared')}/DESIGN.md`]) {
      const r = await get(path);
      expect([403, 404], `${path}: ${r.status}`).toContain(r.status);
      expect(r.body, path).not.toMatch(/"name": "neural-style-webgpu"|root:x:0|# Design notes/);
    }
  });
});
