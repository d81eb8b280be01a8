/** Minimal SVG bar charts for benchmark results (no plotting dependency needed for bars). */
export interface Bar {
  readonly group: string;
  readonly series: string;
  readonly value: number;
}

const COLORS = ['#2f6db5', '#d9822b', '#3a9a5b', '#b0413e', '#7a5ba6'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Grouped bar chart: one group per distinct `group`, one bar per `series` inside it. */
export function barChart(title: string, bars: readonly Bar[]): string {
  const groups = [...new Set(bars.map((b) => b.group))];
  const series = [...new Set(bars.map((b) => b.series))];
  const max = Math.max(1, ...bars.map((b) => b.value));
  const W = 640;
  const H = 360;
  const left = 70;
  const bottom = 300;
  const top = 50;
  const gw = (W - left - 20) / Math.max(1, groups.length);
  const bw = (gw * 0.8) / Math.max(1, series.length);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${W - 10}" y2="${bottom}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = bottom - ((bottom - top) * i) / 4;
    out.push(`<line x1="${left}" y1="${y}" x2="${W - 10}" y2="${y}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${Math.round(v)}</text>`);
  }
  groups.forEach((g, gi) => {
    const gx = left + gi * gw + gw * 0.1;
    series.forEach((s, si) => {
      const b = bars.find((x) => x.group === g && x.series === s);
      if (!b) return;
      const h = ((bottom - top) * b.value) / max;
      const x = gx + si * bw;
      out.push(`<rect x="${x.toFixed(1)}" y="${(bottom - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s}, ${g}: ${b.value}`)}</title></rect>`);
    });
    out.push(`<text x="${(gx + gw * 0.4).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${esc(g)}</text>`);
  });
  series.forEach((s, si) => {
    out.push(`<rect x="${left + si * 200}" y="${H - 30}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/>`, `<text x="${left + si * 200 + 18}" y="${H - 20}">${esc(s)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
