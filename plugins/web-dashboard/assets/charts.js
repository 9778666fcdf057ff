// Per-instance time series and their small uPlot charts (uPlot is loaded as a classic script before
// this module: the global `uPlot`). Every series keeps at most MAX_POINTS points.

/** Points kept per series: 10 minutes at the stats stream's 2 s. */
export const MAX_POINTS = 300;

/** The four charted measures: key in a stats row and in its `history`, caption, colour, and how
 *  the current value is shown (a format.js function). */
export const MEASURES = [
  { key: 'requests_per_second', label: 'Requests/s', color: '#2563eb' },
  { key: 'p99_seconds', label: 'p99', color: '#c2410c' },
  { key: 'cpu_ratio', label: 'CPU', color: '#15803d' },
  { key: 'memory_bytes', label: 'Memory', color: '#7c3aed' },
];

/** One instance's recent numbers: `t` in epoch seconds, one array per measure, same length. */
export class Series {
  constructor() {
    /** @type {number[]} */
    this.t = [];
    /** @type {Record<string, Array<number | null>>} */
    this.v = Object.fromEntries(MEASURES.map((m) => [m.key, []]));
  }

  /** Replace the points with a stats `history` ({ t[], <measure>[] }); `toSeconds` converts t. */
  load(history, toSeconds) {
    const n = Math.min(history?.t?.length ?? 0, MAX_POINTS);
    const from = (history?.t?.length ?? 0) - n;
    this.t = (history?.t ?? []).slice(from).map(toSeconds);
    for (const m of MEASURES) {
      const src = Array.isArray(history?.[m.key]) ? history[m.key].slice(from) : [];
      this.v[m.key] = this.t.map((_, i) => (typeof src[i] === 'number' ? src[i] : null));
    }
  }

  /** Add one stats row at `t` (epoch seconds); older points fall off past MAX_POINTS. A `t` not
   *  after the last one is ignored (a reconnect may repeat the last sample). */
  push(t, row) {
    if (this.t.length > 0 && t <= this.t[this.t.length - 1]) return;
    this.t.push(t);
    for (const m of MEASURES) this.v[m.key].push(typeof row[m.key] === 'number' ? row[m.key] : null);
    if (this.t.length > MAX_POINTS) {
      this.t.splice(0, this.t.length - MAX_POINTS);
      for (const m of MEASURES) this.v[m.key].splice(0, this.v[m.key].length - MAX_POINTS);
    }
  }
}

/** A small line chart without axes or legend (the figure's caption says what it is and the card
 *  shows the number): for the shape of the last minutes only. */
export class Spark {
  /** @param {HTMLElement} el container (its width is the chart's) @param {string} color */
  constructor(el, color) {
    this.el = el;
    /** @type {any} */
    this.plot = null;
    this.color = color;
  }

  /** Draw `t` and `values` (same length); creates the chart on first use, when uPlot is there. */
  update(t, values) {
    const U = /** @type {any} */ (globalThis).uPlot;
    if (!U) return;
    const data = [t, values];
    if (this.plot) return this.plot.setData(data);
    this.plot = new U({
      width: this.width(), height: 44,
      cursor: { show: false }, legend: { show: false }, select: { show: false },
      padding: [4, 2, 2, 2],
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
      series: [{}, { stroke: this.color, width: 1.5, fill: `${this.color}22`, spanGaps: false, points: { show: false } }],
    }, data, this.el);
  }

  width() {
    return Math.max(80, Math.floor(this.el.clientWidth || 140));
  }

  /** Follow the container's width (after a window resize). */
  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: 44 });
  }

  destroy() {
    this.plot?.destroy();
    this.plot = null;
  }
}
