// Trial statistics for the benchmark: warm-up runs are discarded, then median and min.
export interface Stats {
  median: number;
  min: number;
  trials: number[];
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], trials: xs };
}

/** Runs `fn` warmup times (discarded), then `trials` times; returns the statistics of its results. */
export async function measure(fn: () => Promise<number>, warmup: number, trials: number): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < trials; i++) out.push(await fn());
  return stats(out);
}

export interface Contender {
  /** one timed run; returns milliseconds */
  run: () => Promise<number>;
  warmup: number;
  trials: number;
}

/**
 * Times several implementations of the same thing, alternating them so that drift (thermal,
 * other processes on a shared machine) hits all of them alike: every contender's warm-up runs
 * first, then round r runs trial r of each contender that still has trials left. Returns one
 * Stats per contender, in order.
 */
export async function measureInterleaved(contenders: Contender[]): Promise<Stats[]> {
  const maxWarm = Math.max(0, ...contenders.map((c) => c.warmup));
  for (let r = 0; r < maxWarm; r++) for (const c of contenders) if (r < c.warmup) await c.run();
  const times: number[][] = contenders.map(() => []);
  const rounds = Math.max(0, ...contenders.map((c) => c.trials));
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of contenders.entries()) if (r < c.trials) times[i].push(await c.run());
  }
  return times.map(stats);
}

/** max |a - ref|, and that divided by max |ref| (the tests' scale-relative error). */
export function maxDiff(a: ArrayLike<number>, ref: ArrayLike<number>): { maxAbs: number; maxRel: number } {
  if (a.length !== ref.length) throw new Error(`maxDiff: lengths differ (${a.length} vs ${ref.length})`);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(a[i] - ref[i]);
    if (!(d <= maxAbs)) maxAbs = d; // NaN sticks
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs };
}

/** ||a - ref||_2 / ||ref||_2 */
export function relL2(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d2 = 0;
  let r2 = 0;
  for (let i = 0; i < ref.length; i++) {
    d2 += (a[i] - ref[i]) ** 2;
    r2 += ref[i] ** 2;
  }
  return r2 > 0 ? Math.sqrt(d2 / r2) : Math.sqrt(d2);
}

/** Seeded uniform values in [lo, hi) (a 32-bit LCG: fast, reproducible in Node and browsers). */
export function randomFill(n: number, seed: number, lo = -1, hi = 1): Float32Array<ArrayBuffer> {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return a;
}
