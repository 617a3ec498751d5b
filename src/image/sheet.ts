// src/image/sheet.ts — the weight sweep's contact sheet: a grid of equally sized images, each
// with a label strip under it, drawn with a built-in 5×7 bitmap font (no font files, no canvas,
// so the CLI and the page make the same PNG).
//
// Layout (all sizes in pixels, s = opts.scale):
//   margin | cell | margin | cell | … | margin               horizontally
//   margin [header strip + margin] | cell, label strip | margin | … vertically
//   a strip is 7s + 2·pad high (pad = 2s); text starts `pad` from the cell's left edge and is
//   clipped to the cell's width (a label too long for its cell is cut, not wrapped).
// Font: 5×7 glyphs, one column of spacing (6s per character): digits, A–Z, and . , = - + : ( ) /
// _ % × and space. Lower-case letters are drawn as capitals (so "1e-3" reads "1E-3"); any other
// character is drawn as a hollow box, never an error.

import type { RgbaImage } from './types.ts';

export type Rgb = readonly [number, number, number];

/** Each glyph: 7 rows of 5 columns, '#' = ink. */
const GLYPHS: Record<string, string> = {
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '####. ....# ....# .###. ....# ....# ####.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '.###. #.... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ....# .###.',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '####. #...# #...# #...# #...# #...# ####.',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... .##.. ..#.. .#...',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '-': '..... ..... ..... ##### ..... ..... .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '/': '..... ....# ...#. ..#.. .#... #.... .....',
  _: '..... ..... ..... ..... ..... ..... #####',
  '%': '##... ##..# ...#. ..#.. .#... #..## ...##',
  '×': '..... #...# .#.#. ..#.. .#.#. #...# .....',
};
const BOX = '##### #...# #...# #...# #...# #...# #####';

export const GLYPH_W = 5;
export const GLYPH_H = 7;

/** The 7 rows × 5 columns of a character's glyph (true = ink); unknown characters get a box. */
export function glyph(ch: string): boolean[][] {
  const g = GLYPHS[ch] ?? GLYPHS[ch.toUpperCase()] ?? BOX;
  return g.split(' ').map((row) => [...row.slice(0, GLYPH_W)].map((c) => c === '#'));
}

/** Whether the font has a glyph for `ch` (lower-case letters count, as capitals). */
export function hasGlyph(ch: string): boolean {
  return ch in GLYPHS || ch.toUpperCase() in GLYPHS;
}

/** The glyph table's rows (for its test): every glyph is 7 rows of 5 columns. */
export const GLYPH_TABLE: Readonly<Record<string, string>> = GLYPHS;

/** Width in pixels of `text` at `scale` (6·scale per character, no trailing space). */
export function textWidth(text: string, scale = 1): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * (GLYPH_W + 1) - 1) * scale;
}

/**
 * Draws `text` into img with its top-left at (x, y), each font pixel a scale×scale square,
 * clipped to the rectangle clip = [x0, y0, x1, y1) (default: the whole image).
 */
export function drawText(img: RgbaImage, text: string, x: number, y: number, colour: Rgb, scale = 1, clip?: [number, number, number, number]): void {
  const [x0, y0, x1, y1] = clip ?? [0, 0, img.width, img.height];
  const cx0 = Math.max(0, x0);
  const cy0 = Math.max(0, y0);
  const cx1 = Math.min(img.width, x1);
  const cy1 = Math.min(img.height, y1);
  let pen = x;
  for (const ch of text) {
    const g = glyph(ch);
    for (let r = 0; r < GLYPH_H; r++)
      for (let c = 0; c < GLYPH_W; c++) {
        if (!g[r][c]) continue;
        for (let dy = 0; dy < scale; dy++)
          for (let dx = 0; dx < scale; dx++) {
            const px = pen + c * scale + dx;
            const py = y + r * scale + dy;
            if (px < cx0 || px >= cx1 || py < cy0 || py >= cy1) continue;
            const i = (py * img.width + px) * 4;
            img.data[i] = colour[0];
            img.data[i + 1] = colour[1];
            img.data[i + 2] = colour[2];
            img.data[i + 3] = 255;
          }
      }
    pen += (GLYPH_W + 1) * scale;
  }
}

export interface SheetOptions {
  /** pixels around and between cells (default 8) */
  margin?: number;
  /** font pixel size (default 1: 7-pixel-high text) */
  scale?: number;
  /** a line of text above the grid (e.g. the content and style names) */
  header?: string;
  background?: Rgb;
  foreground?: Rgb;
}

/** Height of a text strip at `scale`: the glyph height plus 2·scale of padding above and below. */
export function stripHeight(scale = 1): number {
  return (GLYPH_H + 4) * scale;
}

/**
 * One image: cells[r][c] in a grid with `labels[r][c]` under each cell (and an optional header
 * line above). Every cell must have the same size; rows must all have the same length.
 */
export function contactSheet(cells: readonly (readonly RgbaImage[])[], labels: readonly (readonly string[])[], opts: SheetOptions = {}): RgbaImage {
  const rows = cells.length;
  const cols = rows ? cells[0].length : 0;
  if (rows === 0 || cols === 0) throw new Error('contactSheet: the grid is empty');
  const { width: cw, height: ch } = cells[0][0];
  for (let r = 0; r < rows; r++) {
    if (cells[r].length !== cols) throw new Error(`contactSheet: row ${r} has ${cells[r].length} cells, row 0 has ${cols}`);
    if (labels[r]?.length !== cols) throw new Error(`contactSheet: row ${r} has ${labels[r]?.length ?? 0} labels for ${cols} cells`);
    for (let c = 0; c < cols; c++) {
      const im = cells[r][c];
      if (im.width !== cw || im.height !== ch) throw new Error(`contactSheet: cell (${r}, ${c}) is ${im.width}×${im.height}, cell (0, 0) is ${cw}×${ch}`);
    }
  }
  const margin = opts.margin ?? 8;
  const scale = opts.scale ?? 1;
  const bg = opts.background ?? [255, 255, 255];
  const fg = opts.foreground ?? [0, 0, 0];
  const strip = stripHeight(scale);
  const pad = 2 * scale;
  const top = opts.header !== undefined ? margin + strip : margin;
  const width = margin + cols * (cw + margin);
  const height = top + rows * (ch + strip + margin);
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([bg[0], bg[1], bg[2], 255], i * 4);
  const sheet: RgbaImage = { width, height, data };
  if (opts.header !== undefined) drawText(sheet, opts.header, margin + pad, margin + pad, fg, scale, [margin, margin, width - margin, margin + strip]);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const { x, y } = cellRect(cw, ch, r, c, opts);
      const src = cells[r][c].data;
      for (let j = 0; j < ch; j++) data.set(src.subarray(j * cw * 4, (j + 1) * cw * 4), ((y + j) * width + x) * 4);
      drawText(sheet, labels[r][c], x + pad, y + ch + pad, fg, scale, [x, y + ch, x + cw, y + ch + strip]);
    }
  return sheet;
}

/** Where cell (r, c) and its label strip lie in a sheet made with the same grid and options. */
export function cellRect(cellW: number, cellH: number, r: number, c: number, opts: SheetOptions = {}): { x: number; y: number; stripY: number; stripH: number } {
  const margin = opts.margin ?? 8;
  const strip = stripHeight(opts.scale ?? 1);
  const top = opts.header !== undefined ? margin + strip : margin;
  const x = margin + c * (cellW + margin);
  const y = top + r * (cellH + strip + margin);
  return { x, y, stripY: y + cellH, stripH: strip };
}
