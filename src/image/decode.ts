// src/image/decode.ts — bytes ⇄ RgbaImage: JPEG and PNG decoding, PNG encoding
// with text metadata. Runs in Node and in the browser (no node: imports).
//
//   decodeImage(bytes, name, opts?)  JPEG (jpeg-js) or PNG (pngjs), chosen by the magic
//                             bytes, never by the file extension. JPEG EXIF
//                             orientation 1–8 is applied, so the result is the
//                             picture as a viewer shows it. Every PNG flavour
//                             (grey, grey+alpha, palette, RGB, RGBA; 1–16 bits)
//                             comes out as 8-bit RGBA.
//                             Hostile files are refused before any pixel buffer is
//                             allocated: width × height over opts.maxPixels
//                             (DEFAULT_MAX_PIXELS, one limit for both formats, read
//                             from the JPEG frame header or the PNG IHDR), and PNG
//                             pixel data whose inflated length is not the one the
//                             header implies (counted by inflate.ts, stopping as soon
//                             as it is too long: a decompression bomb costs no memory).
//   imageHeaderSize(bytes)    the width × height a file's header declares (as displayed:
//                             EXIF orientations 5–8 swap them), or null.
//   encodePng(img, text?)     8-bit RGBA PNG; `text` becomes tEXt chunks
//                             (iTXt for values outside Latin-1).
//   readPngText(bytes)        reads tEXt / uncompressed iTXt chunks back.
//   crc32(bytes)              the PNG/zlib CRC-32, used for chunk checksums.
//
// Errors are plain Errors whose message starts with `name` (the caller passes a
// file path or a user-visible file name), e.g.
//   "photo.jpg: truncated or corrupt JPEG: missing end-of-image marker …"
//
// Browser note: pngjs's main entry needs Node's zlib/stream/util. A bundler must
// map `pngjs` to `pngjs/browser.js` (its self-contained browserify build, which
// carries its own Buffer); this module then finds that Buffer class through a
// PNG instance instead of the (absent) global one.

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { inflatedLength } from './inflate.ts';
import type { RgbaImage } from './types.ts';

/**
 * The most pixels (width × height) an input image may have: 100 megapixels, e.g. 12000 × 8000.
 * Decoding needs about 16 bytes a pixel at its peak (the RGBA result plus the decoders' planes),
 * so 1.6 GB at the limit. The CLI's --max-pixels changes it.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export interface DecodeOptions {
  /** refuse images with more pixels (default DEFAULT_MAX_PIXELS) */
  maxPixels?: number;
}

/** Thrown when an image declares more pixels than DecodeOptions.maxPixels (the CLI names its flag). */
export class PixelLimitError extends Error {
  constructor(
    name: string,
    readonly width: number,
    readonly height: number,
    readonly maxPixels: number,
  ) {
    const mp = (n: number) => `${Number((n / 1e6).toPrecision(4))} megapixels`;
    super(`${name}: the image is ${width}×${height} = ${mp(width * height)}, over the limit of ${mp(maxPixels)} (${maxPixels} pixels) an input image may have; refused before decoding`);
    this.name = 'PixelLimitError';
  }
}

function checkPixels(name: string, width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) throw new PixelLimitError(name, width, height, maxPixels);
}

// ---------------------------------------------------------------------------
// Format sniffing
// ---------------------------------------------------------------------------

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && PNG_SIGNATURE.every((v, i) => b[i] === v);
}

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff; // SOI + next marker
}

/** A hint for files that are images of another kind, or not images at all. */
function guessOtherFormat(b: Uint8Array): string | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (ascii(0, 4) === 'GIF8') return 'a GIF image';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'a WebP image';
  if (ascii(0, 2) === 'BM') return 'a BMP image';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'a TIFF image';
  if (ascii(4, 8) === 'ftyp') return 'an ISO media file (HEIC/AVIF/MP4)';
  if (ascii(0, 5) === '%PDF-') return 'a PDF document';
  const firstText = ascii(0, Math.min(b.length, 64)).trimStart();
  if (firstText.startsWith('<')) return 'an HTML/XML/SVG text file (a saved web page?)';
  return null;
}

function hexPrefix(b: Uint8Array, n = 8): string {
  const hex = Array.from(b.subarray(0, n), (v) => v.toString(16).padStart(2, '0')).join(' ');
  return b.length > n ? `${hex} …` : hex;
}

/**
 * Decodes a JPEG or PNG file's bytes into 8-bit RGBA.
 * @param name used as the prefix of every error message (a path or file name).
 */
export function decodeImage(bytes: Uint8Array, name: string, opts: DecodeOptions = {}): RgbaImage {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels >= 1)) throw new Error(`decodeImage: maxPixels must be >= 1, got ${maxPixels}`);
  if (bytes.length === 0) throw new Error(`${name}: empty file (0 bytes)`);
  if (isJpeg(bytes)) return decodeJpeg(bytes, name, maxPixels);
  if (isPng(bytes)) return decodePng(bytes, name, maxPixels);
  const hint = guessOtherFormat(bytes);
  throw new Error(
    `${name}: not a JPEG or PNG image (starts with bytes ${hexPrefix(bytes)})` +
      (hint ? `; it looks like ${hint}` : ''),
  );
}

// ---------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------

/**
 * The frame size of a JPEG from its first SOF marker (baseline, progressive, lossless,
 * arithmetic: C0–C3, C5–C7, C9–CB, CD–CF), or null when there is none before the scan data.
 * A height of 0 (to be defined by a DNL marker) is returned as is.
 */
export function jpegFrameSize(bytes: Uint8Array): { width: number; height: number } | null {
  let p = 2; // after SOI
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return null;
    const marker = bytes[p + 1];
    if (marker === 0xff) { p++; continue; }
    if (marker === 0xda || marker === 0xd9) return null;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { p += 2; continue; }
    const len = (bytes[p + 2] << 8) | bytes[p + 3];
    if (len < 2) return null;
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (p + 9 > bytes.length) return null;
      return { height: (bytes[p + 5] << 8) | bytes[p + 6], width: (bytes[p + 7] << 8) | bytes[p + 8] };
    }
    p += 2 + len;
  }
  return null;
}

function decodeJpeg(bytes: Uint8Array, name: string, maxPixels: number): RgbaImage {
  // jpeg-js decodes a truncated file "tolerantly" into partly grey pixels
  // without complaint, so insist on the end-of-image marker FF D9 ourselves.
  // Trailing zero bytes (padding some writers add) are tolerated.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end < 4 || bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9) {
    throw new Error(
      `${name}: truncated or corrupt JPEG: missing end-of-image marker (FF D9) at the end ` +
        `of the file (${bytes.length} bytes); the file is probably incomplete`,
    );
  }

  const frame = jpegFrameSize(bytes);
  if (frame) checkPixels(name, frame.width, frame.height, maxPixels);

  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true, // plain Uint8Array output: no Buffer needed (browser-safe)
      formatAsRGBA: true,
      // the same limit again inside jpeg-js, for frames our walk above did not find
      maxResolutionInMP: maxPixels / 1e6,
      // jpeg-js's own bookkeeping of what it allocates: 16 bytes a pixel covers its planes
      maxMemoryUsageInMB: Math.max(64, Math.ceil((16 * maxPixels) / 2 ** 20)),
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/limit exceeded|allocate enough memory|Invalid typed array length|Array buffer allocation failed/.test(msg)) {
      throw new Error(`${name}: JPEG too large to decode (over the limit of ${maxPixels} pixels or its memory): ${msg}`);
    }
    throw new Error(`${name}: truncated or corrupt JPEG: ${msg}`);
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 4 || (frame && frame.height > 0 && (frame.width !== width || frame.height !== height))) {
    throw new Error(`${name}: truncated or corrupt JPEG: decoder returned a ${width}×${height} image${frame ? ` for a ${frame.width}×${frame.height} frame header` : ''}`);
  }
  const img: RgbaImage = {
    width,
    height,
    data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length),
  };
  return applyExifOrientation(img, jpegExifOrientation(bytes));
}

/**
 * The EXIF orientation (1–8) of a JPEG, or 1 when it has none or the EXIF data
 * is malformed (bad metadata never makes a picture unreadable).
 *
 * Walks the marker segments after SOI up to the first SOS, looks for an APP1
 * segment "Exif\0\0" followed by a TIFF header ("II" little-endian or "MM"
 * big-endian, then 42, then the offset of IFD0), and reads tag 0x0112 from IFD0.
 */
export function jpegExifOrientation(bytes: Uint8Array): number {
  let p = 2; // after SOI
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return 1; // lost marker sync: give up quietly
    const marker = bytes[p + 1];
    if (marker === 0xff) { p++; continue; } // fill byte before a marker
    if (marker === 0xda || marker === 0xd9) return 1; // SOS / EOI: metadata is over
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { p += 2; continue; } // no length
    const len = (bytes[p + 2] << 8) | bytes[p + 3]; // includes the 2 length bytes
    if (len < 2) return 1;
    if (marker === 0xe1) {
      const o = exifSegmentOrientation(bytes.subarray(p + 4, Math.min(p + 2 + len, bytes.length)));
      if (o !== 0) return o;
    }
    p += 2 + len;
  }
  return 1;
}

/** Orientation from one APP1 payload, or 0 if it is not EXIF or has no valid tag. */
function exifSegmentOrientation(seg: Uint8Array): number {
  const EXIF = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"
  if (seg.length < 6 + 8 || !EXIF.every((v, i) => seg[i] === v)) return 0;
  const tiff = seg.subarray(6); // offsets inside EXIF are relative to the TIFF header
  const dv = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  let le: boolean;
  if (tiff[0] === 0x49 && tiff[1] === 0x49) le = true; // "II": Intel, little-endian
  else if (tiff[0] === 0x4d && tiff[1] === 0x4d) le = false; // "MM": Motorola, big-endian
  else return 0;
  if (dv.getUint16(2, le) !== 42) return 0;
  const ifd0 = dv.getUint32(4, le);
  if (ifd0 + 2 > tiff.length) return 0;
  const count = dv.getUint16(ifd0, le);
  for (let i = 0; i < count; i++) {
    const entry = ifd0 + 2 + 12 * i; // tag u16, type u16, count u32, value/offset 4 bytes
    if (entry + 12 > tiff.length) break;
    if (dv.getUint16(entry, le) !== 0x0112) continue;
    const type = dv.getUint16(entry + 2, le);
    // SHORT (3) is the standard type; values shorter than 4 bytes are left-justified.
    const v = type === 3 ? dv.getUint16(entry + 8, le) : type === 4 ? dv.getUint32(entry + 8, le) : 0;
    return v >= 1 && v <= 8 ? v : 0;
  }
  return 0;
}

/**
 * Turns the stored pixels into the displayed picture for EXIF orientation o
 * (the same operations as PIL's ImageOps.exif_transpose):
 *   1 as stored              2 mirror left–right     3 rotate 180°
 *   4 mirror top–bottom      5 transpose (swap x,y)  6 rotate 90° clockwise
 *   7 transverse             8 rotate 90° counter-clockwise
 * Orientations 5–8 swap width and height.
 *
 * Each output pixel (x, y) reads source pixel index s0 + x·sx + y·sy, an affine
 * map fixed per orientation (derivations in the comments: source column/row).
 */
export function applyExifOrientation(img: RgbaImage, o: number): RgbaImage {
  if (o < 2 || o > 8) return img;
  const { width: w, height: h } = img;
  const last = (h - 1) * w; // index of the bottom-left source pixel
  // [s0, sx, sy] in source pixels
  const maps: Record<number, [number, number, number]> = {
    2: [w - 1, -1, w], //           src col = w-1-x, row = y
    3: [last + w - 1, -1, -w], //   src col = w-1-x, row = h-1-y
    4: [last, 1, -w], //            src col = x,     row = h-1-y
    5: [0, w, 1], //                src col = y,     row = x
    6: [last, -w, 1], //            src col = y,     row = h-1-x
    7: [last + w - 1, -w, -1], //   src col = w-1-y, row = h-1-x
    8: [w - 1, w, -1], //           src col = w-1-y, row = x
  };
  const [s0, sx, sy] = maps[o];
  const swap = o >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const src = img.data;
  const out = new Uint8ClampedArray(ow * oh * 4);
  for (let y = 0; y < oh; y++) {
    let s = s0 + y * sy;
    let d = y * ow * 4;
    for (let x = 0; x < ow; x++, s += sx, d += 4) {
      const si = s * 4;
      out[d] = src[si];
      out[d + 1] = src[si + 1];
      out[d + 2] = src[si + 2];
      out[d + 3] = src[si + 3];
    }
  }
  return { width: ow, height: oh, data: out };
}

// ---------------------------------------------------------------------------
// PNG: chunk walking (shared by decode, encode and text reading)
// ---------------------------------------------------------------------------

interface PngChunk {
  type: string; // 4 ASCII letters, e.g. "IHDR"
  start: number; // offset of the chunk's length field
  dataStart: number;
  dataEnd: number; // the CRC follows, then the next chunk at dataEnd + 4
}

/**
 * Lists the chunks of a PNG up to and including IEND. If the file ends
 * mid-chunk or has no IEND, `problem` says so (without a name prefix) and
 * `chunks` holds the complete chunks before that point.
 */
function walkPngChunks(b: Uint8Array): { chunks: PngChunk[]; problem: string | null } {
  const chunks: PngChunk[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 8; // after the signature
  while (true) {
    if (p + 8 > b.length) {
      const last = chunks.length ? ` (last complete chunk: ${chunks[chunks.length - 1].type})` : '';
      return { chunks, problem: `file ends after ${b.length} bytes without an IEND chunk${last}` };
    }
    const len = dv.getUint32(p);
    const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    const dataEnd = p + 8 + len;
    if (dataEnd + 4 > b.length) {
      return {
        chunks,
        problem: `file ends inside the ${type} chunk at offset ${p} (needs ${len + 12} bytes, ${b.length - p} left)`,
      };
    }
    chunks.push({ type, start: p, dataStart: p + 8, dataEnd });
    if (type === 'IEND') return { chunks, problem: null };
    p = dataEnd + 4;
  }
}

/** pngjs parses a Buffer (it calls readUInt32BE on slices); wrap without copying. */
function asPngjsBuffer(bytes: Uint8Array): Buffer {
  // In Node the global Buffer; in a browser the Buffer class bundled into
  // pngjs/browser.js, reached through the data buffer of a 1×1 PNG.
  const B: typeof Buffer =
    (globalThis as { Buffer?: typeof Buffer }).Buffer ??
    (new PNG({ width: 1, height: 1 }).data.constructor as typeof Buffer);
  return B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The IHDR fields that fix the size of the pixel data. */
interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colourType: number;
  interlace: number;
}

/** Samples per pixel of each PNG colour type, and the bit depths it allows. */
const PNG_COLOUR_TYPES: Record<number, { channels: number; depths: number[]; what: string }> = {
  0: { channels: 1, depths: [1, 2, 4, 8, 16], what: 'grey' },
  2: { channels: 3, depths: [8, 16], what: 'RGB' },
  3: { channels: 1, depths: [1, 2, 4, 8], what: 'palette' },
  4: { channels: 2, depths: [8, 16], what: 'grey + alpha' },
  6: { channels: 4, depths: [8, 16], what: 'RGBA' },
};

/** The IHDR chunk, checked (PNG spec §11.2.2); problems are returned without a name prefix. */
function readPngHeader(b: Uint8Array, chunks: PngChunk[]): PngHeader | string {
  const ihdr = chunks[0];
  if (!ihdr || ihdr.type !== 'IHDR') return `the first chunk is ${ihdr ? ihdr.type : 'missing'}, not IHDR`;
  if (ihdr.dataEnd - ihdr.dataStart !== 13) return `the IHDR chunk has ${ihdr.dataEnd - ihdr.dataStart} bytes, not 13`;
  const dv = new DataView(b.buffer, b.byteOffset + ihdr.dataStart, 13);
  const h: PngHeader = { width: dv.getUint32(0), height: dv.getUint32(4), depth: b[ihdr.dataStart + 8], colourType: b[ihdr.dataStart + 9], interlace: b[ihdr.dataStart + 12] };
  const limit = 2 ** 31 - 1;
  if (h.width < 1 || h.height < 1 || h.width > limit || h.height > limit) return `the header gives an impossible size ${h.width}×${h.height}`;
  const ct = PNG_COLOUR_TYPES[h.colourType];
  if (!ct) return `the header gives an unknown colour type ${h.colourType}`;
  if (!ct.depths.includes(h.depth)) return `the header gives bit depth ${h.depth}, which ${ct.what} PNGs do not have`;
  if (b[ihdr.dataStart + 10] !== 0 || b[ihdr.dataStart + 11] !== 0) return 'the header gives an unknown compression or filter method';
  if (h.interlace > 1) return `the header gives an unknown interlace method ${h.interlace}`;
  return h;
}

/**
 * The bytes the pixel data must inflate to: for each row a filter byte and ceil(width × bits
 * per pixel / 8) bytes; interlaced (Adam7), the same for each of the 7 sub-images that is not
 * empty.
 */
export function pngDataLength(h: Pick<PngHeader, 'width' | 'height' | 'depth' | 'colourType' | 'interlace'>): number {
  const bpp = PNG_COLOUR_TYPES[h.colourType].channels * h.depth;
  const image = (w: number, rows: number) => (w > 0 && rows > 0 ? rows * (Math.ceil((w * bpp) / 8) + 1) : 0);
  if (!h.interlace) return image(h.width, h.height);
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  return passes.reduce((n, [x0, y0, dx, dy]) => n + image(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy)), 0);
}

/** width × height from a PNG's IHDR, or null when it has none (or an invalid one). */
function pngHeaderSize(b: Uint8Array): { width: number; height: number } | null {
  const h = readPngHeader(b, walkPngChunks(b).chunks);
  return typeof h === 'string' ? null : { width: h.width, height: h.height };
}

/**
 * The size a file's header declares, as it will be displayed (JPEG EXIF orientations 5–8 swap
 * width and height), or null when the header cannot be read.
 */
export function imageHeaderSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (isPng(bytes)) return pngHeaderSize(bytes);
  if (!isJpeg(bytes)) return null;
  const f = jpegFrameSize(bytes);
  if (!f) return null;
  return jpegExifOrientation(bytes) >= 5 ? { width: f.height, height: f.width } : f;
}

function decodePng(bytes: Uint8Array, name: string, maxPixels: number): RgbaImage {
  const { chunks, problem } = walkPngChunks(bytes);
  if (problem) throw new Error(`${name}: truncated or corrupt PNG: ${problem}`);
  const header = readPngHeader(bytes, chunks);
  if (typeof header === 'string') throw new Error(`${name}: corrupt PNG: ${header}`);
  checkPixels(name, header.width, header.height, maxPixels);
  // The pixel data (all IDAT chunks, one zlib stream) must inflate to exactly what the header
  // implies: pngjs pads short data with zeros (a black image without a word).
  const idat = chunks.filter((c) => c.type === 'IDAT');
  if (!idat.length) throw new Error(`${name}: corrupt PNG: no IDAT chunk (the file has no pixel data)`);
  const z = new Uint8Array(idat.reduce((n, c) => n + c.dataEnd - c.dataStart, 0));
  let o = 0;
  for (const c of idat) {
    z.set(bytes.subarray(c.dataStart, c.dataEnd), o);
    o += c.dataEnd - c.dataStart;
  }
  const want = pngDataLength(header);
  let got: number;
  try {
    got = inflatedLength(z, want);
  } catch (e) {
    throw new Error(`${name}: truncated or corrupt PNG: pixel data: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (got !== want) {
    throw new Error(
      `${name}: truncated or corrupt PNG: the pixel data inflates to ${got > want ? `more than ${want}` : got} bytes, ` +
        `but the header (${header.width}×${header.height}, ${PNG_COLOUR_TYPES[header.colourType].what}, ${header.depth}-bit${header.interlace ? ', interlaced' : ''}) implies ${want}`,
    );
  }
  // pngjs rejects any bytes after IEND ("unrecognised content at end of
  // stream"); such trailers are harmless, so hand it the file up to IEND only.
  const iend = chunks[chunks.length - 1];
  const body = bytes.subarray(0, iend.dataEnd + 4);

  let png: { width: number; height: number; data: Uint8Array };
  try {
    // pngjs normalises every colour type and bit depth to 8-bit RGBA: palette
    // entries (with tRNS alpha) are looked up, grey is copied to R=G=B, tRNS
    // colour keys become alpha 0, and 1/2/4/16-bit samples are rescaled with
    // round(v · 255 / (2^depth − 1)) — for 16 bits that is proper scaling,
    // not just the high byte (they differ by 1 for some values).
    png = PNG.sync.read(asPngjsBuffer(body));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${name}: truncated or corrupt PNG: ${msg}`);
  }
  const { width, height, data } = png;
  if (!(width > 0 && height > 0) || data.length !== width * height * 4) {
    throw new Error(`${name}: truncated or corrupt PNG: decoder returned ${data.length} bytes for ${width}×${height}`);
  }
  return { width, height, data: new Uint8ClampedArray(data) }; // copy out of pngjs's Buffer
}

// ---------------------------------------------------------------------------
// PNG encoding and text chunks
// ---------------------------------------------------------------------------

let crcTable: Uint32Array | null = null;

/** CRC-32 (polynomial 0xEDB88320, as in PNG and zlib) of `bytes`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** One PNG chunk: length (u32 BE), type, data, CRC-32 over type + data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function latin1Bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/**
 * A tEXt chunk (keyword \0 value, both Latin-1) or, when the value has
 * characters beyond U+00FF or a NUL, an uncompressed iTXt chunk
 * (keyword \0 0 0 "" \0 "" \0 UTF-8 value), so a metadata value (say, a file
 * name in another script) never makes saving fail.
 */
function textChunk(keyword: string, value: string): Uint8Array {
  if (keyword.length < 1 || keyword.length > 79 || !/^[\x20-\x7e\xa1-\xff]+$/.test(keyword)) {
    throw new Error(`PNG text keyword ${JSON.stringify(keyword)} must be 1–79 printable Latin-1 characters`);
  }
  const k = latin1Bytes(keyword);
  if (/^[\x01-\xff]*$/.test(value)) {
    return pngChunk('tEXt', concat([k, new Uint8Array([0]), latin1Bytes(value)]));
  }
  const utf8 = new TextEncoder().encode(value);
  return pngChunk('iTXt', concat([k, new Uint8Array([0, 0, 0, 0, 0]), utf8]));
}

/**
 * Encodes 8-bit RGBA as a PNG (colour type 6). Each entry of `text` becomes a
 * tEXt (or iTXt) chunk placed just before IEND.
 */
export function encodePng(img: RgbaImage, text?: Record<string, string>): Uint8Array {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`encodePng: bad image size ${width}×${height}`);
  }
  if (data.length !== width * height * 4) {
    throw new Error(`encodePng: data has ${data.length} bytes, expected ${width}×${height}×4`);
  }
  const png = new PNG({ width, height }); // allocates png.data (a Buffer of the right size)
  png.data.set(data);
  const encoded: Uint8Array = PNG.sync.write(png);
  const entries = Object.entries(text ?? {});
  // (Buffer.slice would return a Buffer *view*; copy into a plain Uint8Array.)
  if (entries.length === 0) return new Uint8Array(encoded);
  const iend = walkPngChunks(encoded).chunks.find((c) => c.type === 'IEND')!;
  return concat([
    encoded.subarray(0, iend.start),
    ...entries.map(([k, v]) => textChunk(k, v)),
    encoded.subarray(iend.start),
  ]);
}

/**
 * Reads the tEXt and uncompressed iTXt chunks of a PNG into {keyword: value}
 * (a later duplicate keyword wins). Compressed zTXt/iTXt chunks are skipped.
 * Chunks after a truncation point are simply not seen.
 */
export function readPngText(bytes: Uint8Array): Record<string, string> {
  if (!isPng(bytes)) throw new Error('readPngText: not a PNG file');
  const entries: [string, string][] = [];
  const { chunks } = walkPngChunks(bytes); // best effort: complete chunks only
  const latin1 = (b: Uint8Array) => {
    let s = '';
    for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
    return s;
  };
  for (const c of chunks) {
    const d = bytes.subarray(c.dataStart, c.dataEnd);
    const z = d.indexOf(0);
    if (z < 1) continue; // missing or empty keyword
    const key = latin1(d.subarray(0, z));
    if (c.type === 'tEXt') {
      entries.push([key, latin1(d.subarray(z + 1))]);
    } else if (c.type === 'iTXt') {
      if (d[z + 1] !== 0) continue; // compressed: would need zlib
      const langEnd = d.indexOf(0, z + 3);
      const transEnd = langEnd < 0 ? -1 : d.indexOf(0, langEnd + 1);
      if (transEnd < 0) continue;
      entries.push([key, new TextDecoder().decode(d.subarray(transEnd + 1))]);
    }
  }
  return Object.fromEntries(entries);
}
