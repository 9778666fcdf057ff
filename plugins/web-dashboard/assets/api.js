// The management API as the page uses it: JSON over fetch() with `Authorization: Bearer <token>`.
// The token lives in sessionStorage (this tab only, gone when it closes) and is never put in a URL.

const TOKEN_KEY = 'tenement.token';

/** The token of this browser tab. */
export const token = {
  /** @returns {string | null} */
  get: () => sessionStorage.getItem(TOKEN_KEY),
  /** @param {string} t */
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A refused request: `status` (0 when ten serve could not be reached), the API's `code`
 *  (TEN_ERR_…), its one-line `message` and its `hint`. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {string} [hint] */
  constructor(status, code, message, hint = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.hint = hint;
  }

  /** "TEN_ERR_X: message (hint)" for people. */
  describe() {
    return `${this.code}: ${this.message}${this.hint ? ` — ${this.hint}` : ''}`;
  }
}

/** The ApiError of a non-2xx answer: the API's `{ code, message, hint }` body (or
 *  `{ error: { … } }`), else the status line. */
export async function errorFromResponse(res) {
  let body;
  try { body = await res.json(); } catch { body = undefined; }
  const e = (body && typeof body === 'object' && (body.error ?? body)) || {};
  return new ApiError(res.status, typeof e.code === 'string' ? e.code : `HTTP ${res.status}`,
    typeof e.message === 'string' ? e.message : res.statusText || 'request failed', typeof e.hint === 'string' ? e.hint : '');
}

/** Headers that authenticate a request with this tab's token. */
export function authHeaders() {
  const t = token.get();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** The version ten serve reported in its last answer (the x-tenement-api header), or ''. */
export let serverVersion = '';

/**
 * One API call. Resolves with the parsed JSON body (undefined for an empty one); rejects with an
 * ApiError: the API's own for a 4xx/5xx, status 0 (code NETWORK) when ten serve cannot be reached.
 * @param {'GET'|'POST'|'PUT'|'DELETE'} method
 * @param {string} path same-origin path with query, e.g. /api/instances
 * @param {unknown} [body] sent as JSON
 * @param {{ token?: string, signal?: AbortSignal }} [o] another token (the sign-in check)
 */
export async function call(method, path, body, o = {}) {
  const headers = { accept: 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : authHeaders()) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', signal: o.signal });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', `could not reach ten serve (${err?.message ?? err})`, 'check that ten serve is running and reachable from this browser');
  }
  serverVersion = res.headers.get('x-tenement-api') ?? serverVersion;
  if (!res.ok) throw await errorFromResponse(res);
  const text = await res.text();
  return text === '' ? undefined : JSON.parse(text);
}

/** `/api/instances/<service>/<id>` with both parts escaped. */
export const instancePath = (service, id) => `/api/instances/${encodeURIComponent(service)}/${encodeURIComponent(id)}`;
