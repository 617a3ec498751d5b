// test/image.test.ts — src/image/*: decoding (JPEG with EXIF orientation, every
// PNG flavour), error messages, PNG text chunks, resizing, caffe preprocessing,
// and the Node file helpers. Everything is built in memory or in a fresh temp
// directory; the shared example images are only read.

import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants as zlibConstants, deflateSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

import type { RgbaImage } from '../src/image/types.ts';
import { crc32, decodeImage, DEFAULT_MAX_PIXELS, encodePng, imageHeaderSize, jpegExifOrientation, pngChunk, readPngText } from '../src/image/decode.ts';
import { headerPng } from './png_fixtures.ts';
import { inflatedLength } from '../src/image/inflate.ts';
import { resize, workingSize } from '../src/image/resize.ts';
import { CAFFE_MEAN_BGR, fromCaffe, randomCaffe, toCaffe } from '../src/image/preprocess.ts';
import { mulberry32 } from '../src/image/random.ts';
import { readImageFile, writePngAtomic } from '../src/image/node.ts';
import { tempDir } from './temp_dir.ts';

const IMAGES = join(__dirname, '..', '..', 'shared', 'images');
const TUBINGEN = join(IMAGES, 'tubingen.jpg');
const STARRY = join(IMAGES, 'starry_night.jpg');
const haveImages = existsSync(TUBINGEN) && existsSync(STARRY);

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/** An image whose pixel (x, y) is f(x, y) = [r, g, b, a]. */
function makeImage(width: number, height: number, f: (x: number, y: number) => number[]): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 4);
  return { width, height, data };
}

function pixel(img: RgbaImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return Array.from(img.data.subarray(i, i + 4));
}

function noiseImage(width: number, height: number, seed: number): RgbaImage {
  const r = mulberry32(seed);
  return makeImage(width, height, () => [r() * 256, r() * 256, r() * 256, r() * 256].map(Math.floor));
}

/** A PNG written by pngjs from RGBA input, converted to the given colour type / depth. */
function pngjsWrite(width: number, height: number, rgba: Buffer, colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16 = 8): Uint8Array {
  const png = new PNG({ width, height });
  png.data = rgba;
  return new Uint8Array(PNG.sync.write(png, { colorType, bitDepth, inputColorType: 6, inputHasAlpha: true }));
}

/** A PNG assembled by hand (pngjs cannot write palette or sub-byte images). */
function handPng(
  width: number, height: number, depth: number, colorType: number,
  packedRows: Uint8Array[], extra: [string, Uint8Array][] = [],
): Uint8Array {
  const chunk = pngChunk;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  const raw = Buffer.concat(packedRows.map((r) => Buffer.concat([Buffer.from([0]), r]))); // filter 0 per row
  return new Uint8Array(Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra.map(([t, d]) => chunk(t, d)),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]));
}

/** An APP1 Exif segment holding only IFD0 with one Orientation entry. */
function exifApp1(orientation: number, littleEndian: boolean): Uint8Array {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  const u16 = (v: number, o: number) => (littleEndian ? tiff.writeUInt16LE(v, o) : tiff.writeUInt16BE(v, o));
  const u32 = (v: number, o: number) => (littleEndian ? tiff.writeUInt32LE(v, o) : tiff.writeUInt32BE(v, o));
  tiff.write(littleEndian ? 'II' : 'MM', 0, 'latin1');
  u16(42, 2);
  u32(8, 4); // IFD0 right after the header
  u16(1, 8); // one entry
  u16(0x0112, 10); // Orientation
  u16(3, 12); // SHORT
  u32(1, 14); // count 1
  u16(orientation, 18); // value, left-justified in the 4-byte field
  u32(0, 22); // no next IFD
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const seg = Buffer.alloc(4 + payload.length);
  seg.set([0xff, 0xe1], 0);
  seg.writeUInt16BE(payload.length + 2, 2);
  seg.set(payload, 4);
  return seg;
}

/** Inserts a segment right after the JPEG's SOI marker. */
function spliceAfterSoi(jpg: Uint8Array, segment: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([jpg.subarray(0, 2), segment, jpg.subarray(2)]));
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

// ---------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------

describe.skipIf(!haveImages)('decodeImage on the example JPEGs', () => {
  it('tubingen.jpg is 1024×768 and starry_night.jpg 1024×640, opaque, with plausible content', () => {
    for (const [file, w, h] of [[TUBINGEN, 1024, 768], [STARRY, 1024, 640]] as const) {
      const img = decodeImage(new Uint8Array(readFileSync(file)), file);
      expect([img.width, img.height]).toEqual([w, h]);
      expect(img.data.length).toBe(w * h * 4);
      let sum = 0, sumSq = 0, opaque = true;
      for (let i = 0; i < img.data.length; i += 4) {
        const v = img.data[i] + img.data[i + 1] + img.data[i + 2];
        sum += v;
        sumSq += v * v;
        opaque &&= img.data[i + 3] === 255;
      }
      const n = w * h, mean = sum / n / 3, std = Math.sqrt(sumSq / n - (sum / n) ** 2) / 3;
      expect(opaque).toBe(true);
      expect(mean).toBeGreaterThan(40); // neither black nor white nor flat grey
      expect(mean).toBeLessThan(215);
      expect(std).toBeGreaterThan(20);
    }
  });

  it('rejects a truncated JPEG (tubingen cut in half) but accepts trailing zero padding', () => {
    const bytes = new Uint8Array(readFileSync(TUBINGEN));
    const half = bytes.subarray(0, bytes.length >> 1);
    expect(errorOf(() => decodeImage(half, 'half.jpg'))).toMatch(/^half\.jpg: truncated or corrupt JPEG: /);
    const padded = new Uint8Array(bytes.length + 100);
    padded.set(bytes);
    expect(decodeImage(padded, 'padded.jpg').width).toBe(1024);
  });
});

describe('JPEG EXIF orientation', () => {
  // 32×16 picture, four solid 16×8 quadrants (solid blocks survive JPEG well)
  const RED = [255, 0, 0], GREEN = [0, 255, 0], BLUE = [0, 0, 255], WHITE = [255, 255, 255];
  const src = makeImage(32, 16, (x, y) => [...(y < 8 ? (x < 16 ? RED : GREEN) : x < 16 ? BLUE : WHITE), 255]);
  const plain = new Uint8Array(jpeg.encode({ ...src, data: Buffer.from(src.data) }, 95).data);
  const [TL, TR, BL, BR] = [RED, GREEN, BLUE, WHITE]; // stored corners
  // displayed corners [top-left, top-right, bottom-left, bottom-right] per orientation
  // (the table of PIL's ImageOps.exif_transpose)
  const expected: Record<number, number[][]> = {
    1: [TL, TR, BL, BR],
    2: [TR, TL, BR, BL], // mirrored left–right
    3: [BR, BL, TR, TL], // 180°
    4: [BL, BR, TL, TR], // mirrored top–bottom
    5: [TL, BL, TR, BR], // transposed
    6: [BL, TL, BR, TR], // 90° clockwise
    7: [BR, TR, BL, TL], // transverse
    8: [TR, BR, TL, BL], // 90° counter-clockwise
  };
  const near = (got: number[], want: number[]) => want.every((v, i) => Math.abs(got[i] - v) <= 12);

  for (const le of [true, false]) {
    for (const o of [1, 2, 3, 4, 5, 6, 7, 8]) {
      it(`orientation ${o}, ${le ? 'little' : 'big'}-endian EXIF`, () => {
        const jpg = spliceAfterSoi(plain, exifApp1(o, le));
        expect(jpegExifOrientation(jpg)).toBe(o);
        const img = decodeImage(jpg, 'o.jpg');
        const swapped = o >= 5;
        expect([img.width, img.height]).toEqual(swapped ? [16, 32] : [32, 16]);
        const { width: w, height: h } = img;
        // sample 2 px inside each corner, away from JPEG ringing at the quadrant edges
        const got = [pixel(img, 2, 2), pixel(img, w - 3, 2), pixel(img, 2, h - 3), pixel(img, w - 3, h - 3)];
        got.forEach((p, i) => expect(near(p, expected[o][i]), `corner ${i}: ${p}`).toBe(true));
      });
    }
  }

  it('ignores malformed EXIF data and a JPEG without EXIF', () => {
    expect(jpegExifOrientation(plain)).toBe(1);
    const bad = exifApp1(6, true);
    bad[10] = 0x58; // TIFF byte-order mark "XI": not EXIF we understand
    const img = decodeImage(spliceAfterSoi(plain, bad), 'bad-exif.jpg');
    expect([img.width, img.height]).toEqual([32, 16]);
    const outOfRange = decodeImage(spliceAfterSoi(plain, exifApp1(9, false)), 'o9.jpg');
    expect([outOfRange.width, outOfRange.height]).toEqual([32, 16]);
  });

  it('reports a corrupt JPEG with the decoder message', () => {
    const corrupt = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x03, 0x01, 0x02, 0x03, 0xff, 0xd9]);
    expect(errorOf(() => decodeImage(corrupt, 'c.jpg'))).toMatch(/^c\.jpg: truncated or corrupt JPEG: .+/);
  });
});

// ---------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------

describe('PNG decoding', () => {
  const W = 7, H = 5; // odd sizes on purpose

  it('RGBA 8-bit round-trips exactly through encodePng', () => {
    const img = noiseImage(W, H, 1);
    const back = decodeImage(encodePng(img), 'rgba.png');
    expect([back.width, back.height]).toEqual([W, H]);
    expect(back.data).toEqual(img.data);
  });

  it('RGB 8-bit decodes with alpha 255', () => {
    const img = makeImage(W, H, (x, y) => [x * 30, y * 50, (x * y) % 256, 255]);
    const back = decodeImage(pngjsWrite(W, H, Buffer.from(img.data), 2), 'rgb.png');
    expect(back.data).toEqual(img.data);
  });

  it('grey and grey+alpha decode to R = G = B (alpha kept)', () => {
    const g = (x: number, y: number) => (x * 37 + y * 11) % 256;
    const rgba = makeImage(W, H, (x, y) => [g(x, y), g(x, y), g(x, y), (x * 50) % 256]);
    const grey = decodeImage(pngjsWrite(W, H, Buffer.from(makeImage(W, H, (x, y) => [g(x, y), g(x, y), g(x, y), 255]).data), 0), 'g.png');
    const greyAlpha = decodeImage(pngjsWrite(W, H, Buffer.from(rgba.data), 4), 'ga.png');
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        expect(pixel(grey, x, y)).toEqual([g(x, y), g(x, y), g(x, y), 255]);
        expect(pixel(greyAlpha, x, y)).toEqual(pixel(rgba, x, y));
      }
    }
  });

  it('palette 8-bit with tRNS, palette 2-bit, grey 1-bit', () => {
    const pal = [[10, 20, 30], [200, 100, 0], [0, 255, 128], [255, 255, 255]];
    const trns = [255, 128, 0]; // entry 3 has no tRNS value: opaque
    const idx = (x: number, y: number) => (x + 2 * y) % 4;
    const rows8 = Array.from({ length: H }, (_, y) => Uint8Array.from({ length: W }, (_, x) => idx(x, y)));
    const extra: [string, Uint8Array][] = [['PLTE', Uint8Array.from(pal.flat())], ['tRNS', Uint8Array.from(trns)]];
    const p8 = decodeImage(handPng(W, H, 8, 3, rows8, extra), 'p8.png');
    // 2 bits per index, 4 per byte, MSB first, rows padded to a whole byte
    const rows2 = rows8.map((r) => {
      const out = new Uint8Array(Math.ceil(W / 4));
      r.forEach((v, x) => (out[x >> 2] |= v << (6 - 2 * (x & 3))));
      return out;
    });
    const p2 = decodeImage(handPng(W, H, 2, 3, rows2, extra), 'p2.png');
    // 1-bit grey: a checkerboard, 0 → 0 and 1 → 255
    const rows1 = Array.from({ length: H }, (_, y) => {
      const out = new Uint8Array(1);
      for (let x = 0; x < W; x++) if ((x + y) % 2) out[0] |= 0x80 >> x;
      return out;
    });
    const g1 = decodeImage(handPng(W, H, 1, 0, rows1), 'g1.png');
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = idx(x, y);
        const want = [...pal[i], trns[i] ?? 255];
        expect(pixel(p8, x, y)).toEqual(want);
        expect(pixel(p2, x, y)).toEqual(want);
        const v = (x + y) % 2 ? 255 : 0;
        expect(pixel(g1, x, y)).toEqual([v, v, v, 255]);
      }
    }
  });

  it('16-bit RGBA and grey are scaled to 8 bits as round(v · 255 / 65535)', () => {
    // edge values: 0x0080 rounds down, 0x0081 rounds up (the high byte alone would give 0 for both)
    const values = [0, 65535, 0x0080, 0x0081, 0x1234, 0x7fff, 0x8000, 0xff7f, 0xff80, 257 * 77, 40000];
    const n = values.length;
    const u16 = new Uint16Array(n * 4);
    values.forEach((v, i) => u16.set([v, values[(i + 3) % n], values[(i + 5) % n], values[(i + 7) % n]], i * 4));
    const to8 = (v: number) => Math.floor((v * 255) / 65535 + 0.5);
    const rgba = decodeImage(pngjsWrite(n, 1, Buffer.from(u16.buffer), 6, 16), 'rgba16.png');
    for (let i = 0; i < n; i++) expect(pixel(rgba, i, 0)).toEqual(Array.from(u16.subarray(i * 4, i * 4 + 4), to8));
    // grey 16-bit: R = G = B = v
    const gu16 = new Uint16Array(n * 4);
    values.forEach((v, i) => gu16.set([v, v, v, 65535], i * 4));
    const grey = decodeImage(pngjsWrite(n, 1, Buffer.from(gu16.buffer), 0, 16), 'g16.png');
    values.forEach((v, i) => expect(pixel(grey, i, 0)).toEqual([to8(v), to8(v), to8(v), 255]));
    expect(to8(257 * 77)).toBe(77);
  });

  it('rejects a truncated PNG and a corrupt one, tolerates bytes after IEND', () => {
    const png = encodePng(noiseImage(64, 64, 2));
    const half = png.subarray(0, png.length >> 1);
    expect(errorOf(() => decodeImage(half, 'half.png'))).toMatch(/^half\.png: truncated or corrupt PNG: .*ends inside the IDAT chunk/);
    const noIend = png.subarray(0, png.length - 12);
    expect(errorOf(() => decodeImage(noIend, 'x.png'))).toMatch(/^x\.png: truncated or corrupt PNG: .*without an IEND chunk/);
    const flipped = png.slice();
    flipped[60] ^= 0xff; // inside the IDAT data: CRC mismatch
    expect(errorOf(() => decodeImage(flipped, 'bad.png'))).toMatch(/^bad\.png: truncated or corrupt PNG: .+/);
    const trailer = new Uint8Array(png.length + 5);
    trailer.set(png);
    expect(decodeImage(trailer, 't.png').width).toBe(64);
  });
});

describe('decodeImage error messages', () => {
  it('not an image: names the file and shows the first bytes', () => {
    const html = new TextEncoder().encode('<html><body>404</body></html>');
    const msg = errorOf(() => decodeImage(html, 'page.jpg'));
    expect(msg).toMatch(/^page\.jpg: not a JPEG or PNG image \(starts with bytes 3c 68 74 6d 6c 3e 3c 62 …\)/);
    expect(msg).toMatch(/HTML/);
    const gif = new TextEncoder().encode('GIF89a......');
    expect(errorOf(() => decodeImage(gif, 'a.gif'))).toMatch(/^a\.gif: not a JPEG or PNG image .*GIF/);
    expect(errorOf(() => decodeImage(new Uint8Array([1, 2]), 'two'))).toBe('two: not a JPEG or PNG image (starts with bytes 01 02)');
  });

  it('empty file', () => {
    expect(errorOf(() => decodeImage(new Uint8Array(0), 'empty.png'))).toMatch(/^empty\.png: empty file/);
  });
});


// ---------------------------------------------------------------------------
// Hostile images: decompression bombs, short pixel data, the pixel limit, fuzzing
// ---------------------------------------------------------------------------


describe('hostile images', () => {
  it('a 68-byte PNG whose header says 20000×20000 is refused at once, before any allocation', () => {
    const bomb = headerPng(20000, 20000, new Uint8Array(10));
    expect(bomb.length).toBe(68);
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const msg = errorOf(() => decodeImage(bomb, 'bomb.png'));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 2 ** 20);
    expect(msg).toMatch(/^bomb\.png: the image is 20000×20000 = 400 megapixels, over the limit of 100 megapixels/);
    expect(msg).not.toMatch(/RangeError|Array buffer|Invalid typed array/);
    // within the limit the length of the pixel data is checked, before the decoder allocates
    const msg2 = errorOf(() => decodeImage(bomb, 'bomb.png', { maxPixels: 400_000_000 }));
    expect(msg2).toMatch(/^bomb\.png: truncated or corrupt PNG: the pixel data inflates to 10 bytes, but the header \(20000×20000, RGB, 8-bit\) implies 1200020000/);
  });

  it('PNG pixel data shorter or longer than the header implies is refused, naming the file (not a black image)', () => {
    const want = 4 * (1 + 3 * 4); // 4 rows of a filter byte and 4 RGB pixels
    expect(() => decodeImage(headerPng(4, 4, new Uint8Array(want)), 'ok.png')).not.toThrow();
    for (const n of [0, 1, want - 1, want + 1, 10 * want]) {
      expect(errorOf(() => decodeImage(headerPng(4, 4, new Uint8Array(n)), 'short.png'))).toMatch(
        new RegExp(`^short\\.png: truncated or corrupt PNG: the pixel data inflates to ${n > want ? `more than ${want}` : n} bytes, but the header \\(4×4, RGB, 8-bit\\) implies ${want}`),
      );
    }
    // compressed data cut inside the deflate stream (not just its checksum)
    const z = deflateSync(new Uint8Array(want).map((_, i) => i * 37));
    const cutPng = headerPng(4, 4, new Uint8Array(0), z.subarray(0, z.length - 8));
    expect(errorOf(() => decodeImage(cutPng, 'cut.png'))).toMatch(/^cut\.png: truncated or corrupt PNG: pixel data: the compressed data ends early/);
  });

  it('one pixel limit for both formats, read from the header (JPEG SOF, PNG IHDR); maxPixels changes it', () => {
    expect(DEFAULT_MAX_PIXELS).toBe(100_000_000);
    const jpg = new Uint8Array(jpeg.encode({ width: 40, height: 30, data: Buffer.alloc(40 * 30 * 4, 128) }, 90).data);
    expect(imageHeaderSize(jpg)).toEqual({ width: 40, height: 30 });
    expect(errorOf(() => decodeImage(jpg, 'a.jpg', { maxPixels: 1000 }))).toMatch(/^a\.jpg: the image is 40×30 = 0\.0012 megapixels, over the limit of 0\.001 megapixels \(1000 pixels\)/);
    expect(decodeImage(jpg, 'a.jpg', { maxPixels: 1200 }).width).toBe(40);
    const png = encodePng(noiseImage(40, 30, 3));
    expect(imageHeaderSize(png)).toEqual({ width: 40, height: 30 });
    expect(errorOf(() => decodeImage(png, 'a.png', { maxPixels: 1199 }))).toMatch(/^a\.png: the image is 40×30 .* over the limit/);
    // a JPEG frame header of 65535 x 65535 (4.3 gigapixels) is refused before jpeg-js allocates
    const huge = jpg.slice();
    for (let p = 2; ; p += 2 + ((huge[p + 2] << 8) | huge[p + 3])) {
      if (huge[p + 1] === 0xc0) {
        huge.set([0xff, 0xff, 0xff, 0xff], p + 5);
        break;
      }
    }
    const t0 = performance.now();
    expect(errorOf(() => decodeImage(huge, 'huge.jpg'))).toMatch(/^huge\.jpg: the image is 65535×65535 = 4295 megapixels, over the limit/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('inflatedLength counts what zlib inflates, for every strategy; stops early past the limit', () => {
    const r = mulberry32(5);
    for (const n of [0, 1, 100, 40_000, 300_000]) {
      const data = new Uint8Array(n).map((_, i) => (i % 3 === 0 ? Math.floor(r() * 256) : i % 11));
      for (const strategy of [zlibConstants.Z_DEFAULT_STRATEGY, zlibConstants.Z_FIXED, zlibConstants.Z_HUFFMAN_ONLY, zlibConstants.Z_RLE]) {
        for (const level of [0, 1, 9]) expect(inflatedLength(new Uint8Array(deflateSync(data, { level, strategy })), Infinity)).toBe(n);
      }
    }
    const bomb = new Uint8Array(deflateSync(new Uint8Array(50_000_000), { level: 9 })); // ~50 KB
    const t0 = performance.now();
    expect(inflatedLength(bomb, 1000)).toBeGreaterThan(1000);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(() => inflatedLength(new Uint8Array([0x78, 0x9c, 0x07]), 10)).toThrow(/reserved type 3/);
    expect(() => inflatedLength(new Uint8Array([0x78, 0x9d]), 10)).toThrow(/zlib deflate header/);
  });

  // The driver (test/decode_fuzz.ts) runs in its own process: a hang is caught by the time
  // limit, a crash by the exit status; it reports each case's time and resident memory.
  it('fuzz: 420 mutated JPEG and PNG files from a fixed seed decode to their header\'s size or throw an error naming the file, each within 2 s and 1 GiB', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'decode_fuzz.ts'), '420', '20261205'], {
      cwd: join(__dirname, '..'),
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 * 2 ** 20,
    });
    expect(r.error, r.stderr).toBeUndefined();
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as {
      i: number; name: string; kind: string; ms: number; rss: number; ok: boolean; width?: number; height?: number; dataOk?: boolean;
      header: { width: number; height: number } | null; error?: string;
    });
    expect(lines).toHaveLength(420);
    let decoded = 0;
    for (const c of lines) {
      const what = JSON.stringify(c);
      expect(c.ms, what).toBeLessThan(2000);
      expect(c.rss, what).toBeLessThan(2 ** 30);
      if (c.ok) {
        decoded++;
        expect(c.header, what).toEqual({ width: c.width, height: c.height });
        expect(c.dataOk, what).toBe(true);
      } else {
        expect(c.error, what).toMatch(new RegExp(`^(Error|PixelLimitError): ${c.name}: `));
        expect(c.error, what).not.toContain('\n');
      }
    }
    // every kind of mutation was tried, and some files still decode (bit flips in the pixel data)
    expect(new Set(lines.map((c) => c.kind)).size).toBe(5);
    expect(decoded).toBeGreaterThan(10);
  }, 90_000);
});

// ---------------------------------------------------------------------------
// PNG text chunks and CRC
// ---------------------------------------------------------------------------

describe('encodePng text chunks', () => {
  it('crc32 matches the known CRC of "IEND"', () => {
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
  });

  it('tEXt (and iTXt for non-Latin-1) round-trip; pixels unchanged; chunks precede IEND', () => {
    const img = noiseImage(5, 3, 3);
    const text = {
      Software: 'neural-style-webgpu 0.1.0',
      Comment: 'content=tübingen.jpg style=starry_night.jpg rows=400',
      Parameters: JSON.stringify({ contentWeight: 0.025, styleWeight: 1, iterations: 10 }),
      Title: '星月夜', // beyond Latin-1: stored as iTXt
    };
    const png = encodePng(img, text);
    expect(readPngText(png)).toEqual(text);
    expect(decodeImage(png, 'text.png').data).toEqual(img.data); // pngjs checks every CRC
    const tail = png.subarray(png.length - 12);
    expect(String.fromCharCode(...tail.subarray(4, 8))).toBe('IEND');
    const latin1 = Buffer.from(png).toString('latin1');
    expect(latin1).toContain('tEXtSoftware\0neural-style-webgpu 0.1.0');
    expect(latin1).toContain('iTXtTitle\0');
    expect(readPngText(encodePng(img))).toEqual({});
  });

  it('rejects an invalid keyword', () => {
    expect(() => encodePng(noiseImage(1, 1, 4), { '': 'x' })).toThrow(/keyword/);
    expect(() => encodePng(noiseImage(1, 1, 4), { ['k'.repeat(80)]: 'x' })).toThrow(/keyword/);
  });
});

// ---------------------------------------------------------------------------
// resize
// ---------------------------------------------------------------------------

describe('workingSize', () => {
  it('follows the notebook: cols = int(width · rows / height)', () => {
    expect(workingSize(768, 1024, 400)).toEqual({ rows: 400, cols: 533 }); // 533.33
    expect(workingSize(640, 1024, 400)).toEqual({ rows: 400, cols: 640 });
    expect(workingSize(1528, 1200, 400)).toEqual({ rows: 400, cols: 314 }); // 314.14
  });

  it('rejects rows < 1 and a result with no columns', () => {
    expect(() => workingSize(768, 1024, 0)).toThrow(/rows/);
    expect(() => workingSize(3000, 2, 400)).toThrow(/columns/); // int(0.27) = 0
  });
});

describe('resize', () => {
  // pixel (x, y) = [x, y, x + 10·y, 255]: the source coordinates can be read back
  const coords = (w: number, h: number) => makeImage(w, h, (x, y) => [x, y, x + 10 * y, 255]);

  it('nearest reads floor((i + 0.5) · src / dst) on a small case', () => {
    const out = resize(coords(5, 7), 4, 3, 'nearest');
    const cols = [0, 2, 4]; // (i + 0.5) · 5/3 = 0.83, 2.5, 4.17
    const rows = [0, 2, 4, 6]; // (i + 0.5) · 7/4 = 0.875, 2.625, 4.375, 6.125
    rows.forEach((sy, y) => cols.forEach((sx, x) => expect(pixel(out, x, y)).toEqual([sx, sy, sx + 10 * sy, 255])));
    // enlarging 2 → 5: (i + 0.5) · 0.4 = 0.2, 0.6, 1.0, 1.4, 1.8
    const up = resize(coords(2, 1), 1, 5, 'nearest');
    expect([0, 1, 2, 3, 4].map((x) => pixel(up, x, 0)[0])).toEqual([0, 0, 1, 1, 1]);
  });

  it("nearest matches PIL's accumulated-double rounding where the formula is an exact integer", () => {
    // Pillow 9.4 Image.resize(NEAREST), 640 → 400: output 7 reads 11, although (7.5 · 1.6) = 12
    // exactly, and 768 → 400 (tubingen's rows): output 87 reads 167, not 168.
    const line = (n: number) => makeImage(n, 1, (x) => [x >> 8, x & 255, 0, 255]);
    const idx = (img: RgbaImage, i: number) => pixel(img, i, 0)[0] * 256 + pixel(img, i, 0)[1];
    const r640 = resize(line(640), 1, 400, 'nearest');
    expect([5, 6, 7, 8].map((i) => idx(r640, i))).toEqual([8, 10, 11, 13]);
    const r768 = resize(line(768), 1, 400, 'nearest');
    expect([86, 87, 88].map((i) => idx(r768, i))).toEqual([166, 167, 169]);
  });

  it('area of 4×4 → 2×2 equals the 2×2 block means (rounded half-up)', () => {
    const r = mulberry32(5);
    const img = makeImage(4, 4, () => [r() * 256, r() * 256, r() * 256, r() * 256].map(Math.floor));
    const out = resize(img, 2, 2, 'area');
    for (let by = 0; by < 2; by++) {
      for (let bx = 0; bx < 2; bx++) {
        const want = [0, 1, 2, 3].map((c) => {
          let s = 0;
          for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) s += pixel(img, 2 * bx + dx, 2 * by + dy)[c];
          return Math.floor(s / 4 + 0.5);
        });
        expect(pixel(out, bx, by)).toEqual(want);
      }
    }
  });

  it('area weights fractional overlaps (3 → 2: 2/3 + 1/3)', () => {
    const img = makeImage(3, 1, (x) => [[0, 90, 210][x], 0, 0, 255]);
    const out = resize(img, 1, 2, 'area');
    expect(pixel(out, 0, 0)[0]).toBe(30); // (2/3)·0 + (1/3)·90
    expect(pixel(out, 1, 0)[0]).toBe(170); // (1/3)·90 + (2/3)·210
  });

  it('bilinear uses half-pixel centres (2 → 4 gives a, ¾a+¼b, ¼a+¾b, b)', () => {
    const img = makeImage(2, 1, (x) => [x * 200, 0, 0, 255]);
    const out = resize(img, 1, 4, 'bilinear');
    expect([0, 1, 2, 3].map((x) => pixel(out, x, 0)[0])).toEqual([0, 50, 150, 200]);
  });

  it('bilinear (and area) of a constant image is constant, up and down', () => {
    const c = [17, 130, 254, 200];
    const img = makeImage(13, 9, () => c);
    for (const [rows, cols] of [[20, 31], [4, 5], [9, 27], [3, 13]]) {
      for (const m of ['bilinear', 'area'] as const) {
        const out = resize(img, rows, cols, m);
        expect([out.width, out.height]).toEqual([cols, rows]);
        for (let i = 0; i < out.data.length; i += 4) expect(Array.from(out.data.subarray(i, i + 4))).toEqual(c);
      }
    }
  });

  it('same size returns a copy with identical pixels, for every method', () => {
    const img = noiseImage(9, 6, 6);
    for (const m of ['nearest', 'bilinear', 'area'] as const) {
      const out = resize(img, 6, 9, m);
      expect(out.data).toEqual(img.data);
      expect(out.data).not.toBe(img.data);
    }
  });

  it('rejects bad sizes', () => {
    expect(() => resize(noiseImage(2, 2, 1), 0, 2, 'area')).toThrow(/positive integers/);
    expect(() => resize(noiseImage(2, 2, 1), 2, 1.5, 'area')).toThrow(/positive integers/);
  });
});

// ---------------------------------------------------------------------------
// caffe preprocessing
// ---------------------------------------------------------------------------

describe('caffe preprocessing', () => {
  it('a pure red pixel becomes [B, G, R] = [−103.939, −116.779, 255 − 123.68]', () => {
    const x = toCaffe(makeImage(1, 1, () => [255, 0, 0, 17]));
    expect(Array.from(x)).toEqual([-103.939, -116.779, 131.32].map(Math.fround));
    expect(CAFFE_MEAN_BGR).toEqual([103.939, 116.779, 123.68]);
  });

  it('toCaffe → fromCaffe is exact on every 8-bit value in every channel (alpha becomes 255)', () => {
    const img = makeImage(256, 3, (x, y) => [x, (x + 85 * y) % 256, 255 - x, 9]);
    const back = fromCaffe(toCaffe(img), 3, 256);
    expect([back.width, back.height]).toEqual([256, 3]);
    for (let i = 0; i < img.data.length; i += 4) {
      expect(Array.from(back.data.subarray(i, i + 4))).toEqual([img.data[i], img.data[i + 1], img.data[i + 2], 255]);
    }
  });

  it('fromCaffe clips and rounds to nearest', () => {
    const [mb, mg, mr] = CAFFE_MEAN_BGR;
    const x = Float32Array.from([1000, -1000, 0.4 - mr, 0.6 - mb, 254.49 - mg, 300]);
    const img = fromCaffe(x, 1, 2);
    expect(pixel(img, 0, 0)).toEqual([0, 0, 255, 255]); // R from x[2] = 0.4 → 0; B from 1000 → 255
    expect(pixel(img, 1, 0)).toEqual([255, 254, 1, 255]);
    expect(() => fromCaffe(x, 2, 2)).toThrow(/expected/);
  });

  it('randomCaffe is deterministic per seed and lies in the preprocessed 0..255 range', () => {
    const a = randomCaffe(4, 5, 42);
    expect(a.length).toBe(4 * 5 * 3);
    expect(randomCaffe(4, 5, 42)).toEqual(a);
    expect(randomCaffe(4, 5, 43)).not.toEqual(a);
    a.forEach((v, i) => {
      const m = CAFFE_MEAN_BGR[i % 3];
      expect(v).toBeGreaterThanOrEqual(-m - 1e-4);
      expect(v).toBeLessThan(255 - m + 1e-4);
    });
    // channel order: the first draw is R, stored third
    const r = mulberry32(42)();
    expect(a[2]).toBeCloseTo(r * 255 - CAFFE_MEAN_BGR[2], 4);
  });

  it('mulberry32 is deterministic and uniform-looking', () => {
    const g = mulberry32(7), h = mulberry32(7);
    const xs = Array.from({ length: 10000 }, () => g());
    expect(Array.from({ length: 10000 }, () => h())).toEqual(xs);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((s, v) => s + v, 0) / xs.length - 0.5)).toBeLessThan(0.02);
  });
});

// ---------------------------------------------------------------------------
// Node file helpers
// ---------------------------------------------------------------------------

describe('readImageFile / writePngAtomic', () => {
  const tmp = tempDir('image-test-');

  it('reads a PNG; clear errors for a missing file, a directory and a non-image', async () => {
    const img = noiseImage(6, 4, 8);
    const p = join(tmp.path, 'ok.png');
    await writeFile(p, encodePng(img));
    expect((await readImageFile(p)).data).toEqual(img.data);
    const missing = join(tmp.path, 'nope.jpg');
    await expect(readImageFile(missing)).rejects.toThrow(`${missing}: file not found`);
    await expect(readImageFile(tmp.path)).rejects.toThrow(new RegExp(`^${tmp.path}: is a directory`));
    const txt = join(tmp.path, 'notes.png');
    await writeFile(txt, 'hello');
    await expect(readImageFile(txt)).rejects.toThrow(`${txt}: not a JPEG or PNG image (starts with bytes 68 65 6c 6c 6f)`);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable file names the path', async () => {
    const p = join(tmp.path, 'secret.png');
    await writeFile(p, encodePng(noiseImage(1, 1, 9)));
    await chmod(p, 0o000);
    await expect(readImageFile(p)).rejects.toThrow(new RegExp(`^${p}: cannot read file: permission denied`));
  });

  it('writes, refuses to overwrite without force, overwrites with force, leaves no .tmp', async () => {
    const sub = join(tmp.path, 'out');
    await mkdir(sub);
    const p = join(sub, 'result.png');
    const first = encodePng(noiseImage(3, 3, 10));
    const second = encodePng(noiseImage(3, 3, 11));
    await writePngAtomic(p, first, {});
    expect(new Uint8Array(await readFile(p))).toEqual(first);
    await expect(writePngAtomic(p, second, {})).rejects.toThrow(`${p} exists; pass --force to overwrite`);
    expect(new Uint8Array(await readFile(p))).toEqual(first);
    await writePngAtomic(p, second, { force: true });
    expect(new Uint8Array(await readFile(p))).toEqual(second);
    expect(await readdir(sub)).toEqual(['result.png']);
  });

  it('the temporary file is created exclusively: a symlink planted under the old predictable name is not followed', async () => {
    const sub = join(tmp.path, 'planted');
    await mkdir(sub);
    const victim = join(tmp.path, 'victim.txt');
    await writeFile(victim, 'precious');
    const p = join(sub, 'out.png');
    // the name the old writer used ("<path>.<pid>.tmp") and the shape of the new ones
    await symlink(victim, `${p}.${process.pid}.tmp`);
    await symlink(victim, join(sub, `.out.png.${process.pid}.000000000000.tmp`));
    const png = encodePng(noiseImage(2, 2, 12));
    await writePngAtomic(p, png, { force: true });
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(p)).isFile()).toBe(true);
    expect(new Uint8Array(await readFile(p))).toEqual(png);
    expect((await readdir(sub)).filter((f) => f.endsWith('.tmp') && !f.includes('000000000000') && !f.startsWith('out.png.'))).toEqual([]);
    // an existing output that is a symlink is replaced as a link (rename), never written through
    const q = join(sub, 'link.png');
    await symlink(victim, q);
    await writePngAtomic(q, png, { force: true });
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(q)).isFile()).toBe(true);
  });

  it('a missing directory gives an error naming it, and nothing is left behind', async () => {
    const missingDir = join(tmp.path, 'no', 'such');
    const p = join(missingDir, 'x.png');
    await expect(writePngAtomic(p, encodePng(noiseImage(1, 1, 1)))).rejects.toThrow(`${missingDir}: directory does not exist`);
    expect(existsSync(join(tmp.path, 'no'))).toBe(false);
  });

  it('refuses to write over a directory', async () => {
    const d = join(tmp.path, 'adir.png');
    await mkdir(d);
    await expect(writePngAtomic(d, encodePng(noiseImage(1, 1, 1)), { force: true })).rejects.toThrow(/is a directory/);
  });
});
