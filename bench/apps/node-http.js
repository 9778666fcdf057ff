// The Node app of the wake and isolation benches: a dependency-free HTTP server (what
// examples/node-app was when docs/benchmarks.md was measured; that example is a fastify app now).
// tenement passes PORT (and DATA_DIR) in the environment; /health answers 200.
import http from 'node:http';

const port = Number(process.env.PORT ?? 3000);
const name = process.env.INSTANCE ?? 'node-app';

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({
    app: 'node',
    instance: name,
    pid: process.pid,
    method: req.method,
    path: req.url,
    forwardedFor: req.headers['x-forwarded-for'] ?? null,
  }) + '\n');
});

server.listen(port, '127.0.0.1', () => console.log(`${name} listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
