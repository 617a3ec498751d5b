// The weight sweep's contact sheet (src/image/sheet.ts): layout sizes follow the grid, labels
// are drawn inside their strips, unknown characters become boxes, bad grids give one-line errors.
import { describe, expect, it } from 'vitest';
import { cellRect, contactSheet, GLYPH_TABLE, glyph, hasGlyph, stripHeight, textWidth } from '../src/image/sheet.ts';
import type { RgbaImage } from '../src/image/types.ts';

function solid(w: number, h: number, rgb: [number, number, number]): RgbaImage {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return { width: w, height: h, data };
}

/** Pixels in [x0, x1) × [y0, y1) that differ from the background colour. */
function inked(img: RgbaImage, x0: number, y0: number, x1: number, y1: number, bg = [255, 255, 255]): number {
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * 4;
      if (img.data[i] !== bg[0] || img.data[i + 1] !== bg[1] || img.data[i + 2] !== bg[2]) n++;
    }
  return n;
}

describe('bitmap font', () => {
  it('every glyph is 7 rows of 5 columns of # and .', () => {
    for (const [ch, g] of Object.entries(GLYPH_TABLE)) {
      const rows = g.split(' ');
      expect(rows.length, ch).toBe(7);
      for (const r of rows) expect(r, ch).toMatch(/^[#.]{5}$/);
    }
  });
  it('covers the characters of weight labels; lower case as capitals; unknown as a box', () => {
    for (const ch of '0123456789abcdefghijklmnopqrstuvwxyz.,=-+: ') expect(hasGlyph(ch), ch).toBe(true);
    expect(glyph('e')).toEqual(glyph('E'));
    expect(hasGlyph('€')).toBe(false);
    const box = glyph('€');
    expect(box[0].every(Boolean) && box[6].every(Boolean)).toBe(true);
    expect(box[3]).toEqual([true, false, false, false, true]);
    expect(textWidth('ab', 2)).toBe(22);
  });
});

describe('contactSheet', () => {
  const [cw, ch] = [40, 30];
  const colours: Array<[number, number, number]> = [
    [200, 30, 30],
    [30, 200, 30],
    [30, 30, 200],
    [200, 200, 30],
    [30, 200, 200],
    [200, 30, 200],
  ];
  const cells = [0, 1].map((r) => [0, 1, 2].map((c) => solid(cw, ch, colours[r * 3 + c])));
  const labels = [
    ['c=1 s=10', 'c=1 s=100', 'c=1 s=1e3'],
    ['tv=0.1', 'tv=1e-2', 'x€y'],
  ];

  it('size follows the grid, with and without a header', () => {
    const a = contactSheet(cells, labels);
    expect([a.width, a.height]).toEqual([8 + 3 * (cw + 8), 8 + 2 * (ch + stripHeight() + 8)]);
    const b = contactSheet(cells, labels, { header: 'tubingen x starry_night', margin: 4, scale: 2 });
    expect([b.width, b.height]).toEqual([4 + 3 * (cw + 4), 4 + stripHeight(2) + 2 * (ch + stripHeight(2) + 4)]);
    expect(a.data.length).toBe(a.width * a.height * 4);
    expect(inked(b, 4, 4, b.width - 4, 4 + stripHeight(2))).toBeGreaterThan(0); // the header is drawn
  });

  it('each cell is copied in place and each label is drawn inside its own strip', () => {
    const opts = { margin: 6 };
    const s = contactSheet(cells, labels, opts);
    for (let r = 0; r < 2; r++)
      for (let c = 0; c < 3; c++) {
        const { x, y, stripY, stripH } = cellRect(cw, ch, r, c, opts);
        const i = ((y + 5) * s.width + x + 7) * 4;
        expect([s.data[i], s.data[i + 1], s.data[i + 2]]).toEqual(colours[r * 3 + c]);
        const ink = inked(s, x, stripY, x + cw, stripY + stripH);
        expect(ink, `label (${r}, ${c})`).toBeGreaterThan(10);
        // nothing spills into the margin to the right of the cell (long labels are clipped)
        expect(inked(s, x + cw, stripY, x + cw + 6, stripY + stripH)).toBe(0);
      }
    // "1" is narrower in ink than "8": labels that differ draw different pixels
    const one = contactSheet([[cells[0][0]]], [['1']], opts);
    const eight = contactSheet([[cells[0][0]]], [['8']], opts);
    const r0 = cellRect(cw, ch, 0, 0, opts);
    expect(inked(one, 0, r0.stripY, one.width, r0.stripY + r0.stripH)).toBeLessThan(inked(eight, 0, r0.stripY, eight.width, r0.stripY + r0.stripH));
  });

  it('an unknown character renders as a box, not a crash', () => {
    const opts = { margin: 2 };
    const s = contactSheet([[cells[0][0]]], [['€']], opts);
    const { x, stripY } = cellRect(cw, ch, 0, 0, opts);
    // the box's outline: 5 + 5 + 2*5 = 20 ink pixels, starting at the strip's padding (2, 2)
    expect(inked(s, x, stripY, x + cw, stripY + stripHeight())).toBe(20);
  });

  it('bad grids give one-line errors', () => {
    expect(() => contactSheet([], [])).toThrow(/contactSheet: the grid is empty/);
    expect(() => contactSheet([[cells[0][0], solid(10, 10, [0, 0, 0])]], [['a', 'b']])).toThrow(/cell \(0, 1\) is 10×10, cell \(0, 0\) is 40×30/);
    expect(() => contactSheet(cells, [labels[0]])).toThrow(/row 1 has 0 labels for 3 cells/);
  });
});
