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
