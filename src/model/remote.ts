// VGG19 weights over fetch (browsers, and Node >= 18 for http(s) URLs): a folder URL holding a
// TF.js weights manifest and its shard files, or the URL of a Keras .h5 file. Used by the page
// (src/web/weights.ts) and by the library's loadWeights (src/api.ts).
//
// A server other than the page's own must allow the page's origin (CORS:
// Access-Control-Allow-Origin) for every file fetched. A 404 becomes fileNotFoundError (so a
// missing optional SHA256SUMS is skipped); every other failure names the URL.
//
// Progress: bytes are counted as they stream in ('download'), against the size the manifest
// implies (sum over groups of values x bytes per stored value) or the .h5's Content-Length,
// then the decoding ('decode').

import { fileNotFoundError, parseManifest, type ReadFile } from './tfjs_manifest.ts';
import { isH5Name, loadVgg19Weights, loadVgg19WeightsFromH5, type Vgg19Weights } from './weights.ts';

export type WeightsProgress = (phase: 'download' | 'decode', loaded: number, total: number) => void;

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, uint16: 2, float16: 2, uint8: 1, bool: 1 };

/** Bytes of all shard files a TF.js manifest describes (its groups' values back to back). */
export function manifestBytes(json: unknown, source = 'manifest'): number {
  let total = 0;
  for (const g of parseManifest(json, source).groups) {
    for (const w of g.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      total += n * (BYTES_PER_VALUE[w.quantization?.dtype ?? w.dtype] ?? 4);
    }
  }
  return total;
}

/**
 * The bytes at `url`: 404 -> fileNotFoundError, other failures name the URL. Bytes are reported
 * through onBytes as they stream in, with the Content-Length (0 when the server does not say).
 */
export async function fetchBytes(url: string, onBytes?: (bytes: number, contentLength: number) => void): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new Error(`${url}: could not be fetched (${(e as Error).message}); is the server reachable, and does it allow this page (CORS)?`);
  }
  if (!res.ok) {
    await res.text().catch(() => ''); // read the body: an abandoned response shows as an aborted request
    if (res.status === 404) throw fileNotFoundError(url);
    throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  }
  if (!res.body || !onBytes) return new Uint8Array(await res.arrayBuffer());
  const length = Number(res.headers.get('content-length') ?? 0) || 0;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    onBytes(value.byteLength, length);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A ReadFile over fetch: the files of the folder URL `folder` (ending in '/'). */
export function fetchReader(folder: string, onBytes?: (path: string, bytes: number) => void): ReadFile {
  return (path: string) => fetchBytes(new URL(path, folder).href, onBytes && ((n) => onBytes(path, n)));
}

/**
 * Loads VGG19 from `url`: a Keras .h5 file when its path ends in .h5/.hdf5, else a folder with
 * weights_manifest.json (or model.json), verified against its SHA256SUMS when there is one.
 */
export async function loadVgg19WeightsFromUrl(url: string, onProgress?: WeightsProgress): Promise<Vgg19Weights> {
  if (isH5Name(url)) {
    let loaded = 0;
    const bytes = await fetchBytes(url, (n, length) => {
      loaded += n;
      onProgress?.('download', loaded, Math.max(length, loaded));
    });
    return loadVgg19WeightsFromH5(bytes, { source: url, onProgress: (l, t) => onProgress?.('decode', l, t) });
  }
  const folder = url.endsWith('/') ? url : `${url}/`;
  let total = 0;
  let loaded = 0;
  const read = fetchReader(folder, (path, bytes) => {
    if (!/\.bin$/i.test(path)) return;
    loaded += bytes;
    onProgress?.('download', loaded, Math.max(total, loaded));
  });
  const reading: ReadFile = async (path) => {
    const bytes = await read(path);
    if (path === 'weights_manifest.json' || path === 'model.json') {
      try {
        total = manifestBytes(JSON.parse(new TextDecoder().decode(bytes)), path);
      } catch {
        // loadVgg19Weights reports a bad manifest with its own message
      }
    }
    return bytes;
  };
  return loadVgg19Weights(reading, { onProgress: (l, t) => onProgress?.('decode', l, t), source: folder });
}
