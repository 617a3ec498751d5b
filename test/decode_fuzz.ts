// The decoder fuzz driver, run as its own process by test/image.test.ts ("decoder fuzz"), so a
// hang or a crash of the decoders is seen (the test's time limit, the exit status) instead of
// stopping the test runner:   node --import tsx test/decode_fuzz.ts [cases] [seed]
//
// From a fixed seed it makes `cases` mutated files from seven valid ones (baseline JPEG with
// and without EXIF orientation 6; PNG RGBA, RGB 16-bit, palette 4-bit, grey 1-bit, interlaced
// RGB) — bit flips, truncations, header fields set to extremes (PNG IHDR width/height/depth/
// colour type with a correct CRC, JPEG SOF width/height), IDAT payloads replaced by short,
// long and bomb-like deflate streams — decodes each with decodeImage(bytes, name, {maxPixels})
// and prints one JSON line per case: {i, kind, ok, ms, rss, width, height, dataOk, header,
// error} (dataOk: RGBA of width × height, and for a PNG pixel data of the length its header implies).
// The test checks every line (a decoded image has its header's size, an error names the file)
// and the time and memory bounds.

import { deflateSync, inflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { crc32, decodeImage, encodePng, imageHeaderSize, pngChunk, pngDataLength } from '../src/image/decode.ts';

const cases = Number(process.argv[2] ?? 400);
let state = Number(process.argv[3] ?? 20261205) >>> 0;
/** xorshift32: the same files for the same seed on every machine */
const rand = (): number => {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 2 ** 32;
};
const randInt = (n: number) => Math.floor(rand() * n);
const pick = <T>(a: readonly T[]): T => a[randInt(a.length)];

function pattern(w: number, h: number): Uint8ClampedArray {
  const d = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < d.length; i++) d[i] = (i * 7919 + (i >> 6) * 31) % 251;
  for (let i = 3; i < d.length; i += 4) d[i] = 255;
  return d;
}

const chunk = pngChunk;
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};
const SIG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG from raw (filtered) scanlines: IHDR, optional PLTE, one IDAT, IEND. */
function rawPng(w: number, h: number, depth: number, colourType: number, interlace: number, raw: Uint8Array, plte?: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr.set([depth, colourType, 0, 0, interlace], 8);
  return concat([SIG, chunk('IHDR', ihdr), ...(plte ? [chunk('PLTE', plte)] : []), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())]);
}

/** Unfiltered scanlines (filter byte 0) of `rows` rows of `bytesPerRow` pattern bytes. */
const scanlines = (rows: number, bytesPerRow: number) => {
  const raw = new Uint8Array(rows * (bytesPerRow + 1));
  for (let r = 0; r < rows; r++) for (let i = 0; i < bytesPerRow; i++) raw[r * (bytesPerRow + 1) + 1 + i] = (r * 13 + i * 7) & 255;
  return raw;
};

function withExifOrientation(jpg: Uint8Array, o: number): Uint8Array {
  // APP1 "Exif\0\0" + TIFF (II, 42, IFD0 at 8) with one entry: 0x0112 SHORT 1 = o
  const tiff = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, o, 0, 0, 0, 0, 0, 0, 0];
  const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  const len = payload.length + 2;
  return concat([jpg.subarray(0, 2), new Uint8Array([0xff, 0xe1, len >> 8, len & 255, ...payload]), jpg.subarray(2)]);
}

const jpg = new Uint8Array(jpeg.encode({ width: 40, height: 24, data: pattern(40, 24) }, 80).data);
const SEEDS: Array<{ name: string; bytes: Uint8Array }> = [
  { name: 'baseline.jpg', bytes: jpg },
  { name: 'exif6.jpg', bytes: withExifOrientation(jpg, 6) },
  { name: 'rgba.png', bytes: encodePng({ width: 33, height: 17, data: pattern(33, 17) }) },
  { name: 'rgb16.png', bytes: rawPng(9, 7, 16, 2, 0, scanlines(7, 9 * 6)) },
  { name: 'palette4.png', bytes: rawPng(13, 5, 4, 3, 0, scanlines(5, 7), new Uint8Array(16 * 3).map((_, i) => i * 5)) },
  { name: 'grey1.png', bytes: rawPng(21, 6, 1, 0, 0, scanlines(6, 3)) },
  // Adam7 of 10 x 9 RGB 8-bit: the 7 sub-images' scanlines, concatenated
  { name: 'interlaced.png', bytes: rawPng(10, 9, 8, 2, 1, scanlines(2 + 2 + 3 + 5 + 9 + 9 + 20, 3 * 5).subarray(0, 2 * 7 + 2 * 4 + 3 * 7 + 5 * 10 + 9 * 13 + 9 * 25 + 20 * 31)) },
];

/** Offsets of a PNG's IHDR data and of the JPEG SOF's size fields, for the header mutations. */
const PNG_IHDR = 16; // signature 8 + length 4 + type 4
function jpegSof(b: Uint8Array): number {
  for (let p = 2; p + 9 < b.length; ) {
    const m = b[p + 1];
    if (m >= 0xc0 && m <= 0xc2) return p + 5; // height (2), width (2)
    p += 2 + ((b[p + 2] << 8) | b[p + 3]);
  }
  return -1;
}
function fixIhdrCrc(b: Uint8Array): void {
  new DataView(b.buffer, b.byteOffset).setUint32(PNG_IHDR + 13, crc32(b.subarray(PNG_IHDR - 4, PNG_IHDR + 13)));
}

const EXTREMES = [0, 1, 2, 255, 65535, 20000, 0x7fffffff, 0x80000000, 0xffffffff];
const MUTATIONS: Array<[string, (b: Uint8Array, seed: string) => Uint8Array]> = [
  ['bit flips', (b) => {
    const m = b.slice();
    for (let k = 1 + randInt(8); k > 0; k--) {
      const i = randInt(m.length);
      m[i] ^= 1 << randInt(8);
    }
    return m;
  }],
  ['truncation', (b) => b.slice(0, randInt(b.length))],
  ['byte run set to an extreme', (b) => {
    const m = b.slice();
    const i = randInt(m.length);
    m.fill(pick([0, 0xff]), i, i + 1 + randInt(8));
    return m;
  }],
  ['header field at an extreme', (b, seed) => {
    const m = b.slice();
    const dv = new DataView(m.buffer);
    if (seed.endsWith('.png')) {
      const field = randInt(4);
      if (field < 2) dv.setUint32(PNG_IHDR + 4 * field, pick(EXTREMES));
      else if (field === 2) m[PNG_IHDR + 8] = pick([0, 1, 3, 8, 16, 17, 255]); // bit depth
      else m[PNG_IHDR + 9] = pick([0, 1, 2, 3, 4, 5, 6, 7, 255]); // colour type
      fixIhdrCrc(m);
    } else {
      const sof = jpegSof(m);
      dv.setUint16(sof + 2 * randInt(2), pick([0, 1, 2, 255, 20000, 65535]));
    }
    return m;
  }],
  ['pixel data replaced', (b, seed) => {
    if (!seed.endsWith('.png')) return b.slice(0, 2 + randInt(b.length - 2));
    // an IHDR (its size kept, or a bomb: 20000 x 20000) with short, long or highly compressible data
    const m = b.slice();
    const dv = new DataView(m.buffer);
    const bomb = rand() < 0.3;
    if (bomb) {
      dv.setUint32(PNG_IHDR, 20000);
      dv.setUint32(PNG_IHDR + 4, 20000);
      fixIhdrCrc(m);
    }
    const ihdrEnd = PNG_IHDR + 13 + 4;
    const n = pick([0, 1, 100, 5000, 1_000_000, 30_000_000]);
    const idat = chunk('IDAT', deflateSync(new Uint8Array(n), { level: 9 }));
    return concat([m.subarray(0, ihdrEnd), idat, chunk('IEND', new Uint8Array())]);
  }],
];

/**
 * For a PNG: whether its IDAT data inflates (Node's zlib) to the length its IHDR implies; a
 * decoded PNG whose data does not was padded or cut by the decoder (a silent wrong image).
 */
function pngDataMatches(b: Uint8Array): boolean {
  const dv = new DataView(b.buffer, b.byteOffset);
  const parts: Uint8Array[] = [];
  for (let p = 8; p + 8 <= b.length; ) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(...b.subarray(p + 4, p + 8));
    if (type === 'IDAT') parts.push(b.subarray(p + 8, p + 8 + len));
    if (type === 'IEND') break;
    p += 12 + len;
  }
  const h = { width: dv.getUint32(PNG_IHDR), height: dv.getUint32(PNG_IHDR + 4), depth: b[PNG_IHDR + 8], colourType: b[PNG_IHDR + 9], interlace: b[PNG_IHDR + 12] };
  try {
    return inflateSync(concat(parts)).length === pngDataLength(h);
  } catch {
    return false;
  }
}

const maxPixels = 4_000_000;
for (let i = 0; i < cases; i++) {
  const seed = SEEDS[i % SEEDS.length];
  const [kind, mutate] = MUTATIONS[randInt(MUTATIONS.length)];
  const bytes = mutate(seed.bytes, seed.name);
  const name = `fuzz-${i}-${seed.name}`;
  const header = imageHeaderSize(bytes);
  const t0 = performance.now();
  let line: Record<string, unknown>;
  try {
    const img = decodeImage(bytes, name, { maxPixels });
    line = {
      ok: true,
      width: img.width,
      height: img.height,
      dataOk: img.data.length === img.width * img.height * 4 && (!seed.name.endsWith('.png') || pngDataMatches(bytes)),
    };
  } catch (e) {
    line = { ok: false, error: e instanceof Error ? `${e.constructor.name}: ${e.message}` : `thrown non-Error: ${String(e)}` };
  }
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ i, name, kind, ms, rss: process.memoryUsage().rss, header, ...line }) + '\n');
}
