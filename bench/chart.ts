// A small SVG bar chart writer for the benchmarks (no chart library): horizontal bars, one panel
// per measure, optional min–max whiskers and dashed target lines. bench/proxy.ts writes
// docs/benchmarks-proxy.svg with it on every run; docs/benchmarks.md embeds that file.

export interface Bar {
  label: string;
  value: number;
  /** Drawn as a whisker over the bar (e.g. min – max over rounds). */
  range?: [number, number];
  /** tenement's own bars are drawn in the accent colour. */
  accent?: boolean;
  /** Shown instead of the bar when there is no value (e.g. "skipped"). */
  note?: string;
}

export interface Panel {
  title: string;
  /** Formats a value for the label at the end of its bar. */
  format: (v: number) => string;
  bars: Bar[];
  /** Dashed vertical lines, e.g. a target. */
  marks?: Array<{ value: number; label: string }>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r1 = (x: number) => Math.round(x * 10) / 10;

/** The chart as an SVG document: a title, a subtitle, then the panels one under the other. */
export function barChartSvg(title: string, subtitle: string, panels: Panel[]): string {
  const W = 900;
  // room for the longest label (about 7 px a character at 13 px)
  const longest = Math.max(0, ...panels.flatMap((p) => p.bars.map((b) => b.label.length)));
  const labelW = Math.min(460, Math.max(160, Math.ceil(longest * 7.2) + 24));
  const plotW = W - labelW - 110;
  const barH = 18;
  const gap = 8;
  const out: string[] = [];
  let y = 74;
  for (const p of panels) {
    const max = Math.max(1e-9, ...p.bars.map((b) => Math.max(b.value || 0, b.range?.[1] ?? 0)), ...(p.marks ?? []).map((m) => m.value));
    const x = (v: number) => labelW + (Math.max(0, v) / max) * plotW;
    out.push(`<text x="16" y="${y}" class="h">${esc(p.title)}</text>`);
    y += 14;
    const top = y;
    for (const b of p.bars) {
      const cy = y + barH / 2 + 4;
      out.push(`<text x="${labelW - 8}" y="${cy}" class="l" text-anchor="end">${esc(b.label)}</text>`);
      if (b.note !== undefined || !Number.isFinite(b.value)) {
        out.push(`<text x="${labelW + 4}" y="${cy}" class="n">${esc(b.note ?? 'no value')}</text>`);
      } else {
        out.push(`<rect x="${labelW}" y="${y}" width="${r1(x(b.value) - labelW)}" height="${barH}" class="${b.accent ? 'a' : 'b'}"/>`);
        if (b.range) {
          const [lo, hi] = b.range;
          const my = y + barH / 2;
          out.push(`<path d="M${r1(x(lo))} ${my}H${r1(x(hi))}M${r1(x(lo))} ${my - 4}v8M${r1(x(hi))} ${my - 4}v8" class="w"/>`);
        }
        out.push(`<text x="${r1(Math.max(x(b.value), b.range ? x(b.range[1]) : 0) + 6)}" y="${cy}" class="v">${esc(p.format(b.value))}</text>`);
      }
      y += barH + gap;
    }
    for (const m of p.marks ?? []) {
      out.push(`<path d="M${r1(x(m.value))} ${top - 4}V${y - gap + 4}" class="m"/>`,
        `<text x="${r1(x(m.value))}" y="${y + 10}" class="ml" text-anchor="middle">${esc(m.label)}</text>`);
    }
    y += 34;
  }
  const H = y;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<style>
text{font:13px system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#24292f}
.t{font-size:17px;font-weight:600}.s{font-size:12px;fill:#57606a}.h{font-weight:600}
.l{fill:#24292f}.v{font-size:12px;fill:#24292f}.n{font-size:12px;fill:#8c959f;font-style:italic}
.b{fill:#8c959f}.a{fill:#0969da}.w{stroke:#24292f;stroke-width:1;fill:none}
.m{stroke:#cf222e;stroke-width:1.2;stroke-dasharray:4 3;fill:none}.ml{font-size:11px;fill:#cf222e}
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="24" class="t">${esc(title)}</text>
<text x="16" y="42" class="s">${esc(subtitle)}</text>
${out.join('\n')}
</svg>
`;
}
