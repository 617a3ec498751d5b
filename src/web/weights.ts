// VGG19 weights for the page: the same manifest format as in Node (src/model/tfjs_manifest.ts, src/model/weights.ts),
// read over fetch from a folder URL. The dev and preview servers serve the folder that
// src/model/locate.ts finds at /weights/vgg19/ (vite.config.ts); a built page gets it from
// wherever it is hosted: ?weights=<folder URL> or the page's weights field.
//
// Progress: the shard files are streamed and counted as they arrive, against the size the
// manifest implies (sum over groups of values x bytes per stored value), because
// loadVgg19Weights reads every shard while verifying SHA256SUMS, before it decodes anything.
// A 404 becomes fileNotFoundError (so a missing optional SHA256SUMS is skipped); every other
// failure names the URL. Decoded weights are kept per URL for the page's lifetime.

import { fileNotFoundError, parseManifest, type ReadFile } from '../model/tfjs_manifest.ts';
import { loadVgg19Weights, type Vgg19Weights } from '../model/weights.ts';

export const DEFAULT_WEIGHTS_URL = '/weights/vgg19/';

/** The folder URL, absolute, ending in '/'. */
export function weightsFolderUrl(raw: string, pageUrl: string): string {
  const trimmed = raw.trim() || DEFAULT_WEIGHTS_URL;
  const url = new URL(trimmed, pageUrl);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url.href;
}

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

export type WeightsProgress = (phase: 'download' | 'decode', loaded: number, total: number) => void;

/**
 * A ReadFile over fetch: bytes of one file of the folder; 404 -> fileNotFoundError, other
 * failures name the URL. Shard bytes are reported through onBytes as they stream in.
 */
export function fetchReader(folder: string, onBytes?: (path: string, bytes: number) => void): ReadFile {
  return async (path: string) => {
    const url = new URL(path, folder).href;
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
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      onBytes(path, value.byteLength);
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  };
}

const cache = new Map<string, Promise<Vgg19Weights>>();

/**
 * Loads (once per folder URL) and verifies the weights, reporting download progress in bytes
 * and then decode progress. A failed load is not cached, so it can be retried.
 */
export function loadWeights(folder: string, onProgress: WeightsProgress): Promise<Vgg19Weights> {
  let p = cache.get(folder);
  if (!p) {
    let total = 0;
    let loaded = 0;
    const read = fetchReader(folder, (path, bytes) => {
      if (!/\.bin$/i.test(path)) return;
      loaded += bytes;
      onProgress('download', loaded, Math.max(total, loaded));
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
    p = loadVgg19Weights(reading, { onProgress: (l, t) => onProgress('decode', l, t), source: folder });
    cache.set(folder, p);
    p.catch(() => cache.delete(folder));
  }
  return p;
}
