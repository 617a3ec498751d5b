// Shared test helpers: one GPU context per test file, seeded random data, and a comparison
// that reports the max error and the first mismatches (tolerance atol + rtol*|ref|).
import { acquireGpu, type GpuContext } from '../src/gpu/device.ts';
import { mulberry32 } from '../src/image/random.ts';

let ctxPromise: Promise<GpuContext> | null = null;
export function gpu(): Promise<GpuContext> {
  if (!ctxPromise) ctxPromise = acquireGpu();
  return ctxPromise;
}

/** Uniform random values in [lo, hi), deterministic for a seed. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array<ArrayBuffer> {
  const r = mulberry32(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

export interface Comparison {
  maxAbs: number;
  maxRel: number;
  worst: number;
  mismatches: string[];
  ok: boolean;
}

/** Compares got against ref: element i passes when |got-ref| <= atol + rtol*|ref|. */
export function compare(got: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number, label = ''): Comparison {
  if (got.length < ref.length) throw new Error(`${label}: got ${got.length} values, expected ${ref.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    const okHere = d <= atol + rtol * Math.abs(ref[i]);
    if (!(d <= maxAbs)) maxAbs = d;
    const rel = d / Math.max(Math.abs(ref[i]), 1e-30);
    if (Math.abs(ref[i]) > atol && rel > maxRel) maxRel = rel;
    const ratio = d / (atol + rtol * Math.abs(ref[i]));
    if (!(ratio <= worst)) worst = ratio;
    if (!okHere && mismatches.length < 5) mismatches.push(`[${i}] got ${got[i]} ref ${ref[i]}`);
  }
  return { maxAbs, maxRel, worst, mismatches, ok: mismatches.length === 0 };
}

export function report(label: string, c: Comparison): string {
  return `${label}: max abs err ${c.maxAbs.toExponential(2)}, max rel err ${c.maxRel.toExponential(2)}, worst/tol ${c.worst.toFixed(3)}${c.ok ? '' : `; mismatches: ${c.mismatches.join('; ')}`}`;
}

const recorded: string[] = [];
/** Records a comparison for the end-of-file error summary (max errors are reported even on success). */
export function record(label: string, c: Comparison): Comparison {
  recorded.push(report(label, c));
  return c;
}
/** Prints every recorded comparison (call from afterAll). */
export function printRecorded(title: string): void {
  if (recorded.length) console.log(`${title}\n  ${recorded.join('\n  ')}`);
  recorded.length = 0;
}
