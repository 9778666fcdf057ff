// A few DOM helpers. Text always goes in as text nodes (never HTML), so nothing the API returns,
// log lines included, can inject markup or script.

/**
 * Create an element: h('button', { type: 'button', class: 'x', onclick: fn }, 'Restart').
 * Props named on* become listeners; `class`, `for`, aria-* and data-* become attributes; `hidden`,
 * `disabled` and other booleans are set when true. Children: strings (text), nodes, null (skipped).
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Set an element's text only when it differs (no needless layout work on every update). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Text visible to screen readers only, e.g. the instance a "Restart" button is about. */
export const srOnly = (text) => h('span', { class: 'sr-only' }, text);

/** Run `fn` at most once per `ms`, `ms` after the first call since the last run. */
export function debounce(fn, ms) {
  let t = null;
  const run = () => { t = null; fn(); };
  const wrapped = () => { if (t === null) t = setTimeout(run, ms); };
  wrapped.cancel = () => { clearTimeout(t); t = null; };
  return wrapped;
}
