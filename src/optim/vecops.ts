// GPU vector operations for the optimizers: the TypeScript side of shaders/vec_*.wgsl.
//
// A VecOps object serves vectors of one length N, stored as one or more SEGMENTS: a vector
// (GpuVec) is one buffer per segment, segment k holding the consecutive elements
// [o_k, o_k + len_k). One segment is the usual case; an image too large for one GPU buffer
// (--max-buffer-mib, src/model/bands.ts) is a vector of row bands, and every op below then runs
// segment by segment (the element-wise ops one dispatch per segment; vec_dot one dispatch per
// segment into its own region of the partials, then one vec_dot_finish over all of them, so a
// dot product is still one scalar). It owns
//   scalars   [SCALAR_SLOTS] f32   small values kernels write and read (dots, alpha_i, rho_i, ...)
//   partials  [P] vec4f            per-workgroup partial sums of vec_dot (per segment: a region of
//                                  P_k entries, starting at an offset the device can bind; the
//                                  entries between regions are never written and stay zero,
//                                  which is neutral for all four reductions)
// and records operations into a VecBatch, which encodes them in order (consecutive dispatches
// share one compute pass) and submits them as ONE command buffer. Because coefficients can be
// read from the scalars buffer, a whole L-BFGS two-loop recursion is one submission; only the
// final scalars are read back (readScalars).
//
// Scalar slot layout (f32 indices into `scalars`; L-BFGS owns the slots from HISTORY_BASE on):
//   0..3   R_EVAL     vec_dot result (g.d, |g|^2, |g|_inf, bad) after an evaluation / of a direction
//   4..7   R_PAIR     vec_dot result (y.s, |y|^2, |y|_inf, bad) of a new history pair
//   8..11  R_SCRATCH  vec_dot results nobody reads (the two-loop's dots go to scaled slots)
//   12     BETA       beta_i = rho_i * y_i.r in the second loop
//   13     GAMMA      H0 = GAMMA * I, s.y / y.y of the newest pair
//   16 + i           RHO(i)   = 1 / (y_i.s_i)       for history slot i
//   16 + MAXH + i    ALPHA(i) = rho_i * s_i.q       for history slot i
//
// Kernels (each has a CPU reference in src/ref/vec.ts and a test in test/optim.test.ts):
//   vec_axpy        y += a x            a = c * (S[plus] or 1  -  S[minus] or 0)
//   vec_scale_copy  y  = a x            same coefficient rule: vec_axpy with ACCUMULATE = false
//   vec_dot         partial sums (a.b, a.a, max|a|, non-finite count) per workgroup
//   vec_dot_finish  reduce the partials into S[dst..dst+3], optionally S[scaledDst] = S[scaleSlot] * a.b
//   vec_adam        one Adam step on x, m, v

import type { GpuContext } from '../gpu/device.ts';
import type { ShaderName } from '../gpu/shader_names.ts';
import { createStorage, type Dispatch, encodeDispatches, getPipeline, readFloats, submitChecked, uploadStorage } from '../gpu/runtime.ts';

/** Marks an unused scalar slot (the shaders' NONE). */
export const NONE = 0xffffffff;

export const R_EVAL = 0;
export const R_PAIR = 4;
export const R_SCRATCH = 8;
export const BETA = 12;
export const GAMMA = 13;
export const HISTORY_BASE = 16;
/** Most history slots the scalar layout has room for (L-BFGS uses history + 1 slots). */
export const MAX_HISTORY_SLOTS = 128;
export const RHO = (slot: number) => HISTORY_BASE + slot;
export const ALPHA = (slot: number) => HISTORY_BASE + MAX_HISTORY_SLOTS + slot;
export const SCALAR_SLOTS = HISTORY_BASE + 2 * MAX_HISTORY_SLOTS;

/** A coefficient a = c * (S[plus] or 1 - S[minus] or 0); {c: 2} is the constant 2. */
export interface Coef {
  c?: number;
  plus?: number;
  minus?: number;
}

/** The four values of one vec_dot reduction. */
export interface DotResult {
  /** sum a_i b_i */
  dot: number;
  /** sum a_i^2 */
  sumSq: number;
  /** max |a_i| (meaningless when nonFinite > 0) */
  maxAbs: number;
  /** number of i where a_i or b_i is NaN or +-Inf */
  nonFinite: number;
}

/** A vector of N f32 on the GPU: one buffer per segment of its VecOps (one buffer when unsegmented). */
export type GpuVec = readonly GPUBuffer[];

/**
 * v as one buffer per segment (a plain buffer is a one-segment vector); throws mismatch(n) when it
 * has n buffers instead of `segments`.
 */
export function asVector(v: GPUBuffer | GpuVec, segments: number, mismatch: (n: number) => string): GpuVec {
  const parts = Array.isArray(v) ? (v as GpuVec) : [v as GPUBuffer];
  if (parts.length !== segments) throw new Error(mismatch(parts.length));
  return parts;
}

export interface VecOpsOptions {
  /** Most workgroups of the first vec_dot pass (the partials count P). Default 256. */
  maxPartials?: number;
  /** Workgroup size of every vec kernel (the WGSL override WG), a power of two. Default 256. */
  workgroupSize?: number;
}

/** The vec kernels by name; each is a shader and its constants (the scaled copy is vec_axpy without ACCUMULATE). */
const KERNELS = {
  vec_axpy: { shader: 'vec_axpy', constants: {} },
  vec_scale_copy: { shader: 'vec_axpy', constants: { ACCUMULATE: 0 } },
  vec_dot: { shader: 'vec_dot', constants: {} },
  vec_dot_finish: { shader: 'vec_dot_finish', constants: {} },
  vec_adam: { shader: 'vec_adam', constants: {} },
} as const satisfies Record<string, { shader: ShaderName; constants: Record<string, number> }>;
type Shader = keyof typeof KERNELS;

/** Uniform buffers are 48 bytes (12 words): the largest params struct (vec_adam's, 9 words) rounded up to 16 bytes. */
const UNIFORM_WORDS = 12;

/** A whole buffer, or a byte range of one (vec_dot's region of the partials). */
type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

type Op =
  | { kind: 'dispatch'; shader: Shader; words: number[]; floats: boolean[]; buffers: Binding[]; workgroups: [number, number, number] }
  | { kind: 'copy'; src: GPUBuffer; dst: GPUBuffer; bytes: number }
  | { kind: 'clear'; buf: GPUBuffer; bytes: number };

/** One segment: its length and its region of the vec_dot partials. */
interface Segment {
  n: number;
  /** workgroups of its vec_dot (= partial entries written) */
  P: number;
  /** byte offset of its region in the partials buffer */
  offset: number;
}

export class VecOps {
  readonly scalars: GPUBuffer;
  readonly partials: GPUBuffer;
  /** P, the number of vec_dot partial entries vec_dot_finish reduces (all segments' regions) */
  readonly partialCount: number;
  /** N, the vector length (the sum of the segment lengths) */
  readonly n: number;
  /** the segments' lengths */
  readonly segments: readonly number[];
  /** @internal */
  readonly segs: readonly Segment[];
  private readonly uniforms: GPUBuffer[] = [];
  private destroyed = false;

  private constructor(
    readonly ctx: GpuContext,
    segments: readonly number[],
    private readonly pipelines: Map<Shader, GPUComputePipeline>,
    maxPartials: number,
    /** the workgroup size of every vec kernel */
    readonly wg: number,
  ) {
    this.segments = [...segments];
    this.n = segments.reduce((a, b) => a + b, 0);
    const align = ctx.device.limits.minStorageBufferOffsetAlignment;
    let offset = 0;
    this.segs = segments.map((len) => {
      const P = Math.max(1, Math.min(maxPartials, Math.ceil(len / wg), 65535));
      const seg = { n: len, P, offset };
      offset += Math.ceil((P * 16) / align) * align;
      return seg;
    });
    const last = this.segs[this.segs.length - 1];
    this.partialCount = last.offset / 16 + last.P;
    this.scalars = ctx.device.createBuffer({
      label: 'optim scalars',
      size: SCALAR_SLOTS * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    // created zeroed (WebGPU zero-initialises buffers): the gaps between regions stay zero
    this.partials = ctx.device.createBuffer({ label: 'optim dot partials', size: this.partialCount * 16, usage: GPUBufferUsage.STORAGE });
  }

  /**
   * Compiles the vec_* pipelines (cached per device) and allocates the scalars and partials.
   * `n` is the vector length, or the lengths of its segments (see the header).
   */
  static async create(ctx: GpuContext, n: number | readonly number[], options: VecOpsOptions = {}): Promise<VecOps> {
    const segments = typeof n === 'number' ? [n] : n;
    if (!segments.length || segments.some((len) => !Number.isInteger(len) || len < 1)) {
      throw new Error(`VecOps: vector length (or every segment length) must be a positive integer, got ${segments.join(', ') || 'no segments'}`);
    }
    const wg = options.workgroupSize ?? 256;
    if (!(wg >= 1 && (wg & (wg - 1)) === 0 && wg <= ctx.device.limits.maxComputeInvocationsPerWorkgroup)) {
      throw new Error(`VecOps: workgroupSize must be a power of two <= ${ctx.device.limits.maxComputeInvocationsPerWorkgroup}, got ${wg}`);
    }
    const pipelines = new Map<Shader, GPUComputePipeline>();
    await Promise.all(
      (Object.keys(KERNELS) as Shader[]).map(async (k) => pipelines.set(k, await getPipeline(ctx, { shader: KERNELS[k].shader, constants: { ...KERNELS[k].constants, WG: wg } }))),
    );
    return new VecOps(ctx, segments, pipelines, options.maxPartials ?? 256, wg);
  }

  /** A vector of n f32 (zeroed): one storage buffer per segment, usable by every vec op and as copy source/destination. */
  createVector(label: string): GPUBuffer[] {
    return createVectorOf(this.ctx, this.segments, label);
  }

  /** Starts recording operations; nothing runs until batch.submit(). */
  batch(label: string): VecBatch {
    if (this.destroyed) throw new Error('VecOps used after destroy()');
    return new VecBatch(this, label);
  }

  /** Reads `count` scalar slots starting at `slot` (one small read-back). */
  readScalars(slot: number, count: number): Promise<Float32Array> {
    return readFloats(this.ctx, this.scalars, count, slot);
  }

  /** Reads the vec_dot result stored at slot..slot+3. */
  async readDot(slot: number): Promise<DotResult> {
    const r = await this.readScalars(slot, 4);
    return { dot: r[0], sumSq: r[1], maxAbs: r[2], nonFinite: r[3] };
  }

  /** Writes values into the scalar slots starting at `slot` (queued before the next submission). */
  writeScalars(slot: number, values: ArrayLike<number>): void {
    const data = Float32Array.from(values as ArrayLike<number>);
    this.ctx.device.queue.writeBuffer(this.scalars, slot * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  destroy(): void {
    this.destroyed = true;
    this.scalars.destroy();
    this.partials.destroy();
    for (const u of this.uniforms) u.destroy();
    this.uniforms.length = 0;
  }

  /** @internal encodes and submits one batch. */
  async submitOps(ops: Op[], label: string): Promise<void> {
    const { device } = this.ctx;
    // Uniform buffer k of the pool serves the k-th dispatch of this batch. The values are written
    // now, right before the submit: queue order makes that safe even though earlier submissions
    // used the same buffers with other values.
    let u = 0;
    const enc = device.createCommandEncoder({ label });
    let pass: Dispatch[] = [];
    const flush = () => {
      if (pass.length) encodeDispatches(enc, pass);
      pass = [];
    };
    for (const op of ops) {
      if (op.kind === 'copy') {
        flush();
        enc.copyBufferToBuffer(op.src, 0, op.dst, 0, op.bytes);
      } else if (op.kind === 'clear') {
        flush();
        enc.clearBuffer(op.buf, 0, op.bytes);
      } else {
        if (u === this.uniforms.length) {
          this.uniforms.push(device.createBuffer({ label: `optim params ${u}`, size: UNIFORM_WORDS * 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }));
        }
        const uniform = this.uniforms[u++];
        const data = new ArrayBuffer(UNIFORM_WORDS * 4);
        const wu = new Uint32Array(data);
        const wf = new Float32Array(data);
        op.words.forEach((w, i) => {
          if (op.floats[i]) wf[i] = w;
          else wu[i] = w;
        });
        device.queue.writeBuffer(uniform, 0, data);
        const pipeline = this.pipelines.get(op.shader)!;
        const bindGroup = device.createBindGroup({
          label: op.shader,
          layout: pipeline.getBindGroupLayout(0),
          entries: [uniform, ...op.buffers].map((b, binding) => ({ binding, resource: 'offset' in b ? b : { buffer: b } })),
        });
        pass.push({ label: op.shader, pipeline, bindGroup, workgroups: op.workgroups });
      }
    }
    flush();
    await submitChecked(this.ctx, [enc.finish()], label);
  }
}

function coefWords(c: Coef): { words: number[]; floats: boolean[] } {
  const value = c.c ?? 1;
  if (!Number.isFinite(value)) throw new Error(`vec op coefficient must be finite, got ${value}`);
  return { words: [0, value, c.plus ?? NONE, c.minus ?? NONE], floats: [false, true, false, false] };
}

/** Operations recorded in order and submitted together. */
export class VecBatch {
  private readonly ops: Op[] = [];
  private submitted = false;

  constructor(
    private readonly v: VecOps,
    private readonly label: string,
  ) {}

  private grid(n: number): [number, number, number] {
    return [Math.max(1, Math.min(65535, Math.ceil(n / this.v.wg))), 1, 1];
  }

  /** Checks that each vector has one buffer per segment. */
  private check(...vs: GpuVec[]): void {
    for (const v of vs) {
      if (v.length !== this.v.segs.length) throw new Error(`vec op: a vector of ${v.length} buffer(s) given to VecOps of ${this.v.segs.length} segment(s)`);
    }
  }

  /** One dispatch of `shader` per segment; `buffers(k)` binds segment k. */
  private perSegment(shader: Shader, words: number[], floats: boolean[], buffers: (k: number) => Binding[]): this {
    for (const [k, seg] of this.v.segs.entries()) {
      const w = [...words];
      w[0] = seg.n;
      this.ops.push({ kind: 'dispatch', shader, words: w, floats, buffers: buffers(k), workgroups: this.grid(seg.n) });
    }
    return this;
  }

  /** y += a x (x, y distinct vectors of n f32). */
  axpy(y: GpuVec, x: GpuVec, coef: Coef): this {
    this.check(x, y);
    const { words, floats } = coefWords(coef);
    return this.perSegment('vec_axpy', words, floats, (k) => [x[k], y[k], this.v.scalars]);
  }

  /** y = a x (x, y distinct vectors of n f32). */
  scaleCopy(y: GpuVec, x: GpuVec, coef: Coef): this {
    this.check(x, y);
    const { words, floats } = coefWords(coef);
    return this.perSegment('vec_scale_copy', words, floats, (k) => [x[k], y[k], this.v.scalars]);
  }

  /**
   * S[dst..dst+3] = (a.b, a.a, max|a|, non-finite count); with `scaled`, also
   * S[scaled.dst] = S[scaled.by] * a.b. One vec_dot per segment, then one vec_dot_finish.
   */
  dot(a: GpuVec, b: GpuVec, dst: number, scaled?: { dst: number; by: number }): this {
    this.check(a, b);
    for (const [k, seg] of this.v.segs.entries()) {
      const partials = this.v.segs.length === 1 ? this.v.partials : { buffer: this.v.partials, offset: seg.offset, size: seg.P * 16 };
      this.ops.push({ kind: 'dispatch', shader: 'vec_dot', words: [seg.n], floats: [false], buffers: [a[k], b[k], partials], workgroups: [seg.P, 1, 1] });
    }
    this.ops.push({
      kind: 'dispatch',
      shader: 'vec_dot_finish',
      words: [this.v.partialCount, dst, scaled?.dst ?? NONE, scaled?.by ?? 0],
      floats: [false, false, false, false],
      buffers: [this.v.partials, this.v.scalars],
      workgroups: [1, 1, 1],
    });
    return this;
  }

  /** One Adam step (vec_adam): x, m, v updated in place from g; bc1, bc2 the bias corrections. */
  adam(x: GpuVec, m: GpuVec, v: GpuVec, g: GpuVec, p: { lr: number; beta1: number; beta2: number; eps: number; bc1: number; bc2: number }): this {
    this.check(x, m, v, g);
    const words = [0, p.lr, p.beta1, p.beta2, 1 - p.beta1, 1 - p.beta2, p.eps, p.bc1, p.bc2];
    return this.perSegment('vec_adam', words, [false, true, true, true, true, true, true, true, true], (k) => [g[k], x[k], m[k], v[k]]);
  }

  /** dst = src (n f32). */
  copy(dst: GpuVec, src: GpuVec): this {
    this.check(dst, src);
    for (const [k, seg] of this.v.segs.entries()) this.ops.push({ kind: 'copy', src: src[k], dst: dst[k], bytes: seg.n * 4 });
    return this;
  }

  /** v = 0 (its n f32). */
  clear(v: GpuVec): this {
    this.check(v);
    for (const [k, seg] of this.v.segs.entries()) this.ops.push({ kind: 'clear', buf: v[k], bytes: seg.n * 4 });
    return this;
  }

  /** Number of compute dispatches recorded (for tests and logs). */
  get dispatchCount(): number {
    return this.ops.filter((o) => o.kind === 'dispatch').length;
  }

  /** Encodes everything into one command buffer and submits it (validation-checked). */
  submit(): Promise<void> {
    if (this.submitted) throw new Error(`batch ${this.label} submitted twice`);
    this.submitted = true;
    return this.v.submitOps(this.ops, this.label);
  }
}

/** Uploads n floats as a vector of the given segments (one storage buffer each). */
export function uploadVector(ctx: GpuContext, data: Float32Array, segments: readonly number[], label: string): GPUBuffer[] {
  const n = segments.reduce((a, b) => a + b, 0);
  if (data.length !== n) throw new Error(`uploadVector ${label}: ${data.length} values for segments adding up to ${n}`);
  let o = 0;
  return segments.map((len, k) => {
    const buf = uploadStorage(ctx, data.subarray(o, o + len), segments.length > 1 ? `${label} [segment ${k}]` : label);
    o += len;
    return buf;
  });
}

/** A zeroed vector of the given segments. */
export function createVectorOf(ctx: GpuContext, segments: readonly number[], label: string): GPUBuffer[] {
  return segments.map((len, k) => createStorage(ctx, len * 4, segments.length > 1 ? `${label} [segment ${k}]` : label));
}

/** Reads a whole vector back: its segments (lengths `segments`) concatenated. */
export async function readVector(ctx: GpuContext, v: GpuVec, segments: readonly number[]): Promise<Float32Array<ArrayBuffer>> {
  if (v.length !== segments.length) throw new Error(`readVector: ${v.length} buffer(s) for ${segments.length} segment(s)`);
  const out = new Float32Array(segments.reduce((a, b) => a + b, 0));
  let o = 0;
  for (const [k, len] of segments.entries()) {
    out.set(await readFloats(ctx, v[k], len), o);
    o += len;
  }
  return out;
}

/** Destroys every buffer of a vector. */
export function destroyVector(v: GpuVec): void {
  for (const b of v) b.destroy();
}
