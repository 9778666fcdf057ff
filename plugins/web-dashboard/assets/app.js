// The dashboard page: sign in with the API token, then services and instances with their live
// numbers and charts, actions, the deploy history and the log tail. Plain DOM, no framework: each
// service and instance has one element that is updated in place (focus and half-typed input
// survive updates). With a tenant token (docs/access.md) it shows what the API lets that token
// see — its own instances, their numbers and logs — and offers only what it may do: weight,
// restart, stop, logs, and spawning its own id; no traffic switch, rollouts or history.
// Sources, all behind the token:
//   GET /api/whoami                              who the token is (admin, or tenant and the service names)
//   GET /api/services, /api/instances            the list (on load, on events, every 5 s; services: admin only)
//   GET /api/stats, /api/stats/stream (SSE)      numbers and chart history (metrics slot)
//   GET /api/logs/stream?stream=event (SSE)      state, weight, spawn and exit events: refresh at once
//   GET /api/workflows/history, /rollout/:svc    deploys, rollouts (workflows slot)
import { ApiError, authHeaders, call, instancePath, serverVersion, token } from './api.js';
import { MEASURES, Series, Spark } from './charts.js';
import { debounce, h, setText, srOnly } from './dom.js';
import * as fmt from './format.js';
import { LogPanel } from './logs.js';
import { follow } from './sse.js';

/** Instances drawn per service (the rest are counted: `ten ps` lists them all). */
const MAX_INSTANCES_PER_SERVICE = 100;
/** Instances that get charts (four small canvases each). */
const MAX_CHARTED = 24;
/** Deploy history entries shown. */
const MAX_HISTORY = 50;
/** The list is fetched again this often even when no event says it changed (uptime, missed events). */
const POLL_MS = 5000;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const RUNNING = new Set(['running', 'starting', 'unhealthy', 'restarting', 'stopping']);
const NUMBERS = [
  ['weight', 'Weight'], ['uptime', 'Uptime'], ['rps', 'Requests/s'], ['errors', 'Errors'],
  ['p99', 'p99'], ['cpu', 'CPU'], ['memory', 'Memory'], ['restarts', 'Restarts'],
];

const state = {
  /** @type {Array<{ name: string, health: string | null, weight: number, instances: number }>} */
  services: [],
  /** key → InstanceView (core/view.ts) */
  instances: new Map(),
  /** key → the latest stats row */
  stats: new Map(),
  /** key → Series */
  series: new Map(),
  /** 'unknown' until /api/stats answers; 'off' when it is not there */
  metrics: 'unknown',
  workflows: true,
  /** service → its running rollout (an operation view) */
  rollouts: new Map(),
  /** stream name → 'live' | 'reconnecting' | 'off' */
  streams: new Map(),
  /** GET /api/whoami of the signed-in token: { token, tenant (null: admin), services } */
  who: null,
};

/** The tenant the token is limited to, or null for an admin token. */
const tenant = () => state.who?.tenant ?? null;

/** key → { el, … } and service → { el, … }: the elements kept across updates. */
const cards = new Map();
const sections = new Map();
/** What the current sign-in runs (streams, timers); stopped on sign-out. */
let session = null;

// ------------------------------------------------------------------------ sign-in

function showLogin(message = '') {
  session?.stop();
  session = null;
  $('app').hidden = true;
  $('forget').hidden = true;
  $('login').hidden = false;
  setText($('login-error'), message);
  $('token').focus();
}

/** Forget the token and everything shown with it. */
function signOut(message) {
  token.clear();
  for (const c of cards.values()) c.charts?.forEach((s) => s.destroy());
  cards.clear();
  sections.clear();
  $('services').replaceChildren();
  state.instances.clear();
  state.stats.clear();
  state.series.clear();
  state.rollouts.clear();
  state.metrics = 'unknown';
  state.who = null;
  showLogin(message);
}

const unauthorized = () => token.get() !== null && signOut('The token is no longer accepted (TEN_ERR_API_UNAUTHORIZED). Enter the current one: it is in {data_dir}/api_token on the server.');

async function onLogin(ev) {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('token'));
  const button = /** @type {HTMLButtonElement} */ ($('login-submit'));
  const t = input.value.trim();
  if (!t) return setText($('login-error'), 'Enter the API token.');
  button.disabled = true;
  setText($('login-error'), '');
  try {
    state.who = await call('GET', '/api/whoami', undefined, { token: t });
  } catch (err) {
    const msg = err instanceof ApiError && err.status === 401
      ? `Wrong token: ten serve refused it (${err.code}). Copy it again from {data_dir}/api_token on the server.`
      : `Could not sign in: ${err instanceof ApiError ? err.describe() : err}`;
    setText($('login-error'), msg);
    input.select();
    return;
  } finally {
    button.disabled = false;
  }
  token.set(t);
  input.value = '';
  openDashboard();
  // the form is gone: keyboard and screen reader users continue at the top of the dashboard
  $('main').focus();
}

// ------------------------------------------------------------------------ session

function openDashboard() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('forget').hidden = false;
  const stops = [];
  const refreshSoon = debounce(() => void refresh(), 150);
  const historySoon = debounce(() => { void loadHistory(); void loadRollouts(); }, 800);
  const timer = setInterval(() => { void refresh(); if (state.rollouts.size > 0) void loadRollouts(); }, POLL_MS);
  const logs = new LogPanel({
    form: /** @type {HTMLFormElement} */ ($('log-form')), list: $('log-lines'), instance: /** @type {HTMLSelectElement} */ ($('log-instance')),
    stream: /** @type {HTMLSelectElement} */ ($('log-stream')), grep: /** @type {HTMLInputElement} */ ($('log-grep')),
    follow: /** @type {HTMLInputElement} */ ($('log-follow')), status: $('log-status'), heading: $('logs-h'),
  }, { onUnauthorized: unauthorized });
  session = {
    refreshSoon, historySoon, logs,
    stop() {
      clearInterval(timer);
      refreshSoon.cancel();
      historySoon.cancel();
      logs.stop();
      for (const s of stops) s.stop();
    },
  };
  void (async () => {
    try {
      state.who ??= await api('GET', '/api/whoami');
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401) setText($('load-error'), `Could not load the token's scope: ${err.describe()}`);
      return;
    }
    await refresh();
    if (!session) return;
    logs.setInstances([...state.instances.keys()]);
    logs.run();
    await Promise.all([loadStats(), loadHistory(), loadRollouts()]);
    if (!session) return;
    // instance events (state, weight, spawned, exited; deploy and rollout steps) refresh at once
    stops.push(follow(() => '/api/logs/stream?stream=event&n=0', {
      headers: authHeaders,
      onEvent: (e) => { if (e.event === 'line') { refreshSoon(); historySoon(); } },
      onState: (s) => streamState('events', s),
      onUnauthorized: unauthorized,
      onRefused: () => streamState('events', 'off'),
    }));
    if (state.metrics === 'on') {
      stops.push(follow(() => '/api/stats/stream', {
        headers: authHeaders,
        onEvent: (e) => { if (e.event === 'stats') { try { applyStats(JSON.parse(e.data), false); } catch { /* skipped */ } } },
        onState: (s) => streamState('stats', s),
        onUnauthorized: unauthorized,
        onRefused: (err) => { streamState('stats', 'off'); metricsOff(err); },
      }));
    }
  })();
}

/** Call the API for the page: a 401 signs out; other errors are thrown to the caller. */
async function api(method, path, body) {
  try {
    return await call(method, path, body);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) unauthorized();
    throw err;
  }
}

function streamState(name, s) {
  state.streams.set(name, s);
  const all = [...state.streams.values()];
  const text = all.includes('live') ? 'Live' : all.includes('reconnecting') ? 'Reconnecting…' : `Refreshing every ${POLL_MS / 1000} s`;
  setText($('conn'), text);
  $('conn').dataset.state = all.includes('live') ? 'live' : all.includes('reconnecting') ? 'retry' : 'poll';
}

// ------------------------------------------------------------------------ data

async function refresh() {
  try {
    // a tenant token may not read the services' settings: their names come with /api/whoami
    const [s, i] = await Promise.all([
      tenant() === null ? api('GET', '/api/services') : { services: state.who.services.map((name) => ({ name, health: null, weight: null })) },
      api('GET', '/api/instances'),
    ]);
    state.services = s.services;
    const before = new Set(state.instances.keys());
    state.instances = new Map(i.instances.map((x) => [x.key, x]));
    for (const k of state.instances.keys()) if (!before.has(k) && before.size > 0) announce(`${k} appeared`);
    for (const k of before) if (!state.instances.has(k)) { state.series.delete(k); state.stats.delete(k); }
    setText($('version'), `${serverVersion ? `v${serverVersion}` : ''}${tenant() === null ? '' : ` · tenant ${tenant()}`}`);
    setText($('load-error'), '');
    render();
    session?.logs.setInstances([...state.instances.keys()]);
  } catch (err) {
    if (err instanceof ApiError && err.status !== 401) setText($('load-error'), `Could not load the instances: ${err.describe()}`);
  }
}

async function loadStats() {
  try {
    const snap = await api('GET', '/api/stats');
    state.metrics = 'on';
    $('notice').hidden = true;
    applyStats(snap, true);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) metricsOff(err);
    else if (err instanceof ApiError && err.status !== 401) setText($('load-error'), `Could not load the numbers: ${err.describe()}`);
  }
}

/** No numbers: say why (a 404 is a server without the stats routes; anything else is shown as is). */
function metricsOff(err) {
  state.metrics = 'off';
  const n = $('notice');
  n.hidden = false;
  setText(n, err.status === 404
    ? `No numbers or charts: this server has no GET /api/stats (${err.code}). The metrics slot is off `
      + '([plugins.metrics] use = false) or its plugin does not serve stats. Instances, actions, history and logs still work.'
    : `No live numbers: ${err.describe()}`);
  render();
}

/** Take a stats snapshot ({ at, instances: [row] }); with `withHistory`, each row's history
 *  replaces the instance's series, else the row is one more point. */
function applyStats(snap, withHistory) {
  const t = fmt.epochSeconds(snap.at ?? Date.now());
  let stale = false;
  for (const row of snap.instances ?? []) {
    const key = `${row.service}:${row.instance}`;
    state.stats.set(key, row);
    let s = state.series.get(key);
    if (!s) state.series.set(key, (s = new Series()));
    if (withHistory && row.history) s.load(row.history, fmt.epochSeconds);
    else if (Number.isFinite(t)) s.push(t, row);
    const known = state.instances.get(key);
    if (!known || (row.state !== undefined && row.state !== known.state) || (row.weight !== undefined && row.weight !== known.weight)) stale = true;
  }
  if (stale) session?.refreshSoon();
  renderNumbers();
}

async function loadHistory() {
  if (tenant() !== null) {
    state.workflows = false;
    setText($('history-status'), 'The deploy history is shown to admin tokens only.');
    $('history-table').hidden = true;
    return;
  }
  try {
    const r = await api('GET', `/api/workflows/history?limit=${MAX_HISTORY}`);
    state.workflows = true;
    renderHistory(r.entries ?? []);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status === 401) return;
    if (err.status === 404 && err.code === 'TEN_ERR_API_NOT_FOUND') {
      state.workflows = false;
      setText($('history-status'), 'No deploy history: the workflows slot is off ([plugins.workflows] use = false).');
      $('history-table').hidden = true;
      render();
    } else {
      setText($('history-status'), `Could not load the history: ${err.describe()}`);
    }
  }
}

async function loadRollouts() {
  if (!state.workflows || tenant() !== null) return;
  const next = new Map();
  await Promise.all(state.services.map(async (s) => {
    try {
      const op = await api('GET', `/api/workflows/rollout/${encodeURIComponent(s.name)}`);
      if (op?.status === 'running') next.set(s.name, op);
    } catch { /* 404: no rollout of this service */ }
  }));
  state.rollouts = next;
  render();
}

// ------------------------------------------------------------------------ actions

/** Run an action from `button`: disabled while it runs, its outcome announced, the list refreshed. */
async function act(button, what, fn) {
  button.disabled = true;
  try {
    const done = await fn();
    flash(done ?? `${what}: done`, false);
  } catch (err) {
    flash(`${what} failed: ${err instanceof ApiError ? err.describe() : err}`, true);
  } finally {
    button.disabled = false;
    void refresh();
  }
}

function flash(text, isError) {
  setText($('flash-ok'), isError ? '' : text);
  setText($('flash-error'), isError ? text : '');
}

/** A message for screen readers only (instance appeared, …). */
function announce(text) {
  setText($('announce'), text);
}

// ------------------------------------------------------------------------ rendering

function render() {
  const root = $('services');
  if (state.services.length === 0) {
    root.replaceChildren(h('p', {}, 'No services are defined in tenement.toml.'));
    sections.clear();
    return;
  }
  if (sections.size === 0) root.replaceChildren();
  const seen = new Set();
  let charted = 0;
  state.services.forEach((svc, i) => {
    seen.add(svc.name);
    let sec = sections.get(svc.name);
    if (!sec) sections.set(svc.name, (sec = serviceSection(svc.name)));
    if (root.children[i] !== sec.el) root.insertBefore(sec.el, root.children[i] ?? null);
    charted = updateSection(sec, svc, charted);
  });
  for (const [name, sec] of sections) {
    if (seen.has(name)) continue;
    sec.el.remove();
    sections.delete(name);
  }
  for (const [key, c] of cards) {
    if (state.instances.has(key)) continue;
    c.charts?.forEach((s) => s.destroy());
    c.el.remove();
    cards.delete(key);
  }
  renderNumbers();
}

function serviceSection(name) {
  const id = `svc-${name}`;
  const meta = h('p', { class: 'meta' });
  const rollout = h('div', { class: 'rollout', hidden: true, role: 'status' });
  const list = h('div', { class: 'cards' });
  const more = h('p', { class: 'meta', hidden: true });
  const spawnId = h('input', { id: `${id}-spawn-id`, name: 'id', required: true, pattern: '[a-z0-9]([a-z0-9\\-]{0,61}[a-z0-9])?', autocomplete: 'off', spellcheck: 'false', placeholder: 'v2' });
  // a tenant token spawns only its own id
  if (tenant() !== null) Object.assign(spawnId, { value: tenant(), readOnly: true });
  const spawnWeight = h('input', { id: `${id}-spawn-weight`, name: 'weight', type: 'number', min: 0, max: 100, step: 1, inputmode: 'numeric' });
  const spawnBtn = h('button', { type: 'submit' }, 'Spawn', srOnly(` an instance of ${name}`));
  const spawn = h('form', { class: 'inline', 'aria-label': `Spawn an instance of ${name}` },
    h('label', { for: spawnId.id }, 'New id'), spawnId,
    h('label', { for: spawnWeight.id }, 'Weight'), spawnWeight, spawnBtn);
  spawn.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { service: name, id: spawnId.value.trim() };
    if (spawnWeight.value !== '') body.weight = Number(spawnWeight.value);
    void act(spawnBtn, `Spawn ${name}:${body.id}`, async () => {
      await api('POST', '/api/instances', body);
      spawn.reset();
      if (tenant() !== null) spawnId.value = tenant();
      return `${name}:${body.id} spawned`;
    });
  });
  const from = h('select', { id: `${id}-route-from`, name: 'from' });
  const to = h('select', { id: `${id}-route-to`, name: 'to' });
  const force = h('input', { id: `${id}-route-force`, type: 'checkbox', name: 'force' });
  const routeBtn = h('button', { type: 'submit' }, 'Switch traffic', srOnly(` of ${name}`));
  const route = h('form', { class: 'inline', 'aria-label': `Switch the traffic of ${name}` },
    h('label', { for: from.id }, 'From'), from, h('label', { for: to.id }, 'to'), to,
    h('span', { class: 'check' }, force, h('label', { for: force.id }, 'even if not healthy')), routeBtn);
  route.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { service: name, from: from.value, to: to.value, ...(force.checked ? { force: true } : {}) };
    void act(routeBtn, `Switch ${name} to ${body.to}`, async () => {
      await api('POST', '/api/workflows/route', body);
      return `${name}: all traffic now goes to ${body.to}`;
    });
  });
  const el = h('section', { class: 'service', 'aria-labelledby': `${id}-h` },
    h('h3', { id: `${id}-h` }, name), meta, rollout, list, more,
    h('div', { class: 'svc-actions' }, spawn, route));
  return { el, name, meta, rollout, list, more, route, from, to };
}

function updateSection(sec, svc, charted) {
  const all = [...state.instances.values()].filter((i) => i.service === svc.name);
  const count = `${all.length} instance${all.length === 1 ? '' : 's'}`;
  setText(sec.meta, tenant() === null ? `${count} · health ${svc.health ?? 'none'} · default weight ${svc.weight}` : `${count} of tenant ${tenant()}`);
  const shown = all.slice(0, MAX_INSTANCES_PER_SERVICE);
  sec.more.hidden = all.length <= shown.length;
  setText(sec.more, `…and ${all.length - shown.length} more (ten ps lists them all).`);
  shown.forEach((inst, i) => {
    let c = cards.get(inst.key);
    if (!c) cards.set(inst.key, (c = instanceCard(inst)));
    if (sec.list.children[i] !== c.el) sec.list.insertBefore(c.el, sec.list.children[i] ?? null);
    updateCard(c, inst, state.metrics !== 'off' && charted++ < MAX_CHARTED);
  });
  // cards of this service beyond the cap
  while (sec.list.children.length > shown.length) {
    const last = /** @type {HTMLElement} */ (sec.list.lastElementChild);
    const key = last.dataset.key;
    if (key) { cards.get(key)?.charts?.forEach((s) => s.destroy()); cards.delete(key); }
    last.remove();
  }
  if (sec.list.children.length === 0) sec.list.replaceChildren(h('p', { class: 'meta' }, 'No instances. Spawn one below, or run ten spawn.'));
  // route form: only with the workflows slot, choices = this service's instances
  sec.route.hidden = !state.workflows || tenant() !== null || all.length < 2;
  // defaults: from the instance with the most weight to the first other one
  const heaviest = [...all].sort((a, b) => b.weight - a.weight)[0]?.id;
  syncOptions(sec.from, all.map((i) => i.id), heaviest);
  syncOptions(sec.to, all.map((i) => i.id), all.find((i) => i.id !== sec.from.value)?.id);
  const op = state.rollouts.get(svc.name);
  sec.rollout.hidden = !op;
  if (op) {
    const last = op.steps?.[op.steps.length - 1]?.message ?? 'started';
    const abort = h('button', { type: 'button', class: 'danger' }, 'Abort rollout', srOnly(` of ${svc.name}`));
    abort.addEventListener('click', () => void act(abort, `Abort the rollout of ${svc.name}`, async () => {
      await api('POST', `/api/workflows/rollout/${encodeURIComponent(svc.name)}/abort`);
      return `Rollout of ${svc.name} aborted`;
    }));
    const text = `Rollout to ${op.params?.to ?? '?'} in progress: ${last}`;
    if (sec.rollout.dataset.text !== text) {
      sec.rollout.dataset.text = text;
      sec.rollout.replaceChildren(h('span', {}, text), ' ', abort);
    }
  } else {
    delete sec.rollout.dataset.text;
  }
  return charted;
}

/** Make a <select> offer `values`, keeping the user's choice; `preferred` when there is none. */
function syncOptions(sel, values, preferred) {
  const have = [...sel.options].map((o) => o.value);
  if (have.length === values.length && have.every((v, i) => v === values[i])) return;
  const current = sel.value;
  sel.replaceChildren(...values.map((v) => h('option', { value: v }, v)));
  sel.value = values.includes(current) ? current : (preferred ?? values[0] ?? '');
}

function instanceCard(inst) {
  const key = inst.key;
  const id = `i-${inst.service}-${inst.id}`;
  const stateBadge = h('span', { class: 'badge' });
  const healthBadge = h('span', { class: 'badge' });
  const dd = {};
  const dl = h('dl', { class: 'nums' }, ...NUMBERS.map(([k, label]) => h('div', {}, h('dt', {}, label), (dd[k] = h('dd', {}, '–')))));
  const weight = /** @type {HTMLInputElement} */ (h('input', { id: `${id}-weight`, type: 'number', min: 0, max: 100, step: 1, required: true, inputmode: 'numeric' }));
  weight.addEventListener('input', () => { weight.dataset.dirty = '1'; });
  const setBtn = h('button', { type: 'submit' }, 'Set weight', srOnly(` of ${key}`));
  const form = h('form', { class: 'inline weight' }, h('label', { for: weight.id }, 'Weight', srOnly(` of ${key}`)), weight, setBtn);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const w = Number(weight.value);
    void act(setBtn, `Set the weight of ${key}`, async () => {
      await api('PUT', `${instancePath(inst.service, inst.id)}/weight`, { weight: w });
      delete weight.dataset.dirty;
      return `${key}: weight set to ${w}`;
    });
  });
  const startLabel = h('span', {}, 'Restart');
  const start = h('button', { type: 'button' }, startLabel, srOnly(` ${key}`));
  start.addEventListener('click', () => void act(start, `${startLabel.textContent} ${key}`, async () => {
    const verb = startLabel.textContent;
    await api('POST', `${instancePath(inst.service, inst.id)}/restart`);
    return `${key}: ${verb === 'Start' ? 'started' : 'restarted'}`;
  }));
  const stop = h('button', { type: 'button', class: 'danger' }, 'Stop', srOnly(` ${key}`));
  stop.addEventListener('click', () => {
    if (!confirm(`Stop ${key} and remove it? Requests in flight finish first. (To keep it but send it no traffic, set its weight to 0.)`)) return;
    void act(stop, `Stop ${key}`, async () => {
      await api('DELETE', instancePath(inst.service, inst.id));
      return `${key} stopped and removed`;
    });
  });
  const logs = h('button', { type: 'button' }, 'Logs', srOnly(` of ${key}`));
  logs.addEventListener('click', () => session?.logs.show(key));
  const chartsBox = h('div', { class: 'charts', hidden: true });
  const el = h('article', { class: 'card', 'data-key': key, 'aria-labelledby': `${id}-h` },
    h('header', {}, h('h4', { id: `${id}-h` }, key), stateBadge, healthBadge),
    dl, chartsBox, h('div', { class: 'actions' }, form, start, stop, logs));
  return { el, key, stateBadge, healthBadge, dd, weight, startLabel, chartsBox, charts: null, chartNow: null };
}

function updateCard(c, inst, withCharts) {
  setText(c.stateBadge, inst.state);
  c.stateBadge.className = `badge state-${inst.state}`;
  setText(c.healthBadge, inst.health);
  c.healthBadge.className = `badge health-${inst.health}`;
  setText(c.dd.weight, String(inst.weight));
  setText(c.dd.restarts, String(inst.restarts));
  c.startedAt = inst.started_at ? Date.parse(inst.started_at) : null;
  if (!c.weight.dataset.dirty && document.activeElement !== c.weight) c.weight.value = String(inst.weight);
  setText(c.startLabel, RUNNING.has(inst.state) ? 'Restart' : 'Start');
  if (withCharts && !c.charts) {
    c.chartNow = {};
    c.charts = MEASURES.map((m) => {
      const plot = h('div', { class: 'plot', 'aria-hidden': 'true' });
      c.chartsBox.append(h('figure', {}, h('figcaption', {}, m.label, ' ', (c.chartNow[m.key] = h('span', { class: 'now' }))), plot));
      return new Spark(plot, m.color);
    });
    c.chartsBox.hidden = false;
  } else if (!withCharts && c.charts) {
    c.charts.forEach((s) => s.destroy());
    c.charts = null;
    c.chartsBox.replaceChildren();
    c.chartsBox.hidden = true;
  }
}

const SHOW = { requests_per_second: fmt.rate, p99_seconds: fmt.latency, cpu_ratio: fmt.percent, memory_bytes: fmt.bytes };

/** Numbers and charts of every card from the latest stats (and uptime from started_at). */
function renderNumbers() {
  const now = Date.now();
  for (const [key, c] of cards) {
    setText(c.dd.uptime, c.startedAt ? fmt.duration((now - c.startedAt) / 1000) : '–');
    const row = state.stats.get(key);
    setText(c.dd.rps, fmt.rate(row?.requests_per_second));
    setText(c.dd.errors, fmt.percent(row?.error_ratio));
    setText(c.dd.p99, fmt.latency(row?.p99_seconds));
    setText(c.dd.cpu, fmt.percent(row?.cpu_ratio));
    setText(c.dd.memory, fmt.bytes(row?.memory_bytes));
    const s = state.series.get(key);
    if (c.charts && s) {
      MEASURES.forEach((m, i) => {
        c.charts[i].update(s.t, s.v[m.key]);
        setText(c.chartNow[m.key], SHOW[m.key](row?.[m.key]));
      });
    }
  }
}

function renderHistory(entries) {
  const body = $('history-body');
  $('history-table').hidden = entries.length === 0;
  setText($('history-status'), entries.length === 0 ? 'No deploys, routes or rollouts yet.' : '');
  // newest first
  const rows = [...entries].sort((a, b) => String(b.at).localeCompare(String(a.at))).slice(0, MAX_HISTORY).map((e) => {
    const at = Date.parse(e.at);
    return h('tr', { class: `outcome-${e.outcome}` },
      h('td', {}, h('time', { datetime: e.at, title: new Date(at).toLocaleString() }, fmt.clock(at))),
      h('td', {}, e.service), h('td', {}, e.kind), h('td', {}, e.outcome), h('td', { class: 'detail' }, e.detail));
  });
  body.replaceChildren(...rows);
}

// ------------------------------------------------------------------------ start

const resizeCharts = debounce(() => { for (const c of cards.values()) c.charts?.forEach((s) => s.resize()); }, 200);
window.addEventListener('resize', resizeCharts);
$('login-form').addEventListener('submit', onLogin);
$('forget').addEventListener('click', () => signOut('Token forgotten. Enter it again to open the dashboard.'));
if (token.get()) openDashboard();
else showLogin();
