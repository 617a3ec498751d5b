// CPU reference of relu_backward: g = dy * (y > 0).
export function reluBackwardCpu(dy: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const g = new Float64Array(dy.length);
  for (let i = 0; i < g.length; i++) g[i] = y[i] > 0 ? dy[i] : 0;
  return g;
}
