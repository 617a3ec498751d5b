// The benchmark page (bench/browser/index.html): the same suite as `npm run bench`
// (bench/lib/suite.ts) on this browser's WebGPU adapter (SwiftShader in headless Chromium here)
// and TensorFlow.js's webgpu (on the same device), wasm (SIMD; threads when the page is
// cross-origin isolated, which bench/browser/run.ts's server arranges) and cpu backends.
//
// Options: ?args=<JSON array of the command-line flags>. Publishes
// window.__bench = { done: true, result } (or { done: true, error }); progress lines go to the
// console prefixed "[bench]" and into the page.
import * as tf from '@tensorflow/tfjs';
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { acquireGpu } from '../../src/gpu/device.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { fileNotFoundError, type ReadFile } from '../../src/model/tfjs_manifest.ts';
import { loadVgg19Weights } from '../../src/model/weights.ts';
import { parseBenchArgs } from '../lib/options.ts';
import { runSuite, type SuiteEnv } from '../lib/suite.ts';
import type { BenchResult } from '../lib/types.ts';
import { loadTfjsVgg19WeightsFromUrl, type Tf } from '../reference/tfjs_vgg19_core.ts';

export interface BenchPageState {
  done: boolean;
  result?: BenchResult;
  error?: string;
}

declare global {
  interface Window {
    __bench?: BenchPageState;
  }
}

const logEl = document.getElementById('log')!;
function log(s: string): void {
  console.log(`[bench] ${s}`);
  logEl.textContent += `${s}\n`;
}

/** A ReadFile over a URL folder (the dev server's /weights/vgg19/). */
function fetchReader(base: string): ReadFile {
  return async (path) => {
    const url = `${base}/${path}`;
    const res = await fetch(url);
    if (res.status === 404) throw fileNotFoundError(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
}

async function main(): Promise<void> {
  const args = JSON.parse(new URLSearchParams(location.search).get('args') ?? '[]') as string[];
  const o = parseBenchArgs(args);
  const ctx = await acquireGpu();
  const env: SuiteEnv = {
    kind: 'browser',
    ctx,
    tf: tf as unknown as Tf,
    wasmPaths: {
      'tfjs-backend-wasm.wasm': wasmPlainUrl,
      'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
    },
    wasmThreads: navigator.hardwareConcurrency,
    loadOurWeights: () => loadVgg19Weights(fetchReader('/weights/vgg19'), { source: '/weights/vgg19' }),
    loadTfjsWeights: () => loadTfjsVgg19WeightsFromUrl(tf as unknown as Tf, '/weights/vgg19'),
    loadImage: async (name) => {
      const res = await fetch(`/images/${name}`);
      if (!res.ok) throw new Error(`/images/${name}: HTTP ${res.status}`);
      return decodeImage(new Uint8Array(await res.arrayBuffer()), name);
    },
    versions: {
      browser: navigator.userAgent.match(/(HeadlessChrome|Chrome|Chromium)\/[\d.]+/)?.[0] ?? navigator.userAgent,
      '@tensorflow/tfjs': tf.version.tfjs,
    },
    host: { hardwareConcurrency: navigator.hardwareConcurrency, crossOriginIsolated: globalThis.crossOriginIsolated === true },
    log,
  };
  window.__bench = { done: true, result: await runSuite(env, o) };
}

window.__bench = { done: false };
main().catch((e: unknown) => {
  const msg = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  log(`failed: ${msg}`);
  window.__bench = { done: true, error: msg };
});
