// The "bare undici" peer of bench/proxy.ts: node:http in front, one keep-alive undici Pool to the
// upstream behind, pool.dispatch() with a streaming handler (fastest of dispatch, stream and
// request in a side measurement, see docs/benchmarks.md). Method, path as sent, headers without
// the hop-by-hop ones plus the same X-Forwarded-* as the other peers, request body streamed when
// there is one, response streamed with backpressure, 502 on error, upstream request aborted when
// the client goes away. No timeouts, upgrades or 1xx: a floor, not a product.
// Usage: PORT=... UPSTREAM_PORT=... node bench/undici-proxy.mjs
import http from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(`http://127.0.0.1:${Number(process.env.UPSTREAM_PORT)}`, { connections: 256, keepAliveTimeout: 60_000 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authorization', 'proxy-authenticate']);
const bad = (res) => { if (res.headersSent) res.destroy(); else res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n'); };

const server = http.createServer((req, res) => {
  const raw = req.rawHeaders;
  const headers = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  headers.push('x-forwarded-for', req.socket.remoteAddress, 'x-forwarded-port', String(req.socket.localPort),
    'x-forwarded-proto', 'http', 'x-forwarded-host', req.headers.host ?? '');
  const body = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined ? req : null;
  let controller;
  res.once('close', () => { if (!res.writableFinished) controller?.abort(new Error('client went away')); });
  pool.dispatch({ method: req.method, path: req.url, headers, body }, {
    onRequestStart(c) { controller = c; },
    onResponseStart(c, status, h) {
      if (status < 200) return; // 1xx: not forwarded by this peer
      const out = {};
      for (const k in h) if (!HOP.has(k)) out[k] = h[k];
      res.writeHead(status, out);
    },
    onResponseData(c, chunk) { if (!res.write(chunk)) { c.pause(); res.once('drain', () => c.resume()); } },
    onResponseEnd() { res.end(); },
    onResponseError() { bad(res); },
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('undici proxy listening'));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); void pool.destroy(); });
