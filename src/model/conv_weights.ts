// The weight transform the model makes on the host (the weights are frozen, so the input
// gradient needs no per-evaluation work on them):
//   flipTranspose     wt[ky, kx, co, ci] = w[2-ky, 2-kx, ci, co]: the input gradient of a conv
//                     is a forward conv of the ReLU-masked gradient with wt (the direct versions
//                     v2-v6 read it; a layer makes it when a plan first runs one there)
// Its oracle is src/ref/conv3x3.ts flipTransposeCpu; test/kernels.test.ts compares them. The
// Winograd transforms U = G g G^T, of w and of its flip-transpose, are made on the device from
// the uploaded w (shaders/winograd_weights.wgsl, which reads w flipped for the input gradient;
// winogradKernel in src/kernels/conv3x3.ts; it was a host loop here, 0.7-1.4 s at load for F(2x2)
// and about twice that for F(4x4) on this machine, plus the upload of a result 16/9 or 36/9 the
// kernel's size). The runtime does not import src/ref/ (test/layering.test.ts).

/** wt = flipTranspose(w): w [3, 3, Cin, Cout] (HWIO) -> wt [3, 3, Cout, Cin]. */
export function flipTranspose(w: ArrayLike<number>, Cin: number, Cout: number): Float32Array<ArrayBuffer> {
  const wt = new Float32Array(9 * Cin * Cout);
  for (let tap = 0; tap < 9; tap++) {
    const src = (8 - tap) * Cin * Cout; // tap (ky, kx) reads (2-ky, 2-kx): 8 - (3ky + kx)
    const dst = tap * Cin * Cout;
    for (let ci = 0; ci < Cin; ci++) for (let co = 0; co < Cout; co++) wt[dst + co * Cin + ci] = w[src + ci * Cout + co];
  }
  return wt;
}
