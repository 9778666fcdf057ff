// The upstream of bench/proxy.ts and bench/tenants.ts: a dependency-free Node HTTP server that
// answers every request with the same small body (13 bytes), so each target moves exactly the
// same bytes. tenement starts it as an instance and passes PORT (and SOCKET_PATH); /health answers
// like any other path. It listens on the Unix socket $SOCKET_PATH instead of the port when its
// service asks for it with LISTEN = "socket" in its env table (a `listen = "socket"` service).
import http from 'node:http';
import { rmSync } from 'node:fs';

const body = Buffer.from('hello, bench\n');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000; // longer than any proxy's idle upstream connection
if (process.env.LISTEN === 'socket') {
  const path = process.env.SOCKET_PATH;
  if (!path) {
    console.error('upstream: LISTEN=socket but SOCKET_PATH is not set');
    process.exit(2);
  }
  rmSync(path, { force: true }); // a stale socket file from a previous process
  server.listen(path);
} else {
  server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
}
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
