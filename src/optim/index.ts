// The optimizers: L-BFGS (lbfgs.ts) and Adam (adam.ts) on GPU-resident vectors, with the
// Objective interface they minimize (types.ts). Lower layers: the strong-Wolfe line search
// (line_search.ts), the GPU L-BFGS memory and two-loop recursion (lbfgs_history.ts), and the
// vector kernels' wrappers (vecops.ts, shaders/vec_*.wgsl).
export type { IterationInfo, Objective, OptimizeOptions, OptimizeResult, StopReason } from './types.ts';
export { Lbfgs, type LbfgsOptions, minimizeLbfgs } from './lbfgs.ts';
export { type AdamOptions, minimizeAdam } from './adam.ts';
