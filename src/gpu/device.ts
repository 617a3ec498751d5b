// Device acquisition, in a browser (navigator.gpu) and in Node (Dawn, the `webgpu` package).
//
// One function, acquireGpu(), returns a GpuContext: the device with the adapter's largest
// storage-buffer and buffer limits, a short description of the adapter, and whether GPU
// timestamps are available. Every buffer created on the device is counted (memory.ts). Device
// loss and uncaptured errors are reported (console.error and the onError callback), never
// swallowed.

import { trackMemory } from './memory.ts';

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** e.g. "llvmpipe (LLVM 19.1.7, 256 bits) / mesa / vulkan" */
  description: string;
  /** true when 'timestamp-query' was enabled on the device */
  hasTimestamps: boolean;
  /**
   * the subgroup sizes when the 'subgroups' feature was enabled on the device (WGSL
   * `enable subgroups;`, kernels such as conv3x3_winograd_gemm_v8), else null
   */
  subgroups: { minSize: number; maxSize: number } | null;
  /** true when the adapter is a CPU emulation (lavapipe, SwiftShader) */
  isCpuAdapter: boolean;
  /** set when the device is lost; every later submit throws with this message */
  lost: string | null;
  /** errors reported by the device outside an error scope (validation, OOM, internal) */
  uncapturedErrors: string[];
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** called on device loss and on uncaptured errors */
  onError?: (message: string) => void;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

export const NO_ADAPTER_HELP_NODE =
  'No WebGPU adapter found. In Node this project uses Dawn (the `webgpu` npm package), which needs a ' +
  'Vulkan driver: on a machine with a GPU install its vendor driver; without one install Mesa\'s software ' +
  'driver lavapipe (Debian: `bash .ci/setup-system.sh` installs libvulkan1 and mesa-vulkan-drivers from ' +
  'bookworm-backports; the bookworm 22.x lavapipe is too old for Dawn).';

export const NO_WEBGPU_HELP_BROWSER =
  'This browser has no WebGPU. Use Chrome or Edge 113+ (desktop; Android 121+), Safari 26+, or Firefox 141+ ' +
  '(Windows); on Linux Chrome/Chromium needs --enable-unsafe-webgpu (and --enable-features=Vulkan).';

let nodeGpu: GPU | null = null;

/**
 * Worker threads for Mesa's lavapipe when the user has not set LP_NUM_THREADS: 4 per core, at
 * most 32 (lavapipe's own limit). lavapipe hands each thread an equal share of a dispatch's
 * workgroups up front (lp_cs_tpool.c: iter_per_thread = workgroups / threads), so with one
 * thread per core a dispatch ends when the slowest core finishes its share: any other load on
 * one core (a browser, a build, a neighbour on a shared host) stretches every dispatch. With
 * smaller shares the operating system moves the waiting threads to whichever core is free.
 * Measured on the 2-core CI-class machine (bench/README.md): one evaluation at 200x266 took
 * 2.50 s with 2 threads and 2.00 s with 8 while another process kept one core busy, and within
 * a few percent of each other on quiet cores. Other drivers ignore the variable.
 */
export function lavapipeThreads(cores: number): number {
  return Math.max(1, Math.min(32, 4 * cores));
}

/** Dawn's GPU object for Node, created once. */
async function nodeNavigatorGpu(): Promise<GPU> {
  if (nodeGpu) return nodeGpu;
  // Dawn busy-waits on setImmediate while a GPU promise is pending, taking CPU from the
  // (software) adapter's worker threads. A 1 ms timer instead measured 1.4x faster on lavapipe.
  const g = globalThis as unknown as { setImmediate: unknown; __nsSetImmediatePatched?: boolean };
  if (!g.__nsSetImmediatePatched) {
    g.setImmediate = ((f: (...a: unknown[]) => void, ...args: unknown[]) => setTimeout(f, 1, ...args)) as unknown;
    g.__nsSetImmediatePatched = true;
  }
  if (!process.env.XDG_RUNTIME_DIR) {
    const fsName = 'node:fs'; // in a variable: a bundler building for the browser leaves it alone
    const { mkdirSync } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
    const dir = `/tmp/xdg-runtime-${process.getuid?.() ?? 'user'}`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  if (!process.env.LP_NUM_THREADS) {
    const osName = 'node:os';
    const os = (await import(/* @vite-ignore */ osName)) as typeof import('node:os');
    process.env.LP_NUM_THREADS = String(lavapipeThreads(os.availableParallelism?.() ?? os.cpus().length));
  }
  const moduleName = 'webgpu';
  const dawn = (await import(/* @vite-ignore */ moduleName)) as {
    create: (flags: string[]) => GPU;
    globals: Record<string, unknown>;
  };
  // GPUBufferUsage, GPUMapMode, ... as globals, as in a browser.
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  nodeGpu = dawn.create([]);
  return nodeGpu;
}

/** navigator.gpu in a browser, Dawn in Node; null when neither exists. */
export async function getGpu(): Promise<GPU | null> {
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu) return (navigator as Navigator).gpu;
  if (isNode) return nodeNavigatorGpu();
  return null;
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  const parts = [info?.description, info?.vendor, info?.architecture, info?.device].filter((s) => !!s);
  return parts.length ? parts.join(' / ') : 'unknown adapter';
}

/**
 * A Dawn error message without Dawn's C++ backtrace: Dawn appends lines like
 *   "    at CheckVkSuccessImpl (../../src/dawn/native/vulkan/VulkanError.cpp:88)"
 * to the messages it hands to JavaScript (GPUError.message, the device-lost message); they name
 * Dawn's source files, not anything the user can act on. The message and its " - While ..."
 * context lines are kept. (Dawn's own warnings at start-up, "... artificially reduced ...", are
 * written by the native module straight to file descriptor 2, not through process.stderr or
 * console, so they cannot be filtered from inside the process: README says so.)
 */
export function cleanGpuMessage(message: string): string {
  return message
    .split('\n')
    .filter((line) => !/^\s*at \S.*\(.*:\d+\)\s*$/.test(line))
    .join('\n')
    .trimEnd();
}

/**
 * Returns a device with the adapter's largest maxStorageBufferBindingSize and maxBufferSize,
 * 'timestamp-query' and 'subgroups' when the adapter offers them.
 */
export async function acquireGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  const gpu = await getGpu();
  if (!gpu) throw new Error(isNode ? NO_ADAPTER_HELP_NODE : NO_WEBGPU_HELP_BROWSER);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(isNode ? NO_ADAPTER_HELP_NODE : NO_WEBGPU_HELP_BROWSER);
  const features: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) features.push('timestamp-query');
  if (adapter.features.has('subgroups')) features.push('subgroups' as GPUFeatureName); // not yet in @webgpu/types' GPUFeatureName
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'neural-style',
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  trackMemory(device); // every buffer created from here on is counted (memory.ts)
  const description = describeAdapter(adapter);
  const ctx: GpuContext = {
    device,
    adapter,
    description,
    hasTimestamps: device.features.has('timestamp-query'),
    subgroups: device.features.has('subgroups') ? subgroupSizes(adapter) : null,
    isCpuAdapter: /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(description) || adapter.info?.architecture === 'swiftshader',
    lost: null,
    uncapturedErrors: [],
  };
  const report = (raw: string) => {
    const msg = cleanGpuMessage(raw);
    console.error(`[webgpu] ${msg}`);
    options.onError?.(msg);
  };
  device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    ctx.lost = cleanGpuMessage(`GPU device lost (${info.reason}): ${info.message}`);
    report(ctx.lost);
  });
  device.addEventListener('uncapturederror', (ev) => {
    const msg = `uncaptured ${(ev as GPUUncapturedErrorEvent).error.constructor?.name ?? 'error'}: ${(ev as GPUUncapturedErrorEvent).error.message}`;
    ctx.uncapturedErrors.push(cleanGpuMessage(msg));
    report(msg);
  });
  return ctx;
}

/** The adapter's subgroup sizes (GPUAdapterInfo.subgroupMinSize/MaxSize; 4..128 where not reported). */
function subgroupSizes(adapter: GPUAdapter): { minSize: number; maxSize: number } {
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  return { minSize: info.subgroupMinSize || 4, maxSize: info.subgroupMaxSize || 128 };
}

/** Rejects with `what` after ms milliseconds unless p settles first (lavapipe has no watchdog). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
