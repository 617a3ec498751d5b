// TensorFlow.js backends for the benchmark, in Node and in the browser: which ones run here, on
// what, and why not when they do not.
//
//   webgpu  @tensorflow/tfjs-backend-webgpu on OUR device: the stock registration asks
//           navigator.gpu for a fresh adapter; we replace it with a factory that builds the
//           backend (WebGPUBackend, exported by the package) on the GPUDevice our engine uses, so
//           both run on the same adapter and share a queue (and tensors can be copied to our
//           buffers without a CPU round trip). In Node, navigator.gpu is Dawn's GPU object
//           (src/gpu/device.ts getGpu), set before the package is imported because it only
//           registers itself when navigator.gpu exists.
//   wasm    @tensorflow/tfjs-backend-wasm (XNNPACK): SIMD where WebAssembly SIMD validates;
//           threads only in a cross-origin-isolated page (tfjs turns them off in Node). The
//           caller says where the .wasm files are (a folder path in Node, URLs in the browser).
//   cpu     tfjs-core's plain-JS backend.

import type { GpuContext } from '../../src/gpu/device.ts';
import { getGpu, withTimeout } from '../../src/gpu/device.ts';
import type { Tf } from '../reference/tfjs_vgg19_core.ts';

export const TFJS_BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
export type TfjsBackendName = (typeof TFJS_BACKENDS)[number];

export interface BackendStatus {
  name: TfjsBackendName;
  ok: boolean;
  /** how it runs (e.g. "shared device: llvmpipe ...", "SIMD, 1 thread"), or why it cannot */
  note: string;
}

export interface BackendInitOptions {
  /** where the wasm binaries are: a folder prefix ending in '/', or a map file name -> URL */
  wasmPaths: string | Record<string, string>;
  /** wasm threads to use when threads are available (default: all the page offers) */
  wasmThreads?: number;
  log?: (s: string) => void;
}

const INIT_LIMIT_MS = 120_000;

/** Registers and initializes the wanted backends; never throws (failures become statuses). */
export async function initTfjsBackends(tf: Tf, ctx: GpuContext, wanted: readonly TfjsBackendName[], opts: BackendInitOptions): Promise<BackendStatus[]> {
  tf.enableProdMode(); // silences tfjs's console warnings (e.g. the cpu backend's tfjs-node banner)
  const out: BackendStatus[] = [];
  for (const name of wanted) {
    try {
      const note = await withTimeout(initOne(tf, ctx, name, opts), INIT_LIMIT_MS, `TensorFlow.js ${name} backend initialization`);
      out.push({ name, ok: true, note });
      opts.log?.(`tfjs-${name}: ${note}`);
    } catch (e) {
      const why = (e as Error).message ?? String(e);
      out.push({ name, ok: false, note: why });
      opts.log?.(`tfjs-${name}: cannot run: ${why}`);
    }
  }
  return out;
}

async function initOne(tf: Tf, ctx: GpuContext, name: TfjsBackendName, opts: BackendInitOptions): Promise<string> {
  if (name === 'webgpu') {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator?.gpu) {
      const gpu = await getGpu();
      if (!gpu) throw new Error('no WebGPU in this environment');
      // Node 20 has no navigator; Node >= 21 has one without gpu.
      if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    }
    const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as {
      WebGPUBackend: new (device: GPUDevice, adapterInfo?: GPUAdapterInfo) => unknown;
    };
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new mod.WebGPUBackend(ctx.device, ctx.adapter.info) as never, 3);
    await selectAndCheck(tf, 'webgpu');
    const b = tf.backend() as unknown as { supportTimestampQuery?: boolean };
    return `shared device with our engine (${ctx.description}); timestamps ${b.supportTimestampQuery ? 'yes' : 'no'}`;
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(opts.wasmPaths as never);
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threadsOk = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    if (threadsOk && opts.wasmThreads) wasm.setThreadsCount(opts.wasmThreads);
    await selectAndCheck(tf, 'wasm');
    const threads = wasm.getThreadsCount();
    const why = threadsOk
      ? ` (threaded build; ${opts.wasmThreads ?? 'default'} requested, XNNPACK's pool reports ${threads})`
      : tf.env().get('IS_NODE')
        ? ' (tfjs disables wasm threads in Node)'
        : ' (the page is not cross-origin isolated: no threads)';
    return `${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}${why}`;
  }
  await selectAndCheck(tf, 'cpu');
  return 'plain JavaScript (tfjs-core cpu backend), 1 thread';
}

/** setBackend + a tiny op whose result is checked. */
async function selectAndCheck(tf: Tf, name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
  const t = tf.add(tf.tensor1d([1, 2, 3, 4]), 1);
  const v = await t.data();
  t.dispose();
  if (v[3] !== 5) throw new Error(`backend ${name} computed 4 + 1 = ${v[3]}`);
}

/** Switches the active backend (all initialized by initTfjsBackends). */
export async function useBackend(tf: Tf, name: TfjsBackendName): Promise<void> {
  if (tf.getBackend() === name) return;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') failed`);
}

/** The tfjs-webgpu backend object (its queue flush, timestamp support: internals of 4.22), or null. */
export interface WebgpuBackendInternals {
  submitQueue?: () => void;
  endComputePassEncoder?: () => void;
  commandEncoder?: unknown;
  supportTimestampQuery?: boolean;
}

export function webgpuBackendOf(tf: Tf): WebgpuBackendInternals | null {
  try {
    return tf.findBackend('webgpu') as unknown as WebgpuBackendInternals;
  } catch {
    return null;
  }
}
