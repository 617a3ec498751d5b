// The benchmark's `kernels` section (bench/cases/kernels.ts) without timing anything: its option
// parsing (bench/lib/options.ts), and the tables, summary and report it renders from a small
// fabricated result (bench/lib/report.ts), and that latest.json keeps it (bench/lib/results.ts).
import { describe, expect, it } from 'vitest';
import { HELP, parseBenchArgs, SECTIONS } from '../bench/lib/options.ts';
import { computeSummary, formatResult, kernelsTables, markdownReport } from '../bench/lib/report.ts';
import { mergeLatest } from '../bench/lib/results.ts';
import { stats } from '../bench/lib/stats.ts';
import type { BenchResult, KernelSiteRow } from '../bench/lib/types.ts';

describe('bench options: the kernels section', () => {
  it('is a section of --only, in the full and the --quick default, and described in --help', () => {
    expect(SECTIONS).toContain('kernels');
    expect(parseBenchArgs(['--only', 'kernels']).sections).toEqual(['kernels']);
    expect(parseBenchArgs(['--only', 'eval,kernels']).sections).toEqual(['eval', 'kernels']);
    expect(parseBenchArgs([]).sections).toContain('kernels');
    expect(parseBenchArgs(['--quick']).sections).toContain('kernels');
    expect(() => parseBenchArgs(['--only', 'kernel'])).toThrow(/--only: unknown "kernel"/);
    expect(HELP).toMatch(/^ {2}kernels {3}the conv kernel table at the eval size/m);
  });
  it('runs at the eval size: 400x533 by default, 96x128 with --quick, --eval-size / --size honoured', () => {
    expect(parseBenchArgs(['--only', 'kernels']).evalSize).toEqual([400, 533]);
    expect(parseBenchArgs(['--only', 'kernels', '--quick']).evalSize).toEqual([96, 128]);
    expect(parseBenchArgs(['--only', 'kernels', '--quick', '--eval-size', '64x80']).evalSize).toEqual([64, 80]);
    expect(parseBenchArgs(['--only', 'kernels', '--size', '200x266']).evalSize).toEqual([200, 266]);
    const q = parseBenchArgs(['--only', 'kernels', '--quick']);
    expect([q.trials, q.warmup, q.evalTrials, q.evalWarmup]).toEqual([2, 1, 1, 1]);
  });
});

const st = (...xs: number[]) => stats(xs);

/** A fabricated result with a kernels section: three sites, one where tuned is slower, one failed candidate, a "v9" the code must not know of. */
function fabricated(): BenchResult {
  const rows: KernelSiteRow[] = [
    {
      layer: 'block1_conv1', direction: 'forward', shape: '96x128 3->64', defaultVersion: 'v3', tunedVersion: 'v3', tunedWhy: 'tuned: default v3 kept (no candidate > 5 % faster)',
      ms: { v3: st(2, 2.2), v7: st(4, 4.1), v8: null }, fastest: 'v3', tunedVsDefault: 1, tunedSlower: false, note: 'v8 failed: fake',
    },
    {
      layer: 'block1_conv2', direction: 'forward', shape: '96x128 64->64', defaultVersion: 'v7', tunedVersion: 'v8', tunedWhy: 'tuned: v8 1.20x faster than the default v7 (confirmed: 4 rows 1.50x, 32 rows 1.20x)',
      ms: { v7: st(10, 10.5), v3: st(14, 14), v8: st(11, 11.2), v9: st(9, 9.5) }, tunerMs: { v7: 9, v8: 7.5 }, fastest: 'v9', tunedVsDefault: 1.1, tunedSlower: true,
    },
    {
      layer: 'block1_conv2', direction: 'backward', shape: '96x128 64->64', defaultVersion: 'v7', tunedVersion: 'v10' as string, tunedWhy: 'tuned: v10 2.00x faster than the default v7',
      ms: { v7: st(12, 12), v10: st(6, 6) }, fastest: 'v10', tunedVsDefault: 0.5, tunedSlower: false,
    },
  ];
  const sections: BenchResult['sections'] = {
    kernels: {
      date: '2026-12-05T10:00:00.000Z', size: [96, 128], options: { preset: 'notebook', trials: 2, warmup: 1, quick: true }, seconds: 30, rows, tuneSeconds: 4.5,
      evaluation: [
        { table: 'default', size: [96, 128], ms: st(400, 410), loss: 1.2345678e9, sitesChanged: 0, vsDefault: 1 },
        { table: 'tuned', size: [96, 128], ms: st(380, 390), loss: 1.2345679e9, sitesChanged: 2, vsDefault: 0.95, note: 'loss vs the default table\'s: 8.1e-8 relative' },
      ],
    },
  };
  const r: BenchResult = {
    date: '2026-12-05T10:00:00.000Z', env: 'node', adapter: 'fake adapter', timing: 'wall', versions: { node: 'v20' }, host: {}, options: {}, backends: [], seconds: 30, summary: {}, rows: [], sections,
  };
  r.summary = computeSummary(r, 'v7');
  return r;
}

describe('bench report: the kernels section', () => {
  it('summary: sites changed, tuned slower (with the worst), the evaluation ratio', () => {
    expect(fabricated().summary).toMatchObject({
      kernelsSize: '96x128',
      kernelsSites: 3,
      kernelsSitesTunedChanged: 2,
      kernelsTunedSlowerSites: 1,
      kernelsWorstTunedSite: 'block1_conv2 forward v8 vs v7: 1.10x',
      kernelsTunedEvalVsDefault: 0.95,
    });
  });

  it('the site table: one column per version timed anywhere (in version order, v10 after v9), D/T marks, failed, SLOWER', () => {
    const [sites, evals] = kernelsTables(fabricated());
    expect(sites.headers).toEqual(['layer', 'direction', 'shape', 'default', 'tuned', 'v3 ms', 'v7 ms', 'v8 ms', 'v9 ms', 'v10 ms', 'fastest', 'tuned / default', 'tuned slower', 'tuner']);
    expect(sites.cells[0].slice(0, 10)).toEqual(['block1_conv1', 'forward', '96x128 3->64', 'v3', 'v3', '2.10 DT', '4.05', 'failed', '', '']);
    expect(sites.cells[0].slice(10, 13)).toEqual(['v3', '1.00x', 'no']);
    expect(sites.cells[0][13]).toMatch(/default v3 kept.*; v8 failed: fake/);
    expect(sites.cells[1].slice(5, 13)).toEqual(['14.0', '10.3 D', '11.1 T', '9.25', '', 'v9', '1.10x', 'SLOWER']);
    expect(sites.cells[2].slice(5, 13)).toEqual(['', '12.0 D', '', '', '6.00 T', 'v10', '0.50x', 'no']);
    expect(sites.title).toMatch(/at 96x128.*private cache, 4\.5 s/);
    expect(evals.headers).toEqual(['kernel table', 'size', 'median', 'min', 'vs default', 'sites changed', 'loss', 'note']);
    expect(evals.cells.map((c) => c.slice(0, 6))).toEqual([
      ['default', '96x128', '405 ms', '400 ms', '1.000x', '0'],
      ['tuned', '96x128', '385 ms', '380 ms', '0.950x', '2'],
    ]);
  });

  it('report.md and the terminal report carry both tables and the summary line', () => {
    const r = fabricated();
    const md = markdownReport(r);
    expect(md).toMatch(/^## The conv kernel table at 96x128/m);
    expect(md).toMatch(/^\| layer \| direction \| shape \| default \| tuned \| v3 ms \|/m);
    expect(md).toMatch(/^\| block1_conv2 \| forward \| 96x128 64->64 \| v7 \| v8 \| 14\.0 \| 10\.3 D \| 11\.1 T \| 9\.25 \|  \| v9 \| 1\.10x \| SLOWER \|/m);
    expect(md).toMatch(/^## One loss-and-gradient evaluation at 96x128 \(notebook\) with each kernel table/m);
    expect(md).toMatch(/^\| tuned \| 96x128 \| 385 ms \| 380 ms \| 0\.950x \| 2 \|/m);
    expect(md).toMatch(/kernel table at 96x128: the tuner changed 2 of 3 conv sites; tuned slower than the default at 1 .*worst block1_conv2 forward v8 vs v7: 1\.10x.*tuned \/ default table: 0\.950x/);
    const txt = formatResult(r);
    expect(txt).toMatch(/The conv kernel table at 96x128/);
    expect(txt).toMatch(/SLOWER/);
  });

  it('latest.json keeps a kernels section from an earlier run of the same adapter (carriedFrom)', () => {
    const prev = fabricated();
    const run: BenchResult = { ...fabricated(), date: '2026-12-06T10:00:00.000Z', sections: {} };
    const merged = mergeLatest(run, prev);
    expect(merged.sections.kernels?.carriedFrom).toBe(prev.sections.kernels!.date);
    expect(merged.summary.kernelsTunedSlowerSites).toBe(1);
    expect(markdownReport(merged)).toMatch(/\[from the run of 2026-12-05T10:00:00\.000Z\]/);
  });
});
