// A reference point for bench/proxy.ts, not a peer: the least a Node proxy can do with node:http
// alone (keep-alive agent with tenement's limits, the same X-Forwarded-* headers, pipe both ways,
// 502 on error). It skips what a real proxy must do (hop-by-hop headers, upgrades, timeouts), so
// the gap between it and the bare http-proxy-3 script is http-proxy-3's own cost per request.
// Usage: PORT=... UPSTREAM_PORT=... node bench/raw-proxy.mjs
import http from 'node:http';

const upstreamPort = Number(process.env.UPSTREAM_PORT);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 60_000 });
const server = http.createServer((req, res) => {
  const headers = {
    ...req.headers, 'x-forwarded-for': req.socket.remoteAddress, 'x-forwarded-port': String(req.socket.localPort),
    'x-forwarded-proto': 'http', 'x-forwarded-host': req.headers.host ?? '',
  };
  const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent }, (ur) => {
    res.writeHead(ur.statusCode ?? 502, ur.rawHeaders);
    ur.pipe(res);
  });
  up.on('error', () => { if (res.headersSent) res.destroy(); else res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n'); });
  res.on('close', () => { if (!res.writableFinished) up.destroy(); });
  req.pipe(up);
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('raw proxy listening'));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); agent.destroy(); });
