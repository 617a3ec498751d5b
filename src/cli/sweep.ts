// src/cli/sweep.ts — `neural-style sweep`: one style transfer per combination of content, style
// and TV weights, each image saved, and a labelled contact sheet of them all.
//
//   neural-style sweep --content A --style B --content-weight 1,10 --style-weight 10,100
//                      --tv-weight 0.1,1 --out sheet.png [the transfer's flags]
//
// Outputs, all beside --out (stem = its name without .png):
//   <stem>_c<cw>_s<sw>_tv<tw>.png   each run's image (numbers as JavaScript prints them: 1, 0.1,
//                                  1e-7), with its settings in a tEXt chunk like a transfer's PNG
//   <stem>.png                     the contact sheet (src/image/sheet.ts):
//                                    columns: the --style-weight values, in the order given
//                                    rows:    the --content-weight values, in the order given,
//                                             repeated as one block per --tv-weight value
//                                             (row = tvIndex · #content + contentIndex)
//                                  each cell labelled "C=<cw> S=<sw> TV=<tw>"; the header names the
//                                  images and the size. Cells are enlarged by the smallest integer
//                                  factor (nearest neighbour) that lets the longest label fit.
//   <stem>.json                    every run's settings, final loss terms, evaluations, seconds
// Runs go in sheet order (row by row). The weights are loaded, the device acquired and the
// network (Vgg19, weights uploaded) created once; every run is a styleTransfer on that network.
//
// Safety, as for a transfer: every output path is checked before any work (an existing file
// stops the sweep unless --force, naming the file; nothing is written). Ctrl-C stops the run in
// progress: the cells already finished stay, the unfinished run's image, the sheet and the JSON
// are not written (exit 130); a second Ctrl-C, or one during set-up, quits at once.

import { basename, dirname, extname, join, resolve } from 'node:path';
import { EXIT, type SweepCliOptions } from './args.ts';
import {
  CliError,
  checkAliases,
  checkOutputPath,
  inputsOf,
  configJson,
  jsonBytes,
  loadImage,
  loadStyles,
  styleSettings,
  transferOptionsOf,
  lossJson,
  messageOf,
  nonFiniteCause,
  nonFiniteStartError,
  PACKAGE,
  planSize,
  PNG_TEXT_KEY,
  setUpGpu,
  settingsOf,
  writeOutput,
} from './main.ts';
import { createProgress, formatDuration, formatLoss } from './progress.ts';
import { encodePng } from '../image/decode.ts';
import { contactSheet, stripHeight, textWidth } from '../image/sheet.ts';
import type { RgbaImage } from '../image/types.ts';
import type { TransferResult } from '../style/types.ts';
import type { StyleTransferOptions } from '../api.ts';

const PROGRAM = 'neural-style';
const log = (line: string) => process.stderr.write(line + '\n');

/** One run of the sweep: its weights, its place on the sheet and its image file. */
export interface SweepCell {
  /** 0-based, in run order (= sheet order, row by row) */
  index: number;
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
  row: number;
  col: number;
  path: string;
  label: string;
}

/** A weight as it appears in file names and labels: JavaScript's shortest form (1, 0.1, 1e-7). */
export const weightText = (w: number): string => String(w);

/** "<dir>/<stem>_c1_s10_tv0.1.png" beside the sheet. */
export function cellPath(out: string, cw: number, sw: number, tw: number): string {
  const stem = basename(out, extname(out));
  return join(dirname(out), `${stem}_c${weightText(cw)}_s${weightText(sw)}_tv${weightText(tw)}.png`);
}

/** The report beside the sheet: sheet.png → sheet.json. */
export function sweepJsonPath(out: string): string {
  return join(dirname(out), `${basename(out, extname(out))}.json`);
}

/** Grid: columns = style weights; rows = content weights, one block of them per TV weight. */
export function sweepGrid(o: Pick<SweepCliOptions, 'out' | 'contentWeights' | 'styleWeights' | 'tvWeights'>): { rows: number; cols: number; cells: SweepCell[] } {
  const cells: SweepCell[] = [];
  const nc = o.contentWeights.length;
  o.tvWeights.forEach((tw, t) =>
    o.contentWeights.forEach((cw, c) =>
      o.styleWeights.forEach((sw, s) =>
        cells.push({
          index: cells.length,
          contentWeight: cw,
          styleWeight: sw,
          tvWeight: tw,
          row: t * nc + c,
          col: s,
          path: cellPath(o.out, cw, sw, tw),
          label: `C=${weightText(cw)} S=${weightText(sw)} TV=${weightText(tw)}`,
        }),
      ),
    ),
  );
  return { rows: o.tvWeights.length * nc, cols: o.styleWeights.length, cells };
}

/** The smallest integer zoom at which `label` (font scale 1, padding 2 px a side) fits a cell of width w. */
export function labelZoom(w: number, labels: readonly string[]): number {
  const need = Math.max(...labels.map((l) => textWidth(l))) + 4;
  return Math.max(1, Math.ceil(need / w));
}

/** Nearest-neighbour enlargement by an integer factor. */
export function zoomImage(img: RgbaImage, k: number): RgbaImage {
  if (k === 1) return img;
  const width = img.width * k;
  const height = img.height * k;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const s = (Math.floor(y / k) * img.width + Math.floor(x / k)) * 4;
      data.set(img.data.subarray(s, s + 4), (y * width + x) * 4);
    }
  return { width, height, data };
}

/** The sheet's pixel size for a grid of cells w × h (after zoom), with a header (sheet.ts layout, margin 8, scale 1). */
export function sheetSize(rows: number, cols: number, w: number, h: number): { width: number; height: number } {
  const margin = 8;
  const strip = stripHeight(1);
  return { width: margin + cols * (w + margin), height: margin + strip + rows * (h + strip + margin) };
}

/** Seconds left for the sweep: the mean time of the finished runs × the runs left (NaN before one finished). */
export function sweepEta(finishedSeconds: readonly number[], runsLeft: number): number {
  if (!finishedSeconds.length) return NaN;
  return (finishedSeconds.reduce((a, b) => a + b, 0) / finishedSeconds.length) * runsLeft;
}

/**
 * SIGINT during set-up: quit now (130), nothing written. During the runs: the first aborts the
 * run in progress (its image is dropped; finished cells stay); the second quits at once.
 */
class SweepInterrupts {
  readonly controller = new AbortController();
  running = false;
  finished = 0;
  stopProgress: (() => void) | null = null;
  private readonly handler = () => {
    this.stopProgress?.();
    if (!this.running || this.controller.signal.aborted) {
      log(`\n${PROGRAM}: interrupted${this.running ? `; ${this.finished} finished cell image(s) kept, no sheet written` : '; nothing was written'}`);
      process.exit(EXIT.interrupted);
    }
    this.controller.abort();
    log(`\n${PROGRAM}: stopping the sweep; the ${this.finished} finished cell image(s) are kept, the unfinished run, the sheet and the JSON are not written (press Ctrl-C again to quit now)`);
  };
  constructor() {
    process.on('SIGINT', this.handler);
  }
  dispose(): void {
    process.off('SIGINT', this.handler);
  }
}

export async function runSweep(o: SweepCliOptions): Promise<number> {
  const interrupts = new SweepInterrupts();
  try {
    // 1. every output, before any work
    const grid = sweepGrid(o);
    const jsonPath = sweepJsonPath(o.out);
    const outputs: Array<[string, string]> = [['--out', o.out], ['report', jsonPath], ...grid.cells.map((c): [string, string] => ['cell image', c.path])];
    const seen = new Map<string, string>();
    for (const [what, path] of outputs) {
      const abs = resolve(path);
      if (seen.has(abs)) throw new CliError(`${what} ${path}: the same file as the ${seen.get(abs)}; choose another --out`);
      seen.set(abs, what);
    }
    for (const [what, path] of outputs) await checkOutputPath(what, path, o.force);

    // 2. inputs and size
    const content = await loadImage('--content', o.content, o.images, o.maxPixels);
    const loaded = await loadStyles(o);
    const style = loaded.styles[0];
    const init = o.init.kind === 'image' ? await loadImage('--init', o.init.path, o.images, o.maxPixels) : null;
    await checkAliases(outputs.map(([what, path]) => ({ what, path })), await inputsOf(o, { content, ...loaded, init }));
    const size = planSize(o, content.image);
    if (o.scales) planSize(o, content.image, o.scales[0], '--scales');
    const n = grid.cells.length;
    log(
      `${PROGRAM}: sweep of ${n} run(s) (${o.contentWeights.length} content × ${o.styleWeights.length} style × ${o.tvWeights.length} tv weights): ` +
        `${content.path} in the style of ${style.path} at ${size.cols}×${size.rows}, preset ${o.preset}, ${o.optimizer}`,
    );

    // 3. weights, device, the network: once
    const { ctx, weights, transfer } = await setUpGpu(o, size.rows, size.cols);
    const { Vgg19 } = await import('../model/vgg19.ts');
    const { deepestLayer } = await import('../style/config.ts');
    const net = await Vgg19.create(ctx, weights, { pooling: o.config.pooling, upTo: deepestLayer(o.config) });
    log(`${PROGRAM}: weights from ${weights.source}; adapter ${ctx.description}`);

    // 4. the runs
    interrupts.running = true;
    const t0 = performance.now();
    const finishedSeconds: number[] = [];
    const images: RgbaImage[] = [];
    const runs: unknown[] = [];
    const nonFiniteRuns: string[] = [];
    for (const cell of grid.cells) {
      const config = { ...o.config, contentWeight: cell.contentWeight, styleWeight: cell.styleWeight, tvWeight: cell.tvWeight };
      const settings = settingsOf({ ...o, config }, { content: content.path, style: style.path, init: init?.path }, size, styleSettings(o, loaded));
      log(`${PROGRAM}: run ${cell.index + 1}/${n}: ${cell.label}  (sweep ${formatDuration((performance.now() - t0) / 1e3)} so far, eta ${formatDuration(sweepEta(finishedSeconds, n - cell.index))})`);
      const progress = createProgress(process.stderr, !!process.stderr.isTTY);
      interrupts.stopProgress = () => progress.stop();
      const options: StyleTransferOptions = {
        ...transferOptionsOf(o, content.image, loaded, init?.image ?? null, config, interrupts.controller.signal),
        onProgress: (p) => progress.update(p),
      };
      let result: TransferResult | null = null;
      try {
        result = await transfer.styleTransfer(ctx, net, options);
      } catch (e) {
        if (!interrupts.controller.signal.aborted) {
          const err = nonFiniteStartError(e);
          throw err instanceof Error ? new CliError(`run ${cell.index + 1}/${n} (${cell.label}): ${messageOf(err)}; the ${cell.index} finished cell image(s) are kept, no sheet written`) : err;
        }
      } finally {
        progress.stop();
      }
      if (interrupts.controller.signal.aborted || !result) {
        ctx.device.destroy();
        log(`${PROGRAM}: interrupted during run ${cell.index + 1}/${n}; kept ${cell.index} finished cell image(s); no sheet and no ${jsonPath} written`);
        return EXIT.interrupted;
      }
      const pngText = { [PNG_TEXT_KEY]: JSON.stringify(settings), Software: `${PACKAGE.name} ${PACKAGE.version}` };
      await writeOutput('cell image', cell.path, encodePng(result.image, pngText), o.force);
      interrupts.finished++;
      finishedSeconds.push(result.seconds);
      images.push(result.image);
      runs.push({
        index: cell.index,
        row: cell.row,
        col: cell.col,
        contentWeight: cell.contentWeight,
        styleWeight: cell.styleWeight,
        tvWeight: cell.tvWeight,
        file: cell.path,
        loss: lossJson(result.loss),
        style_layers: result.loss.styleLayers,
        evaluations: result.evaluations,
        iterations: result.iterations,
        seconds: result.seconds,
        stopped: result.stopped,
        stopReason: result.stopReason,
        reason: result.reason,
        settings,
      });
      if (result.stopReason === 'non-finite') {
        nonFiniteRuns.push(cell.label);
        log(`${PROGRAM}: run ${cell.index + 1}/${n} (${cell.label}): the loss or gradient became non-finite after ${result.iterations} iteration(s); its cell is the best finite image; likely cause: ${nonFiniteCause(o, config)}`);
      }
      log(
        `${PROGRAM}: run ${cell.index + 1}/${n} done: ${cell.label}  loss ${formatLoss(result.loss.total)} (content ${formatLoss(result.loss.content)}, ` +
          `style ${formatLoss(result.loss.style)}, tv ${formatLoss(result.loss.tv)}) in ${formatDuration(result.seconds)}; wrote ${cell.path}; ` +
          `sweep eta ${formatDuration(sweepEta(finishedSeconds, n - cell.index - 1))}`,
      );
    }
    interrupts.running = false;

    // 5. the sheet and the report
    const { width: cw, height: ch } = images[0];
    const zoom = labelZoom(cw, grid.cells.map((c) => c.label));
    const cells: RgbaImage[][] = Array.from({ length: grid.rows }, () => new Array<RgbaImage>(grid.cols));
    const labels: string[][] = Array.from({ length: grid.rows }, () => new Array<string>(grid.cols));
    for (const c of grid.cells) {
      cells[c.row][c.col] = zoomImage(images[c.index], zoom);
      labels[c.row][c.col] = c.label;
    }
    const stem = (p: string) => basename(p, extname(p));
    const header = `${stem(content.path)} × ${stem(style.path)} ${size.cols}×${size.rows}`;
    const sheet = contactSheet(cells, labels, { header });
    const seconds = (performance.now() - t0) / 1e3;
    const report = {
      program: `${PACKAGE.name} ${PACKAGE.version}`,
      content: content.path,
      style: style.path,
      rows: size.rows,
      cols: size.cols,
      preset: o.preset,
      contentWeights: o.contentWeights,
      styleWeights: o.styleWeights,
      tvWeights: o.tvWeights,
      sheet: {
        file: o.out,
        width: sheet.width,
        height: sheet.height,
        rows: grid.rows,
        cols: grid.cols,
        layout: 'columns: styleWeights; rows: contentWeights, one block per tvWeights value (row = tvIndex * contentWeights.length + contentIndex)',
        cellWidth: cw * zoom,
        cellHeight: ch * zoom,
        zoom,
      },
      seconds,
      config: configJson(o.config),
      adapter: ctx.description,
      runs,
    };
    const sheetText = { [PNG_TEXT_KEY]: JSON.stringify({ sweep: jsonPath, contentWeights: o.contentWeights, styleWeights: o.styleWeights, tvWeights: o.tvWeights }), Software: `${PACKAGE.name} ${PACKAGE.version}` };
    await writeOutput('--out', o.out, encodePng(sheet, sheetText), o.force);
    await writeOutput('report', jsonPath, jsonBytes(report), o.force);
    ctx.device.destroy();
    log(`${PROGRAM}: wrote ${o.out} (${sheet.width}×${sheet.height}, ${grid.rows}×${grid.cols} cells), ${jsonPath} and ${n} cell image(s) in ${formatDuration(seconds)}`);
    if (nonFiniteRuns.length) {
      log(`${PROGRAM}: error: ${nonFiniteRuns.length} run(s) stopped on a non-finite loss (${nonFiniteRuns.join('; ')}): their stopReason in ${jsonPath} is "non-finite"`);
      return EXIT.failure;
    }
    return EXIT.ok;
  } finally {
    interrupts.dispose();
  }
}
