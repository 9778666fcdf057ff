// Numbers as people read them. Every function takes the API's base units (seconds, bytes, ratios)
// and returns a short string; null or undefined is an en dash.

const DASH = '–';
const none = (v) => v === null || v === undefined || Number.isNaN(v);

/** 3725 → "1h 2m"; seconds since a start. */
export function duration(s) {
  if (none(s)) return DASH;
  s = Math.max(0, Math.floor(s));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Requests per second: "0", "2.5/s", "120/s". */
export function rate(v) {
  if (none(v)) return DASH;
  if (v === 0) return '0/s';
  return v < 10 ? `${v.toFixed(1)}/s` : `${Math.round(v)}/s`;
}

/** A ratio (0.0123) as a percentage: "1.2%". */
export function percent(v) {
  if (none(v)) return DASH;
  const p = v * 100;
  return p === 0 ? '0%' : p < 10 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

/** Seconds as a latency: "0.4 ms", "12 ms", "1.25 s". */
export function latency(s) {
  if (none(s)) return DASH;
  const ms = s * 1000;
  if (ms < 1) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Bytes in binary units: "512 B", "45.2 MiB". */
export function bytes(v) {
  if (none(v)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Epoch ms as local wall-clock time, "14:03:07". */
export function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** A time as the API gives it (epoch ms, epoch seconds or an ISO string) in epoch seconds, the
 *  unit of the charts' time axis. NaN when it is none of those. */
export function epochSeconds(t) {
  if (typeof t === 'string') return Date.parse(t) / 1000;
  if (typeof t !== 'number') return Number.NaN;
  return t > 1e11 ? t / 1000 : t;
}
