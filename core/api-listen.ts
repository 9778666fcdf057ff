// `[settings] api_listen` (docs/access.md#api_listen): the management API and the dashboard on a
// listener of their own instead of the {domain} host, either a loopback TCP address or a Unix
// socket created with mode 0600. A non-loopback address is refused: the API has no TLS of its own,
// and the {domain} host already serves it publicly when that is wanted. Parsed here for the
// config (config.ts), ten serve (listener.ts) and the CLI (cli/client.ts), which finds the API
// through it.
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { TenementError } from './errors.ts';

/** A parsed api_listen: a loopback host and port, or an absolute Unix socket path. */
export type ApiAddress = { host: string; port: number; path?: undefined } | { path: string; host?: undefined; port?: undefined };

/** Bytes a Unix socket path may have (sun_path is 108 bytes with its NUL on Linux). */
const MAX_SOCKET_PATH = 107;

/**
 * `"127.0.0.1:9091"`, `"[::1]:9091"` (any address of 127.0.0.0/8, or ::1; port 1–65535) or
 * `"unix:PATH"` (relative paths resolve against `dir`, the config file's folder) → its parts, or
 * a sentence saying what is wrong (for TEN_ERR_CONFIG_INVALID_VALUE).
 */
export function parseApiListen(value: string, dir: string): ApiAddress | string {
  if (value.startsWith('unix:')) {
    const raw = value.slice(5);
    if (raw === '' || raw.includes('\0')) return `${JSON.stringify(value)} has no socket path: expected "unix:/path/to/ten.sock"`;
    const path = resolve(dir, raw);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return `${JSON.stringify(value)}: the socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes, the most a Unix socket address holds`;
    return { path };
  }
  const m = /^(?:\[([^\]]*)\]|([0-9.]+)):(\d{1,5})$/.exec(value);
  const expected = 'expected a loopback address such as "127.0.0.1:9091" or "[::1]:9091", or "unix:/path/to/ten.sock"';
  if (!m) return `${JSON.stringify(value)} is not an address: ${expected}`;
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  const loopback = m[1] !== undefined ? net.isIPv6(host) && /^(0{0,4}:){2,7}0{0,3}1$|^::1$/.test(host) : net.isIPv4(host) && host.startsWith('127.');
  if (!loopback) return `${JSON.stringify(value)} is not a loopback address: the management API listens on 127.0.0.0/8, ::1 or a Unix socket only (to serve it to other hosts, leave api_listen unset: it is then on the {domain} host)`;
  if (port < 1 || port > 65535) return `${JSON.stringify(value)} has port ${port}: a port is 1 to 65535`;
  return { host, port };
}

/** How an ApiAddress is written in messages and logs: `127.0.0.1:9091`, `[::1]:9091`, `unix:/run/ten.sock`. */
export function formatApiAddress(a: ApiAddress): string {
  if (a.path !== undefined) return `unix:${a.path}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Listen on `a` with `server`; resolves once listening. A Unix socket is created in a fresh
 * private folder (0700) next to its path, given mode 0600 there, and renamed into place: no other
 * user can connect to it at any moment. A socket file left by a ten serve that is gone (nothing
 * accepts on it) is replaced; a live one, or a path that is not a socket, is
 * TEN_ERR_SERVE_LISTEN_FAILED. Returns a function that removes the socket file (at shutdown).
 */
export async function listenApi(server: http.Server, a: ApiAddress): Promise<() => void> {
  const where = formatApiAddress(a);
  const failed = (why: string) => new TenementError('TEN_ERR_SERVE_LISTEN_FAILED', ['[settings] api_listen', where, why]);
  const listen = (opts: net.ListenOptions) => new Promise<void>((ok, fail) => {
    const onError = (err: Error) => fail(failed(err.message));
    server.once('error', onError);
    server.listen(opts, () => { server.off('error', onError); ok(); });
  });
  if (a.path === undefined) {
    await listen({ host: a.host, port: a.port });
    return () => undefined;
  }
  const path = a.path;
  const old = lstatSync(path, { throwIfNoEntry: false });
  if (old && !old.isSocket()) throw failed(`${path} exists and is not a socket`);
  if (old && await answers(path)) throw failed(`another process accepts connections on ${path} (another ten serve?)`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = join(dirname(path), `.ten-api-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp, { mode: 0o700 });
  try {
    const inside = join(tmp, 'sock');
    await listen({ path: inside });
    chmodSync(inside, 0o600);
    renameSync(inside, path); // replaces a stale socket file atomically
  } catch (err) {
    server.close();
    throw err instanceof TenementError ? err : failed((err as Error).message);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const ino = lstatSync(path).ino;
  return () => {
    // only our own socket file: another ten serve may have replaced it meanwhile
    if (lstatSync(path, { throwIfNoEntry: false })?.ino === ino) unlinkSync(path);
  };
}

/** true when something accepts a connection on the Unix socket `path` within 1 s. */
function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const s = net.connect({ path });
    const end = (ok: boolean) => { clearTimeout(t); s.destroy(); done(ok); };
    const t = setTimeout(() => end(true), 1000);
    s.once('connect', () => end(true));
    s.once('error', () => end(false));
  });
}
