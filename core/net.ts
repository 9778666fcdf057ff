// Small socket helpers: free ports, connect checks, a bounded HTTP GET — to an instance's TCP
// port on 127.0.0.1 or to its Unix socket.
import http from 'node:http';
import net from 'node:net';
import type { Instance } from './types.ts';

/** Where an instance listens: a TCP port on 127.0.0.1, or a Unix socket path (`listen = "socket"`). */
export type Address = { port: number; socketPath?: undefined } | { port?: undefined; socketPath: string };

/** The address the proxy and the probes use for an instance, or undefined while it has no process. */
export function instanceAddress(inst: Pick<Instance, 'port' | 'socket'>): Address | undefined {
  if (inst.port === null) return undefined;
  return inst.socket !== null ? { socketPath: inst.socket } : { port: inst.port };
}

/** node:http request options reaching an address (host and port, or socketPath). */
export function httpTarget(a: Address): { host: string; port: number } | { socketPath: string } {
  return a.socketPath === undefined ? { host: '127.0.0.1', port: a.port } : { socketPath: a.socketPath };
}

/** Node's connect options for an address. */
function connectTo(a: Address): { host: string; port: number } | { path: string } {
  return a.socketPath === undefined ? { host: '127.0.0.1', port: a.port } : { path: a.socketPath };
}

/** A port the OS says is free on 127.0.0.1, not in `taken`. Checked by binding, not assumed. */
export async function freePort(taken: ReadonlySet<number>): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    if (!taken.has(port)) return port;
  }
  throw new Error('no free port found after 20 attempts');
}

/** true when something accepts a connection at `addr` within timeoutMs. */
export function canConnect(addr: Address, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(connectTo(addr));
    const done = (ok: boolean) => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** GET {path} at `addr`; resolves with the status, or an error string. Never rejects. */
export function httpGet(addr: Address, path: string, timeoutMs: number): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ ...httpTarget(addr), path, agent: false, headers: { host: 'localhost', 'user-agent': 'tenement-health' } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode }));
      res.once('error', () => resolve({ status: res.statusCode }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ error: err.code === 'ETIMEDOUT' ? `timeout after ${timeoutMs} ms` : (err.code ?? err.message) }));
  });
}
