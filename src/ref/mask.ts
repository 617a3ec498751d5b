// CPU reference of mask_apply (Float64) and the masked-Gram style loss composed from the Gram
// references, for finite-difference checks.
import { gramBackwardCpu, gramCpu, styleLossCpu } from './gram.ts';

type Arr = ArrayLike<number>;

/** y [N, C] = prior + m [N] ⊙ x [N, C] (prior omitted: zeros). */
export function maskApplyCpu(x: Arr, m: Arr, N: number, C: number, prior?: Arr): Float64Array {
  const y = new Float64Array(N * C);
  for (let p = 0; p < N; p++)
    for (let c = 0; c < C; c++) {
      const i = p * C + c;
      y[i] = (prior ? prior[i] : 0) + m[p] * x[i];
    }
  return y;
}

/**
 * The masked style loss of one layer, L = factor * sum (G(m ⊙ F) - A)^2, and dL/dF:
 * F' = m ⊙ F, G = F'^T F', M = dL/dG + (dL/dG)^T, dL/dF' = F' M, dL/dF = m ⊙ dL/dF'.
 */
export function maskedStyleLossCpu(f: Arr, m: Arr, a: Arr, N: number, C: number, factor: number): { loss: number; grad: Float64Array } {
  const fm = maskApplyCpu(f, m, N, C);
  const { loss, m: M } = styleLossCpu(gramCpu(fm, N, C), a, factor);
  return { loss, grad: maskApplyCpu(gramBackwardCpu(fm, M, N, C), m, N, C) };
}
