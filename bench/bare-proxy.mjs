// The "bare http-proxy" peer of bench/proxy.ts: http-proxy-3 in front of one upstream with the
// options tenement used before its undici rewrite (xfwd, a keep-alive agent with the same limits),
// an error handler, and nothing else. Usage: PORT=... UPSTREAM_PORT=... node bench/bare-proxy.mjs
import http from 'node:http';
import { createProxyServer } from 'http-proxy-3';

const target = { host: '127.0.0.1', port: Number(process.env.UPSTREAM_PORT) };
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 60_000 });
const proxy = createProxyServer({ xfwd: true });
proxy.on('error', () => undefined);
const server = http.createServer((req, res) => {
  proxy.web(req, res, { target, agent }, () => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('bare proxy listening'));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); agent.destroy(); });
