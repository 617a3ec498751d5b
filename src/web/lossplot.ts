// The loss curve: total and each term (content, style, TV; already weighted) against the
// iteration, log-scale y, as an SVG that is rebuilt when a point arrives or the box resizes.
//
// buildPlot() is pure (points in, axis ticks and SVG path strings out; tested in
// test/web.test.ts); LossPlot puts its result into the page.

export const SERIES = [
  { key: 'total', label: 'total', color: '#1b1b1f' },
  { key: 'content', label: 'content', color: '#1f77b4' },
  { key: 'style', label: 'style', color: '#d62728' },
  { key: 'tv', label: 'TV', color: '#2ca02c' },
] as const;

export type SeriesKey = (typeof SERIES)[number]['key'];

export interface LossPoint {
  iteration: number;
  total: number;
  content?: number;
  style?: number;
  tv?: number;
}

export interface PlotBox {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface Tick {
  /** position along the axis in pixels (x from the left, y from the top) */
  at: number;
  label: string;
}

export interface BuiltPlot {
  xTicks: Tick[];
  yTicks: Tick[];
  /** one SVG path "d" per series that has at least one positive finite value */
  paths: Array<{ key: SeriesKey; d: string }>;
  /** the y range in log10 units */
  yRange: [number, number];
}

const fmtTick = (v: number) => {
  const e = Math.floor(Math.log10(v) + 1e-9);
  const m = Math.round(v / 10 ** e);
  if (e >= -2 && e <= 4) return String(Number(v.toPrecision(2)));
  return m === 1 ? `1e${e}` : `${m}e${e}`;
};

/**
 * Y ticks for values in [lo, hi] (both > 0): 1-2-5 steps when that gives at most 8 ticks,
 * else decades (every k-th decade when there are more than 7); the range is widened to the
 * ticks just outside the values.
 */
export function logTicks(lo: number, hi: number): { ticks: number[]; range: [number, number] } {
  const eLo = Math.floor(Math.log10(lo)) - 1;
  const eHi = Math.ceil(Math.log10(hi)) + 1;
  const c: number[] = [];
  for (let e = eLo; e <= eHi; e++) for (const m of [1, 2, 5]) c.push(m * 10 ** e);
  const below = c.filter((v) => v <= lo * (1 + 1e-12));
  const above = c.filter((v) => v >= hi * (1 - 1e-12));
  let a = below[below.length - 1];
  let b = above[0];
  if (a === b) {
    const i = c.indexOf(a);
    a = c[i - 1];
    b = c[i + 1];
  }
  const fine = c.filter((v) => v >= a && v <= b);
  if (fine.length <= 8) return { ticks: fine, range: [Math.log10(a), Math.log10(b)] };
  // decades: from the one at or below lo to the one at or above hi, every `stride`-th
  const dLo = Math.floor(Math.log10(lo) + 1e-12);
  let dHi = Math.ceil(Math.log10(hi) - 1e-12);
  if (dHi === dLo) dHi++;
  const stride = Math.ceil((dHi - dLo + 1) / 7);
  dHi = dLo + stride * Math.ceil((dHi - dLo) / stride);
  const ticks: number[] = [];
  for (let e = dLo; e <= dHi; e += stride) ticks.push(10 ** e);
  return { ticks, range: [dLo, dHi] };
}

/** Round numbers for the iteration axis: about `count` ticks from 0 to max. */
export function linearTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const e = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * e).find((s) => s >= raw) ?? 10 * e;
  const stepInt = Math.max(1, Math.round(step));
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += stepInt) out.push(v);
  return out;
}

/** Axis ticks and one path per series; values <= 0 or non-finite break the line. */
export function buildPlot(points: LossPoint[], box: PlotBox, xMax?: number): BuiltPlot {
  const values: number[] = [];
  for (const p of points) for (const s of SERIES) {
    const v = p[s.key];
    if (v !== undefined && Number.isFinite(v) && v > 0) values.push(v);
  }
  const maxIter = Math.max(1, xMax ?? 0, ...points.map((p) => p.iteration));
  const x0 = box.left;
  const x1 = box.width - box.right;
  const y0 = box.height - box.bottom;
  const y1 = box.top;
  const sx = (it: number) => x0 + ((x1 - x0) * it) / maxIter;
  const xTicks = linearTicks(maxIter).map((v) => ({ at: sx(v), label: String(v) }));
  if (!values.length) return { xTicks, yTicks: [], paths: [], yRange: [0, 1] };
  const { ticks, range } = logTicks(Math.min(...values), Math.max(...values));
  const sy = (v: number) => y0 - ((y0 - y1) * (Math.log10(v) - range[0])) / (range[1] - range[0] || 1);
  const yTicks = ticks.map((v) => ({ at: sy(v), label: fmtTick(v) }));
  const paths: BuiltPlot['paths'] = [];
  for (const s of SERIES) {
    let d = '';
    let pen = false;
    for (const p of points) {
      const v = p[s.key];
      if (v === undefined || !Number.isFinite(v) || v <= 0) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(p.iteration).toFixed(1)},${sy(v).toFixed(1)}`;
      pen = true;
    }
    if (d) paths.push({ key: s.key, d });
  }
  return { xTicks, yTicks, paths, yRange: range };
}

const SVG_NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The plot in the page: an <svg> inside `host`, redrawn on data and on resize. */
export class LossPlot {
  private points: LossPoint[] = [];
  private xMax: number | undefined;
  private readonly svg: SVGSVGElement;
  private pending = false;

  constructor(private readonly host: HTMLElement) {
    this.svg = el('svg', { role: 'img', 'aria-label': 'loss per iteration, log scale' });
    host.append(this.svg);
    new ResizeObserver(() => this.schedule()).observe(host);
  }

  /** Replaces the points (e.g. a new run) and the x extent (the planned iterations, when known). */
  set(points: LossPoint[], xMax?: number): void {
    this.points = points;
    this.xMax = xMax;
    this.schedule();
  }

  /** Redraws at most once per animation frame. */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  private draw(): void {
    const width = Math.max(200, Math.round(this.host.clientWidth));
    const height = Math.round(Math.min(260, Math.max(160, width * 0.45)));
    const box: PlotBox = { width, height, left: 58, right: 12, top: 10, bottom: 30 };
    const plot = buildPlot(this.points, box, this.xMax);
    const svg = this.svg;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.replaceChildren();
    const x0 = box.left;
    const x1 = width - box.right;
    const y0 = height - box.bottom;
    svg.append(el('rect', { x: x0, y: box.top, width: x1 - x0, height: y0 - box.top, class: 'plot-area' }));
    for (const t of plot.yTicks) {
      svg.append(el('line', { x1: x0, x2: x1, y1: t.at, y2: t.at, class: 'grid' }));
      svg.append(el('text', { x: x0 - 6, y: t.at + 4, 'text-anchor': 'end', class: 'tick' }, t.label));
    }
    for (const t of plot.xTicks) {
      svg.append(el('line', { x1: t.at, x2: t.at, y1: y0, y2: y0 + 4, class: 'axis' }));
      svg.append(el('text', { x: t.at, y: y0 + 17, 'text-anchor': 'middle', class: 'tick' }, t.label));
    }
    svg.append(el('text', { x: x1, y: height - 2, 'text-anchor': 'end', class: 'axis-label' }, 'iteration'));
    // the terms first, the total last and dashed: when one term dominates, both stay visible
    for (const p of [...plot.paths].sort((a, b) => Number(a.key === 'total') - Number(b.key === 'total'))) {
      const color = SERIES.find((s) => s.key === p.key)!.color;
      const total = p.key === 'total';
      svg.append(el('path', { d: p.d, fill: 'none', stroke: color, 'stroke-width': total ? 2 : 1.6, ...(total ? { 'stroke-dasharray': '6 4' } : {}), 'data-series': p.key }));
    }
    if (!this.points.length) {
      svg.append(el('text', { x: (x0 + x1) / 2, y: (box.top + y0) / 2, 'text-anchor': 'middle', class: 'empty' }, 'the loss appears here while it runs'));
    }
  }
}
