// VGG19 weights for the page: a folder URL (TF.js manifest and shards) or a Keras .h5 URL, read
// over fetch (src/model/remote.ts). The dev and preview servers serve the folder that
// src/model/locate.ts finds at /weights/vgg19/ (vite.config.ts); a built page looks beside
// itself (weights/vgg19/) unless told otherwise: ?weights=<folder or .h5 URL>, or the page's
// weights field. Another origin must allow this page (CORS). Decoded weights are kept per URL
// for the page's lifetime.

import { isH5Name, type Vgg19Weights } from '../model/weights.ts';
import { loadVgg19WeightsFromUrl, type WeightsProgress } from '../model/remote.ts';

export { fetchReader, manifestBytes, type WeightsProgress } from '../model/remote.ts';

/** Relative: the folder beside the page (the dev server serves it; a static host needs a copy). */
export const DEFAULT_WEIGHTS_URL = 'weights/vgg19/';

/**
 * The weights URL, absolute: an .h5 file's URL as it is, a folder's ending in '/' (query and
 * fragment dropped).
 */
export function weightsFolderUrl(raw: string, pageUrl: string): string {
  const trimmed = raw.trim() || DEFAULT_WEIGHTS_URL;
  const url = new URL(trimmed, pageUrl);
  if (isH5Name(url.pathname)) return url.href;
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url.href;
}

const cache = new Map<string, Promise<Vgg19Weights>>();

/**
 * Loads (once per URL) and verifies the weights, reporting download progress in bytes and then
 * decode progress. A failed load is not cached, so it can be retried.
 */
export function loadWeights(url: string, onProgress: WeightsProgress): Promise<Vgg19Weights> {
  let p = cache.get(url);
  if (!p) {
    p = loadVgg19WeightsFromUrl(url, onProgress);
    cache.set(url, p);
    p.catch(() => cache.delete(url));
  }
  return p;
}
