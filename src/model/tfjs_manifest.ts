// The TensorFlow.js weights-manifest format: parsing, decoding (with dequantization) and
// SHA256SUMS verification. Knows nothing about VGG19: src/model/weights.ts uses it to load
// the 16 VGG19 convolutions.
//
// Runs in Node and in a browser: nothing here touches the file system. Every file is read
// through a `ReadFile` function given by the caller (src/model/locate.ts gives one over
// node:fs; a page gives one over fetch). Paths handed to it are relative to the folder of
// the manifest, exactly as written in the manifest's `paths`.
//
// Format (the `weightsManifest` of a TF.js model.json, or a bare weights_manifest.json):
//   [{ paths: ["a.bin", ...], weights: [{ name, shape, dtype, quantization? }, ...] }, ...]
// The shard files of one group, concatenated in order, hold the group's weights back to
// back, in order, little-endian, row-major, with no padding.
// Stored encodings supported:
//   dtype float32, no quantization           4 bytes/value, exact
//   quantization {dtype: 'uint8',  scale, min} 1 byte/value,  value = q * scale + min
//   quantization {dtype: 'uint16', scale, min} 2 bytes/value, value = q * scale + min
//   quantization {dtype: 'float16'}            2 bytes/value, IEEE half (subnormals, ±inf, NaN)
// Other dtypes (int32, bool, complex64, string) are rejected when a weight of that dtype is
// requested; int32/bool/complex64 entries that are not requested are skipped over.

// ----------------------------------------------------------------------------------------
// Types
// ----------------------------------------------------------------------------------------

/** One decoded tensor: row-major values of `shape`, dequantized to float32. */
export interface WeightTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Reads a file given its path relative to the manifest's folder. Must reject with an Error
 * naming the file when it is missing; set `code = 'ENOENT'` on that error (see
 * `fileNotFoundError`) so optional files (SHA256SUMS, the model.json fallback) can be told
 * apart from real read failures.
 */
export type ReadFile = (path: string) => Promise<Uint8Array>;

/** TF.js quantization record of one weight (`original_dtype` and other fields are ignored). */
export interface WeightQuantization {
  dtype: string; // 'uint8' | 'uint16' | 'float16' are decoded
  scale?: number;
  min?: number;
}

/** One entry of a group's `weights` list. */
export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string; // the logical dtype; 'float32' is decoded
  quantization?: WeightQuantization;
}

/** One weight group: its shard files, concatenated in order, hold its weights in order. */
export interface WeightGroup {
  paths: string[];
  weights: WeightEntry[];
}

/** A validated manifest together with where it came from (used in every error message). */
export interface WeightsManifest {
  source: string;
  groups: WeightGroup[];
}

export interface DecodeOptions {
  /** Called after each shard file is read: bytes of weight data read so far, and in all. */
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  /**
   * Decode only these weights. Groups holding none of them are not read, and a group's shard
   * files past the last byte needed are not read (so a model.json whose fully connected
   * layers' shards were left out still loads its convolutions). Default: every weight.
   */
  names?: Iterable<string>;
}

// ----------------------------------------------------------------------------------------
// Small helpers
// ----------------------------------------------------------------------------------------

/** The Error a ReadFile should throw for a missing file: `<path>: file not found`, code ENOENT. */
export function fileNotFoundError(path: string): Error {
  const err = new Error(`${path}: file not found`) as Error & { code: string };
  err.code = 'ENOENT';
  return err;
}

/** True for an error that a ReadFile threw because the file does not exist. */
export function isFileNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}

/** `a/b/weights_manifest.json` + `x.bin` → `a/b/x.bin` (also for URLs); bare names unchanged. */
function sibling(source: string, file: string): string {
  const cut = source.lastIndexOf('/');
  return cut < 0 ? file : source.slice(0, cut + 1) + file;
}

/** `folder` + `file` joined with a single '/'. */
export function joinLabel(folder: string, file: string): string {
  return folder.endsWith('/') ? folder + file : `${folder}/${file}`;
}

export const fmtShape = (s: readonly number[]): string => `[${s.join(',')}]`;
const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * IEEE 754 binary16 → number (exact: every half is a float32).
 * Layout: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
 *   exponent 0:  ±0 or subnormal, value = fraction · 2^-24
 *   exponent 31: ±inf (fraction 0) or NaN
 *   otherwise:   (1 + fraction/1024) · 2^(exponent - 15)
 */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // sign * 0 keeps -0
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// ----------------------------------------------------------------------------------------
// Manifest
// ----------------------------------------------------------------------------------------

/**
 * Validates a TF.js weights manifest: either the array of groups itself or a whole model.json
 * object holding it as `weightsManifest`. `source` names the file in error messages.
 */
export function parseManifest(json: unknown, source: string): WeightsManifest {
  const bad = (what: string): never => {
    throw new Error(`${source}: not a TensorFlow.js weights manifest: ${what}`);
  };
  let raw: unknown = json;
  if (isObject(raw)) {
    if (!('weightsManifest' in raw)) bad('an object without "weightsManifest" (expected an array of weight groups or a model.json)');
    raw = raw.weightsManifest;
  }
  if (!Array.isArray(raw)) bad(`expected an array of weight groups, got ${raw === null ? 'null' : typeof raw}`);
  const groupsIn = raw as unknown[];
  if (groupsIn.length === 0) bad('it has no weight groups');

  const seen = new Set<string>();
  const groups: WeightGroup[] = groupsIn.map((g, gi) => {
    const at = `group ${gi}`;
    if (!isObject(g)) return bad(`${at} is not an object`);
    const paths = g.paths;
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && p.length > 0)) {
      return bad(`${at}: "paths" must be a non-empty array of file names`);
    }
    if (!Array.isArray(g.weights)) return bad(`${at}: "weights" must be an array`);
    const weights: WeightEntry[] = g.weights.map((w: unknown, wi: number) => {
      if (!isObject(w)) return bad(`${at}, weight ${wi} is not an object`);
      const name = w.name;
      if (typeof name !== 'string' || name.length === 0) return bad(`${at}, weight ${wi}: "name" must be a non-empty string`);
      const wat = `${at}, weight "${name}"`;
      if (seen.has(name)) bad(`${wat} appears twice`);
      seen.add(name);
      const shape = w.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        return bad(`${wat}: "shape" must be an array of non-negative integers`);
      }
      if (typeof w.dtype !== 'string') return bad(`${wat}: "dtype" must be a string`);
      const entry: WeightEntry = { name, shape: [...(shape as number[])], dtype: w.dtype };
      const q = w.quantization;
      if (q !== undefined && q !== null) {
        if (!isObject(q) || typeof q.dtype !== 'string') return bad(`${wat}: "quantization" must be an object with a "dtype"`);
        const quant: WeightQuantization = { dtype: q.dtype };
        for (const key of ['scale', 'min'] as const) {
          const v = q[key];
          if (v === undefined) continue;
          if (typeof v !== 'number' || !Number.isFinite(v)) return bad(`${wat}: quantization.${key} must be a finite number`);
          quant[key] = v;
        }
        if ((quant.dtype === 'uint8' || quant.dtype === 'uint16') && (quant.scale === undefined || quant.min === undefined)) {
          bad(`${wat}: ${quant.dtype} quantization needs "scale" and "min"`);
        }
        entry.quantization = quant;
      }
      return entry;
    });
    return { paths: [...(paths as string[])], weights };
  });
  return { source, groups };
}

/** Bytes one stored value of `w` takes in the shard stream (throws for variable-size strings). */
function storedBytesPerValue(w: WeightEntry, source: string): number {
  if (w.quantization) {
    switch (w.quantization.dtype) {
      case 'uint8':
        return 1;
      case 'uint16':
      case 'float16':
        return 2;
      default:
        throw new Error(`${source}: ${w.name}: unknown quantization dtype "${w.quantization.dtype}" (supported: uint8, uint16, float16)`);
    }
  }
  switch (w.dtype) {
    case 'float32':
    case 'int32':
      return 4;
    case 'bool':
      return 1;
    case 'complex64':
      return 8;
    default:
      throw new Error(`${source}: ${w.name}: dtype "${w.dtype}" has no fixed size; this loader cannot read it`);
  }
}

/** Turns the stored bytes of one weight into float32 values. */
function decodeValues(w: WeightEntry, bytes: Uint8Array, offset: number, count: number, source: string): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, bytes.byteLength - offset);
  const q = w.quantization;
  if (w.dtype !== 'float32') {
    throw new Error(`${source}: ${w.name}: dtype "${w.dtype}" is not supported (VGG19 weights are float32${q ? `; stored as ${q.dtype}` : ''})`);
  }
  if (!q) {
    if (LITTLE_ENDIAN) {
      // ArrayBuffer.slice always copies (unlike Buffer.slice), and a fresh buffer is aligned.
      const start = bytes.byteOffset + offset;
      out.set(new Float32Array(bytes.buffer.slice(start, start + 4 * count) as ArrayBuffer));
    } else {
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    }
    return out;
  }
  switch (q.dtype) {
    case 'uint8': {
      const { scale, min } = q as Required<WeightQuantization>;
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i) * scale + min;
      return out;
    }
    case 'uint16': {
      const { scale, min } = q as Required<WeightQuantization>;
      for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, true) * scale + min;
      return out;
    }
    case 'float16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    default:
      throw new Error(`${source}: ${w.name}: unknown quantization dtype "${q.dtype}"`);
  }
}

// ----------------------------------------------------------------------------------------
// Decoding
// ----------------------------------------------------------------------------------------

/**
 * Reads each group's shard files (in order, concatenated) and slices out its weights in order.
 * A shard stream shorter than its weights need → Error naming the file(s), bytes expected and
 * bytes found. Returns the decoded tensors by name.
 */
export async function decodeWeightGroups(
  manifest: WeightsManifest,
  read: ReadFile,
  opts: DecodeOptions = {},
): Promise<Map<string, WeightTensor>> {
  const { source, groups } = manifest;
  const wanted = opts.names ? new Set(opts.names) : null;

  // Plan each group: the byte offset of every weight in the group's stream, up to the last
  // wanted weight (weights after it need not even have a known size), and the bytes needed.
  const plans = groups.map((group) => {
    const all = group.weights.map((w) => ({ w, want: !wanted || wanted.has(w.name), count: numel(w.shape), offset: 0, bytes: 0 }));
    const lastWanted = all.reduce((last, it, i) => (it.want ? i : last), -1);
    const items = all.slice(0, lastWanted + 1);
    let offset = 0;
    for (const it of items) {
      it.offset = offset;
      it.bytes = it.count * storedBytesPerValue(it.w, source);
      offset += it.bytes;
    }
    return { group, items, needed: offset };
  });

  const totalBytes = plans.reduce((a, p) => a + p.needed, 0);
  let loadedBytes = 0;
  opts.onProgress?.(0, totalBytes);

  const out = new Map<string, WeightTensor>();
  for (const { group, items, needed } of plans) {
    if (items.length === 0) continue; // nothing wanted in this group: do not read it

    // Read shards in order until the needed bytes are in hand.
    const shards: Uint8Array[] = [];
    const sizes: string[] = [];
    let have = 0;
    for (const path of group.paths) {
      if (have >= needed) break;
      const bytes = await read(path);
      shards.push(bytes);
      sizes.push(`${path} ${bytes.byteLength}`);
      const used = Math.min(bytes.byteLength, needed - have);
      have += bytes.byteLength;
      loadedBytes += used;
      opts.onProgress?.(loadedBytes, totalBytes);
    }
    if (have < needed) {
      const short = items.find((it) => it.offset + it.bytes > have)!;
      const files = group.paths.map((p) => sibling(source, p)).join(' + ');
      throw new Error(
        `${files}: truncated: the weights of this group need ${needed} bytes, found ${have} bytes` +
          (group.paths.length > 1 ? ` (${sizes.join(', ')})` : '') +
          `; ${short.w.name} (bytes ${short.offset}..${short.offset + short.bytes}) does not fit. ` +
          `The file is damaged or incomplete: fetch it again (manifest: ${source}).`,
      );
    }
    let stream: Uint8Array;
    if (shards.length === 1) stream = shards[0];
    else {
      stream = new Uint8Array(have);
      let at = 0;
      for (const s of shards) {
        stream.set(s, at);
        at += s.byteLength;
      }
    }

    for (const it of items) {
      if (!it.want) continue;
      out.set(it.w.name, { name: it.w.name, shape: [...it.w.shape], data: decodeValues(it.w, stream, it.offset, it.count, source) });
    }
  }
  return out;
}

// ----------------------------------------------------------------------------------------
// Checksums
// ----------------------------------------------------------------------------------------

/** Lowercase hex SHA-256 of `bytes` with WebCrypto (Node ≥ 19 and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error('SHA-256 verification needs WebCrypto (globalThis.crypto.subtle), which this runtime lacks');
  const digest = await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Parses SHA256SUMS (`<64 hex>  <file>` or `<64 hex> *<file>` per line; # comments, blank lines). */
export function parseSha256Sums(sumsText: string, sumsSource: string): Map<string, string> {
  const sums = new Map<string, string>();
  sumsText.split('\n').forEach((rawLine, i) => {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`${sumsSource}:${i + 1}: not a SHA256SUMS line ("<64 hex digits>  <file>"): ${JSON.stringify(line)}`);
    sums.set(m[2].replace(/^\.\//, ''), m[1].toLowerCase());
  });
  return sums;
}

/**
 * Remembers which files were verified, so that a later load skips hashing them (Node:
 * src/model/checksum_cache.ts, keyed by path, size and modification time). Best effort: a cache
 * that cannot be read or written only means the files are hashed again.
 */
export interface ChecksumCache {
  /** true when `file` (relative to the weights folder) was verified to have SHA-256 `expected` and has not changed since */
  known(file: string, expected: string): Promise<boolean>;
  /** `file` was just verified to have SHA-256 `sha256` */
  remember(file: string, sha256: string): Promise<void>;
}

/**
 * Checks each of `files` that SHA256SUMS lists against its SHA-256 (files it does not list
 * are skipped; files `cache` knows to be verified and unchanged are not hashed again). A
 * mismatch → Error naming the file, the expected and the actual hash.
 * Returns the files that were verified.
 */
export async function verifyChecksums(sumsText: string, read: ReadFile, files: string[], sumsSource: string, cache?: ChecksumCache): Promise<string[]> {
  const sums = parseSha256Sums(sumsText, sumsSource);
  const verified: string[] = [];
  for (const file of files) {
    const expected = sums.get(file.replace(/^\.\//, ''));
    if (expected === undefined) continue;
    if (cache && (await cache.known(file, expected))) {
      verified.push(file);
      continue;
    }
    const actual = await sha256Hex(await read(file));
    if (actual !== expected) {
      throw new Error(
        `${sibling(sumsSource, file)}: SHA-256 mismatch: ${sumsSource} expects ${expected}, the file has ${actual}. ` +
          `The file is damaged or not the one the pack was made with: fetch it again.`,
      );
    }
    await cache?.remember(file, actual);
    verified.push(file);
  }
  return verified;
}

// ----------------------------------------------------------------------------------------
// Reading a folder
// ----------------------------------------------------------------------------------------

export async function readOptional(read: ReadFile, path: string): Promise<Uint8Array | null> {
  try {
    return await read(path);
  } catch (err) {
    if (isFileNotFound(err)) return null;
    throw err;
  }
}

/** Memoizes a ReadFile so that verification and decoding read each file once. */
export function cachingReader(read: ReadFile): ReadFile {
  const cache = new Map<string, Promise<Uint8Array>>();
  return (path) => {
    let p = cache.get(path);
    if (!p) {
      p = read(path);
      cache.set(path, p);
    }
    return p;
  };
}

