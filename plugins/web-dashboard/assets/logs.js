// The log tail: the lines of one instance (or all), one stream or all, optionally only those that
// contain a search text; followed live over GET /api/logs/stream, or loaded once from GET /api/logs.
// At most MAX_LINES lines are on the page; a burst is drawn once per animation frame.
import { ApiError, authHeaders, call } from './api.js';
import { h, setText } from './dom.js';
import { clock } from './format.js';
import { follow } from './sse.js';

/** Lines kept on the page. */
export const MAX_LINES = 500;
/** Lines asked for when the filters change. */
const BACKLOG = 200;
const TAG = { stdout: 'OUT', stderr: 'ERR', event: 'EVT' };

export class LogPanel {
  /**
   * @param {{ form: HTMLFormElement, list: HTMLElement, instance: HTMLSelectElement, stream: HTMLSelectElement,
   *   grep: HTMLInputElement, follow: HTMLInputElement, status: HTMLElement, heading: HTMLElement }} el
   * @param {{ onUnauthorized: (e: ApiError) => void }} o
   */
  constructor(el, o) {
    this.el = el;
    this.o = o;
    /** @type {{ stop(): void } | null} */
    this.stream = null;
    /** @type {AbortController | null} */
    this.load = null;
    /** Lines waiting for the next frame (at most MAX_LINES). */
    this.pending = [];
    this.frame = 0;
    this.grep = '';
    el.form.addEventListener('submit', (ev) => { ev.preventDefault(); this.run(); });
    el.instance.addEventListener('change', () => this.run());
    el.stream.addEventListener('change', () => this.run());
    el.follow.addEventListener('change', () => this.run());
  }

  /** Offer these instance keys ("service:id") in the picker, keeping the current choice. */
  setInstances(keys) {
    const sel = this.el.instance;
    const want = ['', ...keys];
    const have = [...sel.options].map((o) => o.value);
    if (want.length === have.length && want.every((k, i) => k === have[i])) return;
    const current = sel.value;
    sel.replaceChildren(h('option', { value: '' }, 'All instances'), ...keys.map((k) => h('option', { value: k }, k)));
    sel.value = want.includes(current) ? current : '';
  }

  /** Show one instance's lines, bring the panel into view and move focus to it. */
  show(key) {
    if (![...this.el.instance.options].some((o) => o.value === key)) this.el.instance.append(h('option', { value: key }, key));
    this.el.instance.value = key;
    this.run();
    this.el.heading.scrollIntoView({ block: 'start' });
    this.el.heading.focus();
  }

  /** The query string of the current filters plus `extra`. */
  query(extra) {
    const q = new URLSearchParams();
    const key = this.el.instance.value;
    if (key) {
      const i = key.indexOf(':');
      q.set('service', key.slice(0, i));
      q.set('id', key.slice(i + 1));
    }
    if (this.el.stream.value) q.set('stream', this.el.stream.value);
    if (this.grep) q.set('grep', this.grep);
    for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
    return q.toString();
  }

  /** Start over with the current filters: clear, then follow (with a backlog) or load once. */
  run() {
    this.stop();
    this.grep = this.el.grep.value.trim();
    this.el.list.replaceChildren();
    this.pending = [];
    if (this.el.follow.checked) {
      setText(this.el.status, 'Connecting…');
      this.stream = follow(() => `/api/logs/stream?${this.query({ n: BACKLOG })}`, {
        headers: authHeaders,
        onOpen: () => { this.el.list.replaceChildren(); this.pending = []; },
        onEvent: (e) => {
          if (e.event !== 'line') return;
          try { this.add(JSON.parse(e.data)); } catch { /* a line that is not JSON is skipped */ }
        },
        onState: (s, err) => setText(this.el.status, s === 'live' ? 'Following new lines.'
          : `Reconnecting…${err ? ` (${err instanceof ApiError ? err.describe() : err.message ?? err})` : ''}`),
        onUnauthorized: this.o.onUnauthorized,
        onRefused: (err) => setText(this.el.status, unavailable(err)),
      });
    } else {
      const ctl = new AbortController();
      this.load = ctl;
      setText(this.el.status, 'Loading…');
      call('GET', `/api/logs?${this.query({ limit: BACKLOG })}`, undefined, { signal: ctl.signal }).then((r) => {
        for (const line of r?.lines ?? []) this.add(line);
        setText(this.el.status, (r?.lines ?? []).length === 0 ? 'No lines match.' : `${r.lines.length} lines.`);
      }, (err) => {
        if (err?.name === 'AbortError') return;
        if (err instanceof ApiError && err.status === 401) return this.o.onUnauthorized(err);
        setText(this.el.status, unavailable(err));
      });
    }
  }

  stop() {
    this.stream?.stop();
    this.stream = null;
    this.load?.abort();
    this.load = null;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  /** Queue one line ({ t, stream, service, instance, message }) for the next frame. */
  add(line) {
    this.pending.push(line);
    if (this.pending.length > MAX_LINES) this.pending.splice(0, this.pending.length - MAX_LINES);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const list = this.el.list;
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 24;
    const items = this.pending.map((l) => this.render(l));
    this.pending = [];
    list.append(...items);
    while (list.childElementCount > MAX_LINES) list.firstElementChild?.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  /** One line as a list item: time, stream, instance, message (search matches marked). */
  render(l) {
    const stream = String(l.stream ?? '');
    return h('li', { class: `log-${TAG[stream] ? stream : 'other'}` },
      h('time', { datetime: new Date(l.t).toISOString() }, clock(l.t)), ' ',
      h('span', { class: 'tag' }, TAG[stream] ?? stream.toUpperCase()), ' ',
      h('span', { class: 'who' }, `${l.service}:${l.instance ?? '-'}`), ' ',
      h('span', { class: 'msg' }, ...marked(String(l.message ?? ''), this.grep)));
  }
}

/** `text` split into text and <mark> nodes around each case-insensitive match of `needle`. */
function marked(text, needle) {
  if (!needle) return [text];
  const out = [];
  const hay = text.toLowerCase();
  const n = needle.toLowerCase();
  let at = 0;
  for (let i = hay.indexOf(n); i !== -1 && out.length < 200; i = hay.indexOf(n, at)) {
    if (i > at) out.push(text.slice(at, i));
    out.push(h('mark', {}, text.slice(i, i + n.length)));
    at = i + n.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

/** Why the log view has nothing to show, for people. */
function unavailable(err) {
  if (err instanceof ApiError && err.status === 404 && err.code === 'TEN_ERR_API_NOT_FOUND') return `Logs are not available on this server (${err.describe()}).`;
  return `Logs: ${err instanceof ApiError ? err.describe() : String(err?.message ?? err)}`;
}
