// The exporter's own listener (`listen = "host:port"` under [plugins.metrics]): plain HTTP serving
// GET /metrics and nothing else, for a Prometheus that scrapes an internal address. Bounded like
// any listener should be: few connections, short header and request timeouts, small heads.
import http from 'node:http';
import { isIP } from 'node:net';
import { TenementError } from '../../core/index.ts';

/** Connections at once on the metrics listener. */
const MAX_CONNECTIONS = 64;

/** `host:port` or `[ipv6]:port` → its parts, or a sentence saying what is wrong with it. */
export function parseListen(value: string): { host: string; port: number } | string {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const expected = 'expected "host:port" (e.g. "127.0.0.1:9464", "[::1]:9464" or "0.0.0.0:9464")';
  if (!m) return `${JSON.stringify(value)} is not an address: ${expected}`;
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (m[1] !== undefined ? isIP(host) !== 6 : !(isIP(host) === 4 || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host))) {
    return `${JSON.stringify(value)} has no valid host ${JSON.stringify(host)}: ${expected}`;
  }
  if (port < 1 || port > 65535) return `${JSON.stringify(value)} has port ${port}: a port is 1 to 65535`;
  return { host, port };
}

/** A started metrics listener. */
export interface MetricsListener {
  /** The address it listens on, e.g. 127.0.0.1:9464. */
  address: string;
  close(): void;
}

/**
 * Listen on `host:port` and answer GET (and HEAD) /metrics with `text()`, 404 to any other path,
 * 405 to other methods. Resolves once listening; rejects with TEN_ERR_METRICS_LISTEN_FAILED
 * (address in use, not local, no permission).
 */
export function listenMetrics(host: string, port: number, text: () => Promise<string>, contentType: string, onError: (err: unknown) => void): Promise<MetricsListener> {
  // Node checks the head and request timeouts only every connectionsCheckingInterval (30 s by
  // default): checked each second, a 10 s head timeout is 10–11 s, not 30–40
  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024, connectionsCheckingInterval: 1000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const plain = (status: number, body: string, headers: http.OutgoingHttpHeaders = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(body);
    };
    if (path !== '/metrics') return plain(404, 'not found: this listener serves GET /metrics only\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(405, 'method not allowed: GET /metrics\n', { allow: 'GET, HEAD' });
    text().then((body) => {
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    }, (err) => {
      onError(err);
      if (!res.headersSent) plain(500, 'internal error: see the ten serve log\n');
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new TenementError('TEN_ERR_METRICS_LISTEN_FAILED', [address, err.code ?? err.message]));
    });
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      server.on('error', onError);
      resolve({
        address,
        close: () => {
          server.close();
          server.closeAllConnections();
        },
      });
    });
  });
}
