// The bench's picture: one self-contained HTML file (inline SVG, no script,
// nothing fetched) with the cold-start distribution of each side as a
// cumulative curve, every sample as a dot, and warm latency percentiles
// through napbox against direct, next to throughput. Pure: results in, text out.

export interface ColdSeries {
  readonly label: string;
  readonly samplesMs: readonly number[];
}

export interface WarmSide {
  readonly label: string;
  readonly requestsPerSec: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number };
}

export interface ReportInput {
  readonly title: string;
  /** One line about the run: when, machine, load. */
  readonly subtitle: string;
  readonly cold: readonly ColdSeries[];
  readonly warm: readonly WarmSide[];
  /** Lines of the printed table, shown under the plots. */
  readonly table: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
const W = 640;
const H = 300;
const M = { left: 56, right: 16, top: 16, bottom: 44 };

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** About five round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function axes(
  xTicks: number[],
  x: (v: number) => number,
  yTicks: number[],
  y: (v: number) => number,
  xLabel: string,
  yLabel: string,
  yFmt: (v: number) => string,
): string {
  const parts: string[] = [];
  for (const t of yTicks) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${esc(yFmt(t))}</text>`);
  }
  for (const t of xTicks) parts.push(`<text x="${x(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(fmt(t))}</text>`);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" class="axis"/>`);
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return parts.join('');
}

/** Cumulative distribution of each series' cold starts, with every sample marked. */
export function coldSvg(series: readonly ColdSeries[]): string {
  const all = series.flatMap((s) => s.samplesMs);
  if (all.length === 0) return '<p>No cold-start samples.</p>';
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const pad = Math.max(1, (hi - lo) * 0.05);
  const xTicks = ticks(lo - pad, hi + pad);
  const x0 = Math.min(lo - pad, xTicks[0]!);
  const x1 = Math.max(hi + pad, xTicks[xTicks.length - 1]!);
  const x = (v: number): number => M.left + ((v - x0) / (x1 - x0)) * (W - M.left - M.right);
  const y = (p: number): number => H - M.bottom - p * (H - M.top - M.bottom);
  const body: string[] = [
    axes(xTicks, x, [0, 0.25, 0.5, 0.75, 1], y, 'time to first byte from a stopped tenant (ms)', 'fraction of tries', (v) => `${v * 100}%`),
  ];
  series.forEach((s, i) => {
    const sorted = [...s.samplesMs].sort((a, b) => a - b);
    const color = COLORS[i % COLORS.length]!;
    let d = `M${x(sorted[0]!)} ${y(0)}`;
    sorted.forEach((v, k) => {
      d += ` L${x(v)} ${y(k / sorted.length)} L${x(v)} ${y((k + 1) / sorted.length)}`;
    });
    body.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"><title>${esc(s.label)}</title></path>`);
    for (const [k, v] of sorted.entries())
      body.push(`<circle cx="${x(v)}" cy="${y((k + 1) / sorted.length)}" r="3" fill="${color}"><title>${esc(`${s.label}: ${fmt(v)} ms`)}</title></circle>`);
  });
  return svg(
    'Cold start: cumulative distribution',
    body.join(''),
    legend(series.map((s) => `${s.label} (n=${s.samplesMs.length}, p50 ${fmt(median(s.samplesMs))} ms)`)),
  );
}

/** Warm latency percentiles (grouped bars) per side, with throughput in the legend. */
export function warmSvg(sides: readonly WarmSide[]): string {
  if (sides.length === 0) return '<p>No warm runs.</p>';
  const keys = ['p50', 'p90', 'p99'] as const;
  const hi = Math.max(...sides.flatMap((s) => keys.map((k) => s.latencyMs[k])));
  const yTicks = ticks(0, hi * 1.1);
  const yMax = Math.max(hi * 1.1, yTicks[yTicks.length - 1]!);
  const y = (v: number): number => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const groupW = (W - M.left - M.right) / keys.length;
  const barW = (groupW * 0.7) / sides.length;
  const body: string[] = [];
  for (const t of yTicks) {
    body.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`);
    body.push(`<text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end">${esc(fmt(t))}</text>`);
  }
  body.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(0)}" y2="${y(0)}" class="axis"/>`);
  keys.forEach((key, g) => {
    const gx = M.left + g * groupW + groupW * 0.15;
    body.push(`<text x="${M.left + g * groupW + groupW / 2}" y="${H - M.bottom + 16}" text-anchor="middle">${key}</text>`);
    sides.forEach((side, i) => {
      const v = side.latencyMs[key];
      const bx = gx + i * barW;
      body.push(
        `<rect x="${bx}" y="${y(v)}" width="${barW - 2}" height="${y(0) - y(v)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${side.label} ${key}: ${fmt(v)} ms`)}</title></rect>`,
      );
      body.push(`<text x="${bx + (barW - 2) / 2}" y="${y(v) - 4}" text-anchor="middle">${esc(fmt(v))}</text>`);
    });
  });
  body.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" text-anchor="middle">latency percentile, keep-alive load</text>`);
  body.push(`<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">ms</text>`);
  return svg('Warm requests: latency', body.join(''), legend(sides.map((s) => `${s.label}: ${Math.round(s.requestsPerSec).toLocaleString('en')} req/s`)));
}

function legend(items: readonly string[]): string {
  return `<ul class="legend">${items.map((t, i) => `<li><span style="background:${COLORS[i % COLORS.length]}"></span>${esc(t)}</li>`).join('')}</ul>`;
}

function svg(title: string, body: string, after: string): string {
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${body}</svg>${after}</figure>`;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function renderHtml(input: ReportInput): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#222}
figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
svg text{font-size:11px;fill:#333}svg .grid{stroke:#e3e3e3}svg .axis{stroke:#555}
.legend{list-style:none;padding:0;display:flex;gap:1.2rem;flex-wrap:wrap}.legend span{display:inline-block;width:.9em;height:.9em;margin-right:.35em;vertical-align:-1px}
pre{background:#f5f5f5;padding:.6rem;overflow:auto;font-size:12px}
</style></head><body>
<h1>${esc(input.title)}</h1>
<p>${esc(input.subtitle)}</p>
${coldSvg(input.cold)}
${warmSvg(input.warm)}
<h2>The table</h2>
<pre>${esc(input.table)}</pre>
</body></html>
`;
}
