// The autotuner's decisions (src/kernels/kernel_tune.ts) driven by a fake timer: no GPU, no real
// timings. A fake TuneTimer returns ms per run from a model of each version (a function of the
// rows timed), so the tests can say what the band step and the confirmation step must decide.
import { describe, expect, it } from 'vitest';
import type { ConvShape, ConvVersion } from '../src/kernels/conv3x3.ts';
import { bandWinner, beats, CONFIRM_FACTOR, confirmRows, MARGIN, REPS, rowsToTime, type TuneTimer, tuneShapes } from '../src/kernels/kernel_tune.ts';
import { useMemoryKernelCache, readKernelCache, writeKernelCache, TUNER_FORMAT } from '../src/kernels/kernel_cache.ts';

const cpu = { isCpuAdapter: true };
const S: ConvShape = { H: 400, W: 533, Cin: 64, Cout: 64 };

/** A fake timer: ms per run = model(version, rows); each measure() advances the clock by what it "ran". */
function fakeTimer(model: (v: ConvVersion, rows: number) => number, fail: ConvVersion[] = []) {
  let clock = 0;
  const calls: Array<{ rows: number; versions: ConvVersion[] }> = [];
  const timer: TuneTimer = {
    now: () => clock,
    async measure(s, _dir, versions, reps, mustRun, dropped) {
      calls.push({ rows: s.H, versions: [...versions] });
      const out = new Map<ConvVersion, number[]>();
      for (const v of versions) {
        if (fail.includes(v)) {
          if (v === mustRun) throw new Error(`${v} failed`);
          dropped(v, 'fake failure');
          continue;
        }
        // a little spread around the model, the same for every version: median = model, min = 0.98 x model
        const t = model(v, s.H);
        out.set(v, Array.from({ length: reps }, (_, i) => t * [1, 0.98, 1.02][i % 3]));
        clock += t * (reps + 1);
      }
      return out;
    },
  };
  return { timer, calls };
}

describe('kernel tuner: band and confirmation (fake timer)', () => {
  it('rowsToTime and confirmRows: even bands, the confirmation >= CONFIRM_FACTOR x the band, full shape when cheap', () => {
    const rows = rowsToTime(cpu, S);
    expect(rows).toBe(4); // 64->64 at 533 columns: 39 MFLOP a row, the 6e7 budget gives the minimum
    // default at 2 ms for 4 rows: 0.5 ms a row, 100 ms -> 200 rows
    expect(confirmRows(cpu, S, rows, 2)).toBe(200);
    // slow rows: the floor is CONFIRM_FACTOR x the band
    expect(confirmRows(cpu, S, rows, 400)).toBe(CONFIRM_FACTOR * rows);
    // cheap shape: the whole shape
    expect(confirmRows(cpu, S, rows, 0.01)).toBe(S.H);
    expect(confirmRows({ isCpuAdapter: false }, S, rows, 2)).toBe(16); // GPU: 5 ms -> 10 rows, floor 16
  });

  it('beats / bandWinner: median and fastest run both below MARGIN x the default; the fastest such wins', () => {
    expect(MARGIN).toBe(0.95);
    expect(beats([9, 9, 9], [10, 10, 10])).toBe(true);
    expect(beats([9.6, 9.6, 9.6], [10, 10, 10])).toBe(false); // 4 % faster: not enough
    expect(beats([9, 9, 5], [10, 10, 10])).toBe(true);
    expect(beats([9, 9, 9], [10, 10, 8])).toBe(false); // the default's fastest run is faster
    const times = new Map<ConvVersion, number[]>([
      ['v7', [10, 10, 10]],
      ['v3', [12, 12, 12]],
      ['v8', [6, 6, 6]],
      ['v6', [8, 8, 8]],
    ]);
    expect(bandWinner(times, 'v7')).toBe('v8');
    expect(bandWinner(new Map([['v7', [10]], ['v3', [12]]]), 'v7')).toBeUndefined();
  });

  it('a band winner that is not faster on the larger band keeps the default (the v8-at-400x533 case)', async () => {
    // v8 is 1.9x faster on a 4-row band, 1.02x slower on more rows (the caches)
    const { timer, calls } = fakeTimer((v, rows) => (v === 'v8' ? (rows <= 8 ? 0.53 : 1.02) : 1) * rows);
    const lines: string[] = [];
    const [r] = await tuneShapes(cpu, [{ shape: S, direction: 'forward', defaultVersion: 'v7', candidates: ['v7', 'v3', 'v8'] }], (l) => lines.push(l), timer);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toEqual({ rows: 4, versions: ['v7', 'v3', 'v8'] });
    expect(calls[1].versions).toEqual(['v7', 'v8']);
    expect(calls[1].rows).toBeGreaterThanOrEqual(CONFIRM_FACTOR * 4);
    expect(r.entry.version).toBe('v7');
    expect(r.entry.why).toMatch(/default v7 kept: v8 won the band but not the confirmation/);
    expect(r.entry.rowsTimed).toBe(4);
    expect(r.entry.rowsConfirmed).toBe(calls[1].rows);
    // the confirmed pair's ms come from the larger band: v8 now above v7; v3 from the band
    expect(r.entry.ms.v8!).toBeGreaterThan(r.entry.ms.v7!);
    expect(r.entry.ms.v3).toBeCloseTo(400, 6);
    expect(lines.join('\n')).toMatch(/4\/\d+ of 400 rows timed/);
  });

  it('a band winner confirmed on the larger band replaces the default', async () => {
    const { timer, calls } = fakeTimer((v, rows) => (v === 'v8' ? 0.7 : v === 'v3' ? 1.5 : 1) * rows);
    const [r] = await tuneShapes(cpu, [{ shape: S, direction: 'backward', defaultVersion: 'v7', candidates: ['v7', 'v3', 'v8'] }], undefined, timer);
    expect(calls).toHaveLength(2);
    expect(r.entry.version).toBe('v8');
    expect(r.entry.why).toMatch(/tuned: v8 1\.43x faster than the default v7 \(confirmed: 4 rows 1\.43x, \d+ rows 1\.43x\)/);
    expect(r.entry.ms.v8! / r.entry.ms.v7!).toBeCloseTo(0.7, 6);
  });

  it('the confirmation asks for the fastest run too: one lucky fast run of the default keeps it, and the reason says so', async () => {
    const base = fakeTimer((v, rows) => (v === 'v8' ? 0.7 : 1) * rows);
    let n = 0;
    const timer: TuneTimer = {
      now: base.timer.now,
      async measure(s, d, versions, reps, mustRun, dropped) {
        const t = await base.timer.measure(s, d, versions, reps, mustRun, dropped);
        if (n++ === 1) t.get('v7')![1] = 0.6 * s.H; // the default's second run at the larger band: faster than any of v8's
        return t;
      },
    };
    const [r] = await tuneShapes(cpu, [{ shape: S, direction: 'forward', defaultVersion: 'v7', candidates: ['v7', 'v8'] }], undefined, timer);
    expect(r.entry.version).toBe('v7');
    expect(r.entry.why).toMatch(/v8 won the band but not the confirmation \(4 rows 1\.43x, \d+ rows 1\.43x \(fastest runs 0\.87x\)/);
  });

  it('no band winner: no confirmation; a band that is the full shape needs none either', async () => {
    const f1 = fakeTimer((v, rows) => (v === 'v3' ? 0.97 : 1) * rows); // 3 % faster: not a winner
    const [a] = await tuneShapes(cpu, [{ shape: S, direction: 'forward', defaultVersion: 'v7', candidates: ['v7', 'v3'] }], undefined, f1.timer);
    expect(f1.calls).toHaveLength(1);
    expect(a.entry).toMatchObject({ version: 'v7', rowsTimed: 4 });
    expect(a.entry.rowsConfirmed).toBeUndefined();
    const small: ConvShape = { H: 4, W: 6, Cin: 64, Cout: 64 };
    const f2 = fakeTimer((v, rows) => (v === 'v3' ? 0.5 : 1) * rows);
    const [b] = await tuneShapes(cpu, [{ shape: small, direction: 'forward', defaultVersion: 'v7', candidates: ['v7', 'v3'] }], undefined, f2.timer);
    expect(f2.calls).toHaveLength(1);
    expect(b.entry.version).toBe('v3');
  });

  it('a winner that fails at the larger band keeps the default; a failing default throws', async () => {
    let n = 0;
    const base = fakeTimer((v, rows) => (v === 'v8' ? 0.5 : 1) * rows);
    const timer: TuneTimer = {
      now: base.timer.now,
      measure: (s, d, versions, reps, mustRun, dropped) => (n++ === 0 ? base.timer.measure(s, d, versions, reps, mustRun, dropped) : fakeTimer(() => 1, ['v8']).timer.measure(s, d, versions, reps, mustRun, dropped)),
    };
    const lines: string[] = [];
    const [r] = await tuneShapes(cpu, [{ shape: S, direction: 'forward', defaultVersion: 'v7', candidates: ['v7', 'v8'] }], (l) => lines.push(l), timer);
    expect(r.entry.version).toBe('v7');
    expect(lines.some((l) => /v8 dropped: fake failure/.test(l))).toBe(true);
    await expect(tuneShapes(cpu, [{ shape: S, direction: 'forward', defaultVersion: 'v7', candidates: ['v7'] }], undefined, fakeTimer(() => 1, ['v7']).timer)).rejects.toThrow(/v7 failed/);
  });

  it('the budget: the largest shapes first; once 5 s are spent the rest are not tuned (not returned)', async () => {
    // every measure() costs (reps + 1) x 1000 ms per version at these sizes: the first shape spends the budget
    const { timer, calls } = fakeTimer((v, rows) => 1000 * (v === 'v3' ? 2 : 1) + rows * 0);
    const shapes: ConvShape[] = [
      { H: 8, W: 8, Cin: 64, Cout: 64 },
      { H: 100, W: 100, Cin: 64, Cout: 64 },
    ];
    const out = await tuneShapes(cpu, shapes.map((shape) => ({ shape, direction: 'forward' as const, defaultVersion: 'v7' as const, candidates: ['v7', 'v3'] as ConvVersion[] })), undefined, timer);
    expect(out.map((o) => o.shape.H)).toEqual([100]);
    expect(calls[0].rows).toBe(rowsToTime(cpu, shapes[1]));
    expect(REPS).toBe(3);
  });
});

describe('kernel cache: the private in-memory store', () => {
  it('useMemoryKernelCache(true) starts empty, keeps what is written in memory only, false goes back to the file', async () => {
    useMemoryKernelCache(true);
    try {
      expect((await readKernelCache()).adapters).toEqual({});
      await writeKernelCache('fake adapter', { 'forward 4x4 8->8': { version: 'v3', why: 'test', ms: { v3: 1 }, rowsTimed: 4 } });
      const f = await readKernelCache();
      expect(f.format).toBe(TUNER_FORMAT);
      expect(f.adapters['fake adapter']['forward 4x4 8->8'].version).toBe('v3');
    } finally {
      useMemoryKernelCache(false);
    }
    expect((await readKernelCache()).adapters['fake adapter']).toBeUndefined();
  });
});
