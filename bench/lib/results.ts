// Saving results (Node): bench/results/bench-<date>.json for every run (git-ignored), and
// latest.json + report.md + chart.svg (tracked).
//
// latest.json holds the latest figure of each section: a run that did not run a section
// (`--only eval`, `--quick` without e2e, ...) keeps that section from the previous latest.json,
// marked `carriedFrom: <date>`, provided the adapter is the same; and a --quick section does not
// replace one from a full run (the quick figures stay in their bench-<date>.json). The summary is
// recomputed from the merged sections. report.md and chart.svg are regenerated from latest.json.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartSvg } from './chart.ts';
import { computeSummary, markdownReport } from './report.ts';
import type { BenchResult } from './types.ts';

const SECTION_KEYS = ['ceiling', 'ops', 'eval', 'e2e', 'memory', 'banding', 'kernels'] as const;

function readLatest(file: string): BenchResult | null {
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
    return r && typeof r === 'object' && r.sections ? r : null; // the engine bench's older format has no sections
  } catch {
    return null;
  }
}

/** The run merged over the previous latest.json (see the header). */
export function mergeLatest(run: BenchResult, prev: BenchResult | null): BenchResult {
  const merged: BenchResult = { ...run, sections: { ...run.sections } };
  if (prev && prev.adapter === run.adapter && prev.env === run.env) {
    for (const k of SECTION_KEYS) {
      const p = prev.sections[k];
      const mine = merged.sections[k];
      // a --quick section never replaces a full-run one (it is in its own bench-<date>.json)
      const keepPrev = p && (!mine || (mine.options.quick === true && p.options.quick !== true));
      if (keepPrev) (merged.sections as Record<string, unknown>)[k] = { ...p, carriedFrom: p.carriedFrom ?? p.date };
    }
    const have = new Set(run.backends.map((b) => b.name));
    merged.backends = [...run.backends, ...prev.backends.filter((b) => !have.has(b.name))];
  }
  merged.rows = [...(merged.sections.ceiling?.rows ?? []), ...(merged.sections.ops?.rows ?? [])];
  merged.summary = computeSummary(merged, run.summary.modelConvVersion as string);
  return merged;
}

/** Writes the run's JSON and (Node runs) updates latest.json, report.md and chart.svg. Returns the paths. */
export function saveResults(run: BenchResult, outDir: string, opts: { updateLatest: boolean; prefix?: string }): string[] {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${opts.prefix ?? 'bench'}-${run.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  const written = [file];
  if (opts.updateLatest) {
    const latestFile = join(outDir, 'latest.json');
    const merged = mergeLatest(run, readLatest(latestFile));
    writeFileSync(latestFile, `${JSON.stringify(merged, null, 2)}\n`);
    writeFileSync(join(outDir, 'report.md'), markdownReport(merged));
    writeFileSync(join(outDir, 'chart.svg'), chartSvg(merged));
    written.push(latestFile, join(outDir, 'report.md'), join(outDir, 'chart.svg'));
  }
  return written;
}

/** Regenerates report.md and chart.svg from the folder's latest.json (npm run bench -- --report-only). */
export function regenerateReport(outDir: string): string[] {
  const latest = readLatest(join(outDir, 'latest.json'));
  if (!latest) throw new Error(`${join(outDir, 'latest.json')}: missing or not a result of this benchmark`);
  writeFileSync(join(outDir, 'report.md'), markdownReport(latest));
  writeFileSync(join(outDir, 'chart.svg'), chartSvg(latest));
  return [join(outDir, 'report.md'), join(outDir, 'chart.svg')];
}
