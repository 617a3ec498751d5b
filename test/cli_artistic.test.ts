// Issue 9's style flags on the command line: --style (several times), --style-blend,
// --style-scale, --style-mask, --preserve-colors. Parsing (no GPU); every "Bad input" case of the
// issue through the real program (exit 2, one line naming the flag, nothing written; an
// unreadable mask: exit 1 naming the file); one short two-style masked run and one eval on the
// GPU adapter with the settings in the JSON reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, parseArgs, type EvalCliOptions } from '../src/cli/args.ts';
import { encodePng } from '../src/image/decode.ts';
import { readImageFile } from '../src/image/node.ts';
import { BASE, cli, expectUsageErrors, IMAGES, ours, STARRY, transfer, TUBINGEN, usageError } from './cli_helpers.ts';

const SCREAM = join(IMAGES, 'the_scream.jpg');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'neural-style-art-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const BAD: Array<[string, string[], RegExp]> = [
  ['blend length differs', ['--style', 'c.jpg', '--style-blend', '1,2,3'], /--style-blend: 3 weights given for 2 --style/],
  ['blend negative', ['--style', 'c.jpg', '--style-blend', '1,-1'], /--style-blend must be a number >= 0/],
  ['blend all zero', ['--style', 'c.jpg', '--style-blend', '0,0'], /--style-blend: the weights must not all be zero/],
  ['blend not a number', ['--style-blend', 'x'], /--style-blend must be a number >= 0/],
  ['mask count differs', ['--style', 'c.jpg', '--style-mask', 'm.png'], /--style-mask: 1 masks given for 2 --style/],
  ['unknown --preserve-colors', ['--preserve-colors', 'sepia'], /--preserve-colors.*sepia.*none, luminance, histogram/],
  ['style scale zero', ['--style-scale', '0'], /--style-scale must be a number > 0/],
  ['style scale negative', ['--style-scale', '-2'], /--style-scale must be a number > 0/],
];

describe('args: style flags', () => {
  it('--help lists the style flags', () => {
    const r = parseArgs(['--help']);
    const text = (r as { text: string }).text;
    for (const f of ['--style-blend', '--style-scale', '--style-mask', '--preserve-colors']) expect(text).toContain(f);
    const e = parseArgs(['eval', '--help']);
    for (const f of ['--style-blend', '--style-scale', '--style-mask', '--preserve-colors']) expect((e as { text: string }).text).toContain(f);
  });

  it('defaults: one style, equal blend, scale 1, no masks, preserve none', () => {
    const o = transfer(BASE);
    expect(o).toMatchObject({ style: 'b.jpg', styles: ['b.jpg'], styleBlend: undefined, styleScale: 1, styleMasks: undefined, preserveColors: 'none' });
  });

  it('several styles, blend, scale, masks, colours; eval takes the same', () => {
    const argv = ['--style', 'c.jpg', '--style-blend', '3,1', '--style-scale', '0.5', '--style-mask', 'm1.png', '--style-mask', 'm2.png', '--preserve-colors', 'histogram'];
    const o = transfer([...BASE, ...argv]);
    expect(o).toMatchObject({ style: 'b.jpg', styles: ['b.jpg', 'c.jpg'], styleBlend: [3, 1], styleScale: 0.5, styleMasks: ['m1.png', 'm2.png'], preserveColors: 'histogram' });
    const r = parseArgs(['eval', '--content', 'a.jpg', '--style', 'b.jpg', '--json', 'x.json', ...argv]);
    expect(r.kind).toBe('eval');
    expect((r as { options: EvalCliOptions }).options).toMatchObject({ styles: ['b.jpg', 'c.jpg'], styleBlend: [3, 1], styleScale: 0.5, styleMasks: ['m1.png', 'm2.png'], preserveColors: 'histogram' });
    expect(transfer(['example', '--preserve-colors', 'luminance']).styles).toEqual(['starry_night.jpg']);
  });

  for (const [name, extra, re] of BAD) {
    it(`bad: ${name}`, () => {
      const e = usageError([...BASE, ...extra]);
      expect(e.exitCode).toBe(EXIT.usage);
      expect(e.message).toMatch(re);
    });
  }
});


describe('program: style flags', () => {
  it('every bad-input case: exit 2, one line naming the flag, nothing written', async () => {
    await expectUsageErrors(tmp, BAD);
    expect(readdirSync(tmp)).toEqual([]);
  }, 120_000);

  it('an unreadable or missing mask: exit 1 naming the file, nothing written', async () => {
    const out = join(tmp, 'mask-bad.png');
    const notImage = join(tmp, 'mask.png');
    writeFileSync(notImage, 'not a picture\n');
    for (const [mask, re] of [
      [notImage, /--style-mask: .*mask\.png: not a JPEG or PNG image/],
      [join(tmp, 'missing-mask.png'), /--style-mask: .*missing-mask\.png: file not found/],
    ] as Array<[string, RegExp]>) {
      const r = await cli(['--content', TUBINGEN, '--style', STARRY, '--style-mask', mask, '--out', out, '--rows', '32'], 60_000);
      expect(r.code, r.stderr).toBe(EXIT.failure);
      expect(ours(r)).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(existsSync(out)).toBe(false);
    }
  }, 120_000);

  it('two styles, blend and a mask, 32 rows x 2 iterations, luminance: PNG + JSON list the settings; eval too', async () => {
    const mask = join(tmp, 'left.png');
    const m = { width: 8, height: 8, data: new Uint8ClampedArray(8 * 8 * 4) };
    for (let p = 0; p < 64; p++) m.data.fill(p % 8 < 4 ? 255 : 0, p * 4, p * 4 + 4);
    writeFileSync(mask, encodePng(m));
    const white = join(tmp, 'white.png');
    writeFileSync(white, encodePng({ width: 2, height: 2, data: new Uint8ClampedArray(16).fill(255) }));
    const out = join(tmp, 'two.png');
    const json = join(tmp, 'two.json');
    const flags = ['--style', STARRY, '--style', SCREAM, '--style-blend', '3,1', '--style-mask', white, '--style-mask', mask, '--style-scale', '1.25', '--preserve-colors', 'luminance', '--rows', '32'];
    const r = await cli(['--content', TUBINGEN, ...flags, '--out', out, '--json', json, '--iterations', '2'], 300_000);
    expect(r.code, r.stderr).toBe(0);
    const img = await readImageFile(out);
    expect([img.width, img.height]).toEqual([42, 32]);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.settings).toMatchObject({ styles: [STARRY, SCREAM], styleBlend: [0.75, 0.25], styleScale: 1.25, styleMasks: [white, mask], preserveColors: 'luminance' });
    expect(Number.isFinite(report.loss.total)).toBe(true);

    const ej = join(tmp, 'eval.json');
    const e = await cli(['eval', '--content', TUBINGEN, ...flags, '--json', ej], 300_000);
    expect(e.code, e.stderr).toBe(0);
    const er = JSON.parse(readFileSync(ej, 'utf8'));
    expect(er.settings).toMatchObject({ styles: [STARRY, SCREAM], styleBlend: [0.75, 0.25], styleScale: 1.25, styleMasks: [white, mask], preserveColors: 'luminance' });
    expect(Number.isFinite(er.loss.style) && er.loss.style > 0).toBe(true);
  }, 600_000);
});
