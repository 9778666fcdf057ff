// The upstream of bench/proxy.ts: a dependency-free Node HTTP server that answers every request
// with the same small body (13 bytes), so each target moves exactly the same bytes.
// tenement starts it as an instance and passes PORT; /health answers like any other path.
import http from 'node:http';

const body = Buffer.from('hello, bench\n');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000; // longer than any proxy's idle upstream connection
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
