// The two Node steps of bench/gpu-check.sh.
//   npx tsx bench/gpu_check.ts adapter OUT.json   the adapter: info, features, limits, the model's
//                                                 conv version, whether it is a CPU emulation
//   npx tsx bench/gpu_check.ts report DIR OUT.json assembles the check's one JSON from DIR: adapter.json,
//                                                 tests.json (vitest --reporter=json), bench/latest.json,
//                                                 kernels.json (neural-style kernels --json), transfer.json (neural-style --json), steps.tsv
//                                                 (step, exit code, seconds, command), settings.json
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [cmd, a, b] = process.argv.slice(2);
const readJson = (p: string): unknown => (existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null);

if (cmd === 'adapter') {
  const { acquireGpu } = await import('../src/gpu/device.ts');
  const { chooseConvVersion } = await import('../src/kernels/kernel_table.ts');
  const ctx = await acquireGpu();
  const info = ctx.adapter.info;
  const limits: Record<string, number> = {};
  for (const k in ctx.adapter.limits) limits[k] = (ctx.adapter.limits as unknown as Record<string, number>)[k];
  const out = {
    description: ctx.description,
    info: { vendor: info?.vendor, architecture: info?.architecture, device: info?.device, description: info?.description },
    isCpuAdapter: ctx.isCpuAdapter,
    features: [...ctx.adapter.features].sort(),
    limits,
    modelConvVersion: chooseConvVersion(ctx),
    node: process.version,
  };
  writeFileSync(a, JSON.stringify(out, null, 2) + '\n');
  console.log(`adapter: ${ctx.description}${ctx.isCpuAdapter ? ' (a CPU emulation, not a GPU)' : ''}; model conv version ${out.modelConvVersion}`);
  ctx.device.destroy();
  process.exit(0);
} else if (cmd === 'report') {
  const dir = a;
  const steps = existsSync(join(dir, 'steps.tsv'))
    ? readFileSync(join(dir, 'steps.tsv'), 'utf8').trim().split('\n').filter(Boolean).map((l) => {
        const [step, rc, seconds, command] = l.split('\t');
        return { step, exitCode: Number(rc), seconds: Number(seconds), command, ok: rc === '0' };
      })
    : [];
  type Vitest = { numTotalTests: number; numPassedTests: number; numFailedTests: number; numPendingTests: number; testResults: Array<{ name: string; assertionResults: Array<{ fullName: string; status: string; duration?: number }> }> };
  const t = readJson(join(dir, 'tests.json')) as Vitest | null;
  const tests = t && {
    total: t.numTotalTests,
    passed: t.numPassedTests,
    failed: t.numFailedTests,
    skipped: t.numPendingTests,
    failures: t.testResults.flatMap((f) => f.assertionResults.filter((r) => r.status === 'failed').map((r) => `${f.name.replace(/^.*\/test\//, 'test/')}: ${r.fullName}`)),
  };
  type Bench = { adapter: string; summary: Record<string, unknown>; sections: { ceiling?: { rows: Array<{ impl: string; gflops: number | null }> }; eval?: { size: number[]; rows: Array<{ impl: string; ms: { median: number; min: number } | null; lossRelDiff?: number; slowdownVsOurs?: number; note?: string }> } } };
  const bench = readJson(join(dir, 'bench', 'latest.json')) as Bench | null;
  type Transfer = { rows: number; cols: number; iterations: number; evaluations: number; seconds: number; setupSeconds: number | null; totalSeconds: number; loss: { total: number }; memory: unknown; adapter: string; stopped: boolean };
  const tr = readJson(join(dir, 'transfer.json')) as Transfer | null;
  const out = {
    date: new Date().toISOString(),
    settings: readJson(join(dir, 'settings.json')),
    adapter: readJson(join(dir, 'adapter.json')),
    steps,
    kernels: readJson(join(dir, 'kernels.json')),
    ok: steps.length > 0 && steps.every((s) => s.ok),
    tests,
    bench: bench && {
      adapter: bench.adapter,
      ceiling: bench.sections.ceiling?.rows.map((r) => ({ impl: r.impl, gflops: r.gflops })) ?? null,
      eval: bench.sections.eval
        ? { size: bench.sections.eval.size, rows: bench.sections.eval.rows.map((r) => ({ impl: r.impl, medianMs: r.ms?.median ?? null, minMs: r.ms?.min ?? null, timeOverOurs: r.slowdownVsOurs ?? null, lossRelDiff: r.lossRelDiff ?? null, note: r.note ?? null })) }
        : null,
      summary: bench.summary,
    },
    transfer: tr && {
      rows: tr.rows,
      cols: tr.cols,
      iterations: tr.iterations,
      evaluations: tr.evaluations,
      seconds: tr.seconds,
      setupSeconds: tr.setupSeconds,
      // from the first evaluation to the report (the optimization, then the PNG): per evaluation
      secondsPerEvaluation: tr.evaluations && tr.setupSeconds !== null ? (tr.totalSeconds - tr.setupSeconds) / tr.evaluations : null,
      totalSeconds: tr.totalSeconds,
      finalLoss: tr.loss.total,
      stopped: tr.stopped,
      memory: tr.memory,
    },
  };
  writeFileSync(b, JSON.stringify(out, null, 2) + '\n');
  const fmt = (v: number | null | undefined, d = 2) => (v === null || v === undefined ? 'n/a' : v.toFixed(d));
  console.log(`gpu-check: ${out.ok ? 'every step passed' : 'SOME STEPS FAILED'}; wrote ${b}`);
  for (const s of steps) console.log(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.step.padEnd(10)} ${fmt(s.seconds, 0).padStart(5)} s  (exit ${s.exitCode})`);
  if (tests) console.log(`  tests: ${tests.passed} passed, ${tests.failed} failed, ${tests.skipped} skipped`);
  for (const r of out.bench?.eval?.rows ?? []) console.log(`  eval ${r.impl.padEnd(28)} ${r.medianMs === null ? 'n/a' : `${(r.medianMs / 1000).toFixed(3)} s`}`);
  if (out.transfer) console.log(`  transfer ${out.transfer.rows} rows: ${out.transfer.iterations} iterations, ${out.transfer.evaluations} evaluations in ${fmt(out.transfer.seconds, 1)} s (${fmt(out.transfer.secondsPerEvaluation, 3)} s each), set-up ${fmt(out.transfer.setupSeconds, 1)} s`);
  process.exit(out.ok ? 0 : 1);
} else {
  console.error('usage: npx tsx bench/gpu_check.ts adapter OUT.json | report DIR OUT.json');
  process.exit(2);
}
