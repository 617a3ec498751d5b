// The autotuner's cache: the conv version measured fastest, per adapter and conv shape, kept
// across runs so that tuning happens once per machine (kernel_table.ts reads it, kernel_tune.ts
// fills it).
//
// Where: in Node a JSON file, $XDG_CACHE_HOME/neural-style-webgpu/kernels.json (default
// ~/.cache/neural-style-webgpu/kernels.json), written atomically (temporary file + rename); in a
// browser localStorage['neural-style-webgpu/kernels']. The file holds one section per adapter key
// (vendor / architecture / device / description: Dawn's and Chromium's description carries the
// driver, e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)"), and a format number that includes the tuner's
// version: entries of another adapter (a new driver) or another tuner are never used. A file that
// cannot be read or parsed is ignored (tuning runs again) and replaced only when new entries are
// written. useMemoryKernelCache() swaps the store for a private one in memory (the benchmark's
// `kernels` section: it tunes from scratch and never reads or writes the user's cache).

import type { GpuContext } from '../gpu/device.ts';
import type { ConvVersion } from './conv3x3.ts';

/** Bumped whenever the candidates or the timing method change: older entries are then ignored. */
export const TUNER_FORMAT = 2; // 2: a band winner is confirmed on a larger band before it replaces the default

/** One tuned shape: the version chosen, why, and the extrapolated full-shape ms of each candidate timed. */
export interface TunedEntry {
  version: ConvVersion;
  why: string;
  /** candidate version -> median ms at the full shape (extrapolated from the rows timed) */
  ms: Partial<Record<ConvVersion, number>>;
  /** rows of the shape timed in the band step */
  rowsTimed: number;
  /** rows of the confirmation step (a band winner against the default), when there was one */
  rowsConfirmed?: number;
}

export interface KernelCacheFile {
  format: number;
  adapters: Record<string, Record<string, TunedEntry>>;
}

/** The key of an adapter: vendor / architecture / device / description (with the driver) and the subgroup sizes. */
export function adapterKey(ctx: Pick<GpuContext, 'adapter' | 'subgroups'>): string {
  const i = ctx.adapter.info;
  const sg = ctx.subgroups ? `subgroups ${ctx.subgroups.minSize}-${ctx.subgroups.maxSize}` : 'no subgroups';
  return [i?.vendor, i?.architecture, i?.device, i?.description, sg].map((s) => s || '?').join(' / ');
}

/** The key of a conv shape in one direction (H = the rows the kernel runs at once). */
export function shapeKey(direction: 'forward' | 'backward', s: { H: number; W: number; Cin: number; Cout: number }): string {
  return `${direction} ${s.H}x${s.W} ${s.Cin}->${s.Cout}`;
}

/** A private in-memory store, when set (useMemoryKernelCache): read and written instead of the file / localStorage. */
let memoryStore: KernelCacheFile | null = null;

/**
 * Makes the cache a private one in memory, empty (true) or back to the file / localStorage
 * (false). The benchmark's `kernels` section tunes with it, so that it measures the tuner from
 * scratch and leaves the user's cache alone.
 */
export function useMemoryKernelCache(on: boolean): void {
  memoryStore = on ? { format: TUNER_FORMAT, adapters: {} } : null;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
const STORAGE_KEY = 'neural-style-webgpu/kernels';

/** The cache file's path in Node: $XDG_CACHE_HOME or ~/.cache, then neural-style-webgpu/kernels.json. */
export async function kernelCachePath(): Promise<string> {
  const { homedir } = await import(/* @vite-ignore */ 'node:os');
  const { join } = await import(/* @vite-ignore */ 'node:path');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'neural-style-webgpu', 'kernels.json');
}

function valid(f: unknown): f is KernelCacheFile {
  const o = f as KernelCacheFile;
  return !!o && typeof o === 'object' && o.format === TUNER_FORMAT && !!o.adapters && typeof o.adapters === 'object';
}

/** The cache as stored, or an empty one (missing, unreadable, another format). */
export async function readKernelCache(): Promise<KernelCacheFile> {
  const empty: KernelCacheFile = { format: TUNER_FORMAT, adapters: {} };
  if (memoryStore) return structuredClone(memoryStore);
  try {
    let text: string | null = null;
    if (isNode) {
      const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
      text = await readFile(await kernelCachePath(), 'utf8');
    } else if (typeof localStorage !== 'undefined') text = localStorage.getItem(STORAGE_KEY);
    const f = text ? JSON.parse(text) : null;
    return valid(f) ? f : empty;
  } catch {
    return empty;
  }
}

/**
 * Adds `entries` (shape key -> entry) under the adapter key and stores the cache (re-read first,
 * so that entries written meanwhile by another run are kept). Throws with the path on failure.
 */
export async function writeKernelCache(adapter: string, entries: Record<string, TunedEntry>): Promise<void> {
  const f = await readKernelCache();
  f.adapters[adapter] = { ...(f.adapters[adapter] ?? {}), ...entries };
  if (memoryStore) {
    memoryStore = structuredClone(f);
    return;
  }
  const text = JSON.stringify(f, null, 1);
  if (isNode) {
    const { mkdir, rename, writeFile } = await import(/* @vite-ignore */ 'node:fs/promises');
    const { dirname } = await import(/* @vite-ignore */ 'node:path');
    const path = await kernelCachePath();
    try {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, path);
    } catch (e) {
      throw new Error(`kernel cache ${path}: ${(e as Error).message}`);
    }
  } else if (typeof localStorage !== 'undefined') localStorage.setItem(STORAGE_KEY, text);
}

/** The cached entry of a shape on this adapter, if any. */
export function cachedEntry(f: KernelCacheFile, adapter: string, shape: string): TunedEntry | undefined {
  return f.adapters[adapter]?.[shape];
}
