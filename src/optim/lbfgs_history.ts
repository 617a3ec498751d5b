// The L-BFGS memory on the GPU: up to m pairs (s_i, y_i) = (x_{i+1} - x_i, g_{i+1} - g_i), each a
// vector of n f32 (GpuVec: a buffer per segment), and the two-loop recursion that turns a gradient g into the search direction
//   d = -H g
// (Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.4; H0 = gamma I with
// gamma = s.y / y.y of the newest pair, as in PyTorch's LBFGS and scipy's L-BFGS-B).
//
// The whole recursion is encoded into ONE submission: alpha_i = rho_i s_i.q and
// beta_i = rho_i y_i.r are computed by vec_dot + vec_dot_finish into scalar slots and read from
// there by vec_axpy, so nothing comes back to the CPU in the middle. 6 dispatches per pair
// (3 per loop) + 2 + 2 for the final d.g reduction: 64 for m = 10. rho_i and gamma are written
// by the CPU, which reads y.s and y.y back anyway for the curvature test.
//
// Slots: m + 1 buffer pairs. A candidate pair is always written into the spare slot; accepting
// it makes the spare the newest pair and the evicted oldest pair (if full) the new spare, so a
// rejected candidate never damages the stored history.
// CPU reference: twoLoopCpu in src/ref/vec.ts.

import { ALPHA, BETA, GAMMA, MAX_HISTORY_SLOTS, R_EVAL, R_PAIR, R_SCRATCH, RHO, type GpuVec, type VecBatch, type VecOps } from './vecops.ts';

export class LbfgsHistory {
  private readonly s: GPUBuffer[][] = [];
  private readonly y: GPUBuffer[][] = [];
  /** slots holding pairs, oldest first */
  private order: number[] = [];
  private spare = 0;
  /** scratch vector q of the first loop */
  private readonly q: GPUBuffer[];

  constructor(
    private readonly ops: VecOps,
    /** m, the number of pairs kept */
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1 || size + 1 > MAX_HISTORY_SLOTS) {
      throw new Error(`L-BFGS history size must be an integer in 1..${MAX_HISTORY_SLOTS - 1}, got ${size}`);
    }
    for (let i = 0; i <= size; i++) {
      this.s.push(ops.createVector(`lbfgs s[${i}]`));
      this.y.push(ops.createVector(`lbfgs y[${i}]`));
    }
    this.q = ops.createVector('lbfgs q');
  }

  /** pairs stored */
  get length(): number {
    return this.order.length;
  }

  reset(): void {
    this.order = [];
    this.spare = 0;
  }

  /**
   * Records the candidate pair s = t d, y = gNew - gOld into the spare slot and reduces it:
   * R_PAIR = (y.s, y.y, max|y|, non-finite count). Read R_PAIR, then accept() or drop it.
   */
  recordCandidate(batch: VecBatch, d: GpuVec, t: number, gNew: GpuVec, gOld: GpuVec): void {
    const k = this.spare;
    batch.scaleCopy(this.s[k], d, { c: t });
    batch.scaleCopy(this.y[k], gNew, { c: 1 });
    batch.axpy(this.y[k], gOld, { c: -1 });
    batch.dot(this.y[k], this.s[k], R_PAIR);
  }

  /** Makes the candidate the newest pair, given its y.s (> 0) and y.y. */
  accept(ys: number, yy: number): void {
    const k = this.spare;
    this.ops.writeScalars(RHO(k), [1 / ys]);
    this.ops.writeScalars(GAMMA, [ys / yy]);
    this.order.push(k);
    if (this.order.length > this.size) {
      this.spare = this.order.shift()!;
    } else {
      this.spare = this.order.length; // slots 0..length-1 are in use, in some order, when not full
      // (after a reset the order is 0, 1, 2, ... so the next free slot is its length)
    }
  }

  /**
   * Encodes d = -H g (d = -g with an empty history), then R_EVAL = (d.g, d.d, max|d|, non-finite
   * count of d and g). d must not be g.
   */
  encodeDirection(batch: VecBatch, g: GpuVec, d: GpuVec): void {
    const k = this.order.length;
    if (k === 0) {
      batch.scaleCopy(d, g, { c: -1 });
    } else {
      const q = this.q;
      batch.scaleCopy(q, g, { c: -1 });
      for (let j = k - 1; j >= 0; j--) {
        const h = this.order[j];
        // alpha_h = rho_h s_h.q ;  q -= alpha_h y_h
        batch.dot(this.s[h], q, R_SCRATCH, { dst: ALPHA(h), by: RHO(h) });
        batch.axpy(q, this.y[h], { c: -1, plus: ALPHA(h) });
      }
      // r = gamma q
      batch.scaleCopy(d, q, { c: 1, plus: GAMMA });
      for (let j = 0; j < k; j++) {
        const h = this.order[j];
        // beta = rho_h y_h.r ;  r += (alpha_h - beta) s_h
        batch.dot(this.y[h], d, R_SCRATCH, { dst: BETA, by: RHO(h) });
        batch.axpy(d, this.s[h], { c: 1, plus: ALPHA(h), minus: BETA });
      }
    }
    batch.dot(d, g, R_EVAL);
  }

  destroy(): void {
    for (const b of [...this.s, ...this.y, this.q].flat()) b.destroy();
  }
}
