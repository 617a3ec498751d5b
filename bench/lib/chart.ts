// bench/results/chart.svg: the per-op comparison as grouped horizontal bars (GFLOP/s on a log
// scale, one group per op and shape, one bar per implementation), plus the full evaluation's time
// per implementation. Plain SVG text, no dependencies, generated from latest.json.

import type { BenchResult, OpRow } from './types.ts';

/** One colour per implementation: greens for ours (darker = newer version), orange tfjs-webgpu,
 *  purple tfjs-wasm, grey tfjs-cpu; the second formulation of a backend a lighter shade. */
const COLORS: Record<string, string> = {
  'ours v1': '#c7e9c0',
  'ours v2': '#74c476',
  'ours v3': '#238b45',
  'ours v4': '#00441b',
  'ours v5': '#a1d99b',
  'ours v6': '#005a32',
  ours: '#238b45',
  'tfjs-webgpu': '#d95f02',
  'tfjs-webgpu flipT': '#fdae6b',
  'tfjs-wasm': '#7570b3',
  'tfjs-wasm flipT': '#bcbddc',
  'tfjs-cpu': '#636363',
  'tfjs-cpu flipT': '#bdbdbd',
};

function colorOf(impl: string, backend: string): string {
  if (COLORS[impl]) return COLORS[impl];
  const base = backend === 'ours' ? '#238b45' : COLORS[`tfjs-${backend}`] ?? '#333333';
  return /tuned|flipT|\bv1\b/.test(impl) ? `${base}88` : base;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chartSvg(r: BenchResult): string {
  const rows = (r.sections.ops?.rows ?? []).filter((x): x is OpRow & { gflops: number } => x.gflops !== null && x.gflops > 0 && x.op !== 'matmul');
  const groups = new Map<string, typeof rows>();
  for (const x of rows) {
    const key = `${x.op.replace('conv3x3_', 'conv ').replace('gram_', 'gram ')} ${x.shape}`;
    groups.set(key, [...(groups.get(key) ?? []), x]);
  }
  const ev = (r.sections.eval?.rows ?? []).filter((x) => x.ms);
  const W = 980;
  const left = 250;
  const right = 90;
  const barH = 11;
  const gap = 10;
  const plotW = W - left - right;
  let y = 0;
  const parts: string[] = [];
  const all = rows.map((x) => x.gflops);
  // the matmul measured alongside the conv rows (median), else the ceiling section's
  const ceiling = ((r.summary.ceilingAlongsideGflops ?? r.summary.matmulGflops) as number | null) ?? null;
  const lo = Math.max(1e-3, Math.min(...all, ceiling ?? Infinity) / 1.5);
  const hi = Math.max(...all, ceiling ?? 0) * 1.5;
  const xOf = (v: number) => left + (plotW * (Math.log10(v) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const adapter = r.adapter.split(' / ')[0].slice(0, 48);
  const title = `Per op at the VGG19 shapes of ${r.sections.ops?.size?.join('x') ?? '?'} — GFLOP/s, log scale (${adapter}, ${r.env})`;
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  // legend, wrapped
  const impls = [...new Map(rows.map((x) => [x.impl, x.backend])).entries()];
  let lx = 20;
  let ly = 38;
  for (const [impl, backend] of impls) {
    const w = 24 + impl.length * 6.5;
    if (lx + w > W - 10) {
      lx = 20;
      ly += 16;
    }
    parts.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${colorOf(impl, backend)}"/><text x="${lx + 16}" y="${ly + 10}" font-size="11">${esc(impl)}</text>`);
    lx += w;
  }
  y = ly + 32;
  const top = y;
  for (const [key, list] of groups) {
    parts.push(`<text x="${left - 8}" y="${y + (list.length * barH) / 2 + 4}" text-anchor="end" font-size="11">${esc(key)}</text>`);
    for (const x of list) {
      const w = Math.max(1, xOf(x.gflops) - left);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 1}" fill="${colorOf(x.impl, x.backend)}"><title>${esc(`${x.impl}: ${x.gflops.toFixed(2)} GFLOP/s, ${x.ms!.median.toFixed(1)} ms`)}</title></rect>`);
      parts.push(`<text x="${left + w + 3}" y="${y + barH - 2}" font-size="9">${x.gflops.toFixed(2)}</text>`);
      y += barH;
    }
    y += gap;
  }
  // axis ticks (decades) and the ceiling
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) {
    const v = 10 ** e;
    parts.push(`<line x1="${xOf(v)}" y1="${top - 4}" x2="${xOf(v)}" y2="${y}" stroke="#ccc" stroke-dasharray="2,3"/><text x="${xOf(v)}" y="${y + 12}" text-anchor="middle" font-size="10">${v}</text>`);
  }
  if (ceiling) {
    parts.push(`<line x1="${xOf(ceiling)}" y1="${top - 4}" x2="${xOf(ceiling)}" y2="${y}" stroke="#c00"/><text x="${xOf(ceiling) + 3}" y="${top - 6}" font-size="10" fill="#c00">matmul ceiling ${ceiling.toFixed(1)}</text>`);
  }
  y += 36;
  if (ev.length) {
    const maxMs = Math.max(...ev.map((x) => x.ms!.median));
    parts.push(`<text x="${W / 2}" y="${y}" text-anchor="middle" font-size="15" font-weight="bold">${esc(`One loss-and-gradient evaluation at ${r.sections.eval!.size!.join('x')} — seconds (shorter is better)`)}</text>`);
    y += 14;
    for (const x of ev) {
      const w = Math.max(1, (plotW * x.ms!.median) / maxMs);
      parts.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end" font-size="11">${esc(x.impl)}</text>`);
      const evalColor = x.backend === 'ours' ? COLORS.ours : colorOf(x.formulation === 'tuned' ? `tfjs-${x.backend} flipT` : `tfjs-${x.backend}`, x.backend);
      parts.push(`<rect x="${left}" y="${y + 2}" width="${w.toFixed(1)}" height="14" fill="${evalColor}"/>`);
      const sp = x.slowdownVsOurs && x.backend !== 'ours' ? ` (${x.slowdownVsOurs.toFixed(2)}x our time)` : '';
      parts.push(`<text x="${left + w + 4}" y="${y + 13}" font-size="10">${(x.ms!.median / 1e3).toFixed(1)} s${sp}</text>`);
      y += 20;
    }
    y += 10;
  }
  const H = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
