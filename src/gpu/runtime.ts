// Buffers, cached compute pipelines, error-checked submission and read-back.
//
// A program is data: { shader (file name in shaders/), entryPoint, constants (WGSL overrides) }.
// Its pipeline is labelled with the file name, so a validation error names the kernel.

import type { ShaderName } from './shader_names.ts';
import { loadShader } from './shaders.ts';
import { type GpuContext, withTimeout } from './device.ts';

export interface Program {
  /** file name in shaders/ without .wgsl, e.g. "conv3x3_forward_v2" (a name with no file fails the type check) */
  shader: ShaderName;
  entryPoint?: string;
  /** values for the shader's `override` constants */
  constants?: Record<string, number>;
}

/** Default limit for any single wait on the GPU (lavapipe has no watchdog). */
export const GPU_WAIT_MS = 300_000;

const modules = new WeakMap<GPUDevice, Map<string, Promise<GPUShaderModule>>>();
const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/**
 * The value `make` gives for (device, key), made once per device and cached in `cache`; a failure
 * is not cached (the next call tries again). Shader modules, compute and render pipelines use it.
 */
export function perDevice<V>(cache: WeakMap<GPUDevice, Map<string, Promise<V>>>, device: GPUDevice, key: string, make: () => Promise<V>): Promise<V> {
  let byKey = cache.get(device);
  if (!byKey) cache.set(device, (byKey = new Map()));
  let p = byKey.get(key);
  if (!p) {
    const map = byKey;
    p = make();
    map.set(key, p);
    p.catch(() => map.delete(key));
  }
  return p;
}

function programKey(p: Program): string {
  const c = p.constants ? Object.entries(p.constants).sort(([a], [b]) => (a < b ? -1 : 1)) : [];
  return `${p.shader}:${p.entryPoint ?? 'main'}:${JSON.stringify(c)}`;
}

/**
 * The compiled module of shaders/<name>.wgsl, once per device and cached; a compilation error
 * throws with every message as `<name>.wgsl:line:col: message`. Compute pipelines (getPipeline)
 * and the page's render pipeline (src/web/canvas.ts) both start here.
 */
export function getShaderModule(ctx: GpuContext, name: ShaderName): Promise<GPUShaderModule> {
  const { device } = ctx;
  return perDevice(modules, device, name, async () => {
    const code = await loadShader(name);
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: `${name}.wgsl`, code });
    const info = await module.getCompilationInfo();
    const err = await device.popErrorScope();
    const errors = info.messages.filter((msg) => msg.type === 'error');
    if (errors.length || err) {
      const lines = errors.map((msg) => `  ${name}.wgsl:${msg.lineNum}:${msg.linePos}: ${msg.message}`);
      throw new Error(`WGSL compilation failed for ${name}.wgsl\n${lines.join('\n')}${err ? `\n  ${err.message}` : ''}`);
    }
    return module;
  });
}

/** The compute pipeline of a program, compiled once per device and cached. */
export function getPipeline(ctx: GpuContext, program: Program): Promise<GPUComputePipeline> {
  const { device } = ctx;
  return perDevice(pipelines, device, programKey(program), async () => {
    const module = await getShaderModule(ctx, program.shader);
    device.pushErrorScope('validation');
    const pipeline = await device.createComputePipelineAsync({
      label: program.shader,
      layout: 'auto',
      compute: { module, entryPoint: program.entryPoint ?? 'main', constants: program.constants },
    }).catch((e: Error) => {
      throw new Error(`pipeline ${program.shader} (${program.entryPoint ?? 'main'}): ${e.message}`);
    });
    const err = await device.popErrorScope();
    if (err) throw new Error(`pipeline ${program.shader}: ${err.message}`);
    return pipeline;
  });
}

/** A storage buffer (read-write from shaders, copyable both ways) of `bytes` bytes (rounded up to 16). */
export function createStorage(ctx: GpuContext, bytes: number, label: string): GPUBuffer {
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const max = ctx.device.limits.maxStorageBufferBindingSize;
  if (size > max) {
    throw new Error(`buffer "${label}" needs ${(size / 2 ** 20).toFixed(1)} MiB, over this adapter's storage-buffer limit of ${(max / 2 ** 20).toFixed(0)} MiB`);
  }
  return ctx.device.createBuffer({
    label,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
}

/** A storage buffer holding `data`. */
export function uploadStorage(ctx: GpuContext, data: Float32Array | Uint32Array, label: string): GPUBuffer {
  const buf = createStorage(ctx, data.byteLength, label);
  ctx.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
  return buf;
}

/** A uniform buffer holding `words` (u32/f32 bit patterns), padded to 16 bytes. */
export function createUniform(ctx: GpuContext, words: ArrayLike<number>, label: string, asFloat: boolean[] = []): GPUBuffer {
  const n = Math.max(4, Math.ceil(words.length / 4) * 4);
  const data = new ArrayBuffer(n * 4);
  const u = new Uint32Array(data);
  const f = new Float32Array(data);
  for (let i = 0; i < words.length; i++) {
    if (asFloat[i]) f[i] = words[i];
    else u[i] = words[i];
  }
  const buf = ctx.device.createBuffer({ label, size: n * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  ctx.device.queue.writeBuffer(buf, 0, data);
  return buf;
}

/** A recorded dispatch: pipeline, bind group and workgroup counts, ready to encode many times. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

/**
 * Builds a Dispatch binding `buffers` to @group(0) @binding(0..n-1) in order: a whole buffer, or a
 * range of one ({ buffer, offset, size }; offset a multiple of minStorageBufferOffsetAlignment).
 */
export async function makeDispatch(
  ctx: GpuContext,
  program: Program,
  buffers: Array<GPUBuffer | GPUBufferBinding>,
  workgroups: [number, number, number],
): Promise<Dispatch> {
  const pipeline = await getPipeline(ctx, program);
  const limit = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((w) => w > limit)) {
    throw new Error(`${program.shader}: dispatch ${workgroups.join('x')} exceeds ${limit} workgroups per dimension`);
  }
  const bindGroup = ctx.device.createBindGroup({
    label: program.shader,
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } })),
  });
  return { label: program.shader, pipeline, bindGroup, workgroups };
}

/**
 * makeDispatch for the usual binding layout: binding 0 a uniform of the shader's parameters
 * (u32 words, labelled "<shader> params"), then `buffers` in binding order. `accumulate` sets
 * the shader's ACCUMULATE constant (1: add into the output, 0: overwrite it); `constants`, others.
 */
export function dispatchWithParams(
  ctx: GpuContext,
  shader: ShaderName,
  params: ArrayLike<number>,
  buffers: GPUBuffer[],
  workgroups: [number, number, number],
  o: { accumulate?: boolean; constants?: Record<string, number> } = {},
): Promise<Dispatch> {
  const constants = o.accumulate === undefined ? o.constants : { ...o.constants, ACCUMULATE: o.accumulate ? 1 : 0 };
  return makeDispatch(ctx, { shader, constants }, [createUniform(ctx, params, `${shader} params`), ...buffers], workgroups);
}

/** Encodes dispatches into one compute pass (optionally with timestamp writes). */
export function encodeDispatches(encoder: GPUCommandEncoder, list: Dispatch[], timestampWrites?: GPUComputePassTimestampWrites): void {
  const pass = encoder.beginComputePass({ label: list.map((d) => d.label).join(',').slice(0, 120), timestampWrites });
  for (const d of list) {
    if (d.workgroups[0] === 0 || d.workgroups[1] === 0 || d.workgroups[2] === 0) continue;
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
  pass.end();
}

/**
 * Submits command buffers inside validation and out-of-memory error scopes and throws if
 * either caught something (Dawn in Node prints validation errors instead of throwing and
 * skips the bad submit).
 */
export async function submitChecked(ctx: GpuContext, commands: GPUCommandBuffer[], what: string): Promise<void> {
  if (ctx.lost) throw new Error(ctx.lost);
  const { device } = ctx;
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  device.queue.submit(commands);
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (validation) throw new Error(`WebGPU validation error in ${what}: ${validation.message}`);
  if (oom) throw new Error(`GPU out of memory in ${what}: ${oom.message}`);
}

/** Encodes and submits dispatches in one pass, checked. */
export async function runDispatches(ctx: GpuContext, list: Dispatch[], what = list.map((d) => d.label).join(',')): Promise<void> {
  const enc = ctx.device.createCommandEncoder({ label: what });
  encodeDispatches(enc, list);
  await submitChecked(ctx, [enc.finish()], what);
}

/** Waits until the queue is idle (with a time limit). */
export function waitIdle(ctx: GpuContext, what = 'queue'): Promise<void> {
  return withTimeout(ctx.device.queue.onSubmittedWorkDone(), GPU_WAIT_MS, `GPU work (${what})`);
}

/** Copies `bytes` bytes of `src` (from `offset`) back to the CPU. */
export async function readBuffer(ctx: GpuContext, src: GPUBuffer, bytes = src.size, offset = 0): Promise<ArrayBuffer> {
  const size = Math.ceil(bytes / 4) * 4;
  const staging = ctx.device.createBuffer({ label: `read ${src.label}`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const enc = ctx.device.createCommandEncoder({ label: `read ${src.label}` });
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    await submitChecked(ctx, [enc.finish()], `read-back of ${src.label}`);
    await withTimeout(staging.mapAsync(GPUMapMode.READ), GPU_WAIT_MS, `read-back of ${src.label}`);
    return staging.getMappedRange().slice(0, bytes);
  } finally {
    staging.destroy();
  }
}

export async function readFloats(ctx: GpuContext, src: GPUBuffer, count: number, offsetFloats = 0): Promise<Float32Array> {
  return new Float32Array(await readBuffer(ctx, src, count * 4, offsetFloats * 4));
}

/** Workgroup counts for a 1-D problem of n items in workgroups of `size`, folded into x/y (x <= 65535). */
export function grid1d(n: number, size = 64): [number, number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= 65535) return [groups, 1, 1];
  const xg = 65535;
  return [xg, Math.ceil(groups / xg), 1];
}
