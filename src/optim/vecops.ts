// GPU vector operations for the optimizers: the TypeScript side of shaders/vec_*.wgsl.
//
// A VecOps object serves vectors of one length N. It owns
//   scalars   [SCALAR_SLOTS] f32   small values kernels write and read (dots, alpha_i, rho_i, ...)
//   partials  [P] vec4f            per-workgroup partial sums of vec_dot
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
//   vec_scale_copy  y  = a x            same coefficient rule
//   vec_dot         partial sums (a.b, a.a, max|a|, non-finite count) per workgroup
//   vec_dot_finish  reduce the partials into S[dst..dst+3], optionally S[scaledDst] = S[scaleSlot] * a.b
//   vec_adam        one Adam step on x, m, v

import type { GpuContext } from '../gpu/device.ts';
import { type Dispatch, encodeDispatches, getPipeline, readFloats, submitChecked } from '../gpu/runtime.ts';

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

export interface VecOpsOptions {
  /** Most workgroups of the first vec_dot pass (the partials count P). Default 256. */
  maxPartials?: number;
  /** Workgroup size of every vec kernel (the WGSL override WG), a power of two. Default 256. */
  workgroupSize?: number;
}

const SHADERS = ['vec_axpy', 'vec_scale_copy', 'vec_dot', 'vec_dot_finish', 'vec_adam'] as const;
type Shader = (typeof SHADERS)[number];

/** Uniform buffers are 48 bytes (12 words): the largest params struct (vec_adam's, 9 words) rounded up to 16 bytes. */
const UNIFORM_WORDS = 12;

type Op =
  | { kind: 'dispatch'; shader: Shader; words: number[]; floats: boolean[]; buffers: GPUBuffer[]; workgroups: [number, number, number] }
  | { kind: 'copy'; src: GPUBuffer; dst: GPUBuffer; bytes: number }
  | { kind: 'clear'; buf: GPUBuffer; bytes: number };

export class VecOps {
  readonly scalars: GPUBuffer;
  readonly partials: GPUBuffer;
  /** P, the number of vec_dot partials */
  readonly partialCount: number;
  private readonly uniforms: GPUBuffer[] = [];
  private destroyed = false;

  private constructor(
    readonly ctx: GpuContext,
    readonly n: number,
    private readonly pipelines: Map<Shader, GPUComputePipeline>,
    maxPartials: number,
    /** the workgroup size of every vec kernel */
    readonly wg: number,
  ) {
    this.partialCount = Math.max(1, Math.min(maxPartials, Math.ceil(n / wg), 65535));
    this.scalars = ctx.device.createBuffer({
      label: 'optim scalars',
      size: SCALAR_SLOTS * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.partials = ctx.device.createBuffer({ label: 'optim dot partials', size: this.partialCount * 16, usage: GPUBufferUsage.STORAGE });
  }

  /** Compiles the vec_* pipelines (cached per device) and allocates the scalars and partials. */
  static async create(ctx: GpuContext, n: number, options: VecOpsOptions = {}): Promise<VecOps> {
    if (!Number.isInteger(n) || n < 1) throw new Error(`VecOps: vector length must be a positive integer, got ${n}`);
    const wg = options.workgroupSize ?? 256;
    if (!(wg >= 1 && (wg & (wg - 1)) === 0 && wg <= ctx.device.limits.maxComputeInvocationsPerWorkgroup)) {
      throw new Error(`VecOps: workgroupSize must be a power of two <= ${ctx.device.limits.maxComputeInvocationsPerWorkgroup}, got ${wg}`);
    }
    const pipelines = new Map<Shader, GPUComputePipeline>();
    await Promise.all(SHADERS.map(async (shader) => pipelines.set(shader, await getPipeline(ctx, { shader, constants: { WG: wg } }))));
    return new VecOps(ctx, n, pipelines, options.maxPartials ?? 256, wg);
  }

  /** A storage buffer of n f32 (zeroed), usable by every vec op and as copy source/destination. */
  createVector(label: string): GPUBuffer {
    return this.ctx.device.createBuffer({
      label,
      size: Math.max(16, Math.ceil((this.n * 4) / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
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
          entries: [uniform, ...op.buffers].map((buffer, binding) => ({ binding, resource: { buffer } })),
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

  private grid(): [number, number, number] {
    return [Math.max(1, Math.min(65535, Math.ceil(this.v.n / this.v.wg))), 1, 1];
  }

  /** y += a x (x, y distinct buffers of n f32). */
  axpy(y: GPUBuffer, x: GPUBuffer, coef: Coef): this {
    const { words, floats } = coefWords(coef);
    words[0] = this.v.n;
    this.ops.push({ kind: 'dispatch', shader: 'vec_axpy', words, floats, buffers: [x, y, this.v.scalars], workgroups: this.grid() });
    return this;
  }

  /** y = a x (x, y distinct buffers of n f32). */
  scaleCopy(y: GPUBuffer, x: GPUBuffer, coef: Coef): this {
    const { words, floats } = coefWords(coef);
    words[0] = this.v.n;
    this.ops.push({ kind: 'dispatch', shader: 'vec_scale_copy', words, floats, buffers: [x, y, this.v.scalars], workgroups: this.grid() });
    return this;
  }

  /**
   * S[dst..dst+3] = (a.b, a.a, max|a|, non-finite count); with `scaled`, also
   * S[scaled.dst] = S[scaled.by] * a.b. Two dispatches (vec_dot, vec_dot_finish).
   */
  dot(a: GPUBuffer, b: GPUBuffer, dst: number, scaled?: { dst: number; by: number }): this {
    const P = this.v.partialCount;
    this.ops.push({ kind: 'dispatch', shader: 'vec_dot', words: [this.v.n], floats: [false], buffers: [a, b, this.v.partials], workgroups: [P, 1, 1] });
    this.ops.push({
      kind: 'dispatch',
      shader: 'vec_dot_finish',
      words: [P, dst, scaled?.dst ?? NONE, scaled?.by ?? 0],
      floats: [false, false, false, false],
      buffers: [this.v.partials, this.v.scalars],
      workgroups: [1, 1, 1],
    });
    return this;
  }

  /** One Adam step (vec_adam): x, m, v updated in place from g; bc1, bc2 the bias corrections. */
  adam(x: GPUBuffer, m: GPUBuffer, v: GPUBuffer, g: GPUBuffer, p: { lr: number; beta1: number; beta2: number; eps: number; bc1: number; bc2: number }): this {
    this.ops.push({
      kind: 'dispatch',
      shader: 'vec_adam',
      words: [this.v.n, p.lr, p.beta1, p.beta2, 1 - p.beta1, 1 - p.beta2, p.eps, p.bc1, p.bc2],
      floats: [false, true, true, true, true, true, true, true, true],
      buffers: [g, x, m, v],
      workgroups: this.grid(),
    });
    return this;
  }

  /** dst = src (n f32). */
  copy(dst: GPUBuffer, src: GPUBuffer): this {
    this.ops.push({ kind: 'copy', src, dst, bytes: this.v.n * 4 });
    return this;
  }

  /** buf = 0 (its first n f32). */
  clear(buf: GPUBuffer): this {
    this.ops.push({ kind: 'clear', buf, bytes: this.v.n * 4 });
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
