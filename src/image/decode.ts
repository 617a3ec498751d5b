// src/image/decode.ts — bytes ⇄ RgbaImage: JPEG and PNG decoding, PNG encoding
// with text metadata. Runs in Node and in the browser (no node: imports).
//
//   decodeImage(bytes, name)  JPEG (jpeg-js) or PNG (pngjs), chosen by the magic
//                             bytes, never by the file extension. JPEG EXIF
//                             orientation 1–8 is applied, so the result is the
//                             picture as a viewer shows it. Every PNG flavour
//                             (grey, grey+alpha, palette, RGB, RGBA; 1–16 bits)
//                             comes out as 8-bit RGBA.
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
import type { RgbaImage } from './types.ts';

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
export function decodeImage(bytes: Uint8Array, name: string): RgbaImage {
  if (bytes.length === 0) throw new Error(`${name}: empty file (0 bytes)`);
  if (isJpeg(bytes)) return decodeJpeg(bytes, name);
  if (isPng(bytes)) return decodePng(bytes, name);
  const hint = guessOtherFormat(bytes);
  throw new Error(
    `${name}: not a JPEG or PNG image (starts with bytes ${hexPrefix(bytes)})` +
      (hint ? `; it looks like ${hint}` : ''),
  );
}

// ---------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------

function decodeJpeg(bytes: Uint8Array, name: string): RgbaImage {
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

  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true, // plain Uint8Array output: no Buffer needed (browser-safe)
      formatAsRGBA: true,
      maxResolutionInMP: 200,
      maxMemoryUsageInMB: 2048,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/limit exceeded|allocate enough memory/.test(msg)) {
      throw new Error(`${name}: JPEG too large to decode: ${msg}`);
    }
    throw new Error(`${name}: truncated or corrupt JPEG: ${msg}`);
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 4) {
    throw new Error(`${name}: truncated or corrupt JPEG: decoder returned a ${width}×${height} image`);
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

function decodePng(bytes: Uint8Array, name: string): RgbaImage {
  const { chunks, problem } = walkPngChunks(bytes);
  if (problem) throw new Error(`${name}: truncated or corrupt PNG: ${problem}`);
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
function makeChunk(type: string, data: Uint8Array): Uint8Array {
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
    return makeChunk('tEXt', concat([k, new Uint8Array([0]), latin1Bytes(value)]));
  }
  const utf8 = new TextEncoder().encode(value);
  return makeChunk('iTXt', concat([k, new Uint8Array([0, 0, 0, 0, 0]), utf8]));
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
