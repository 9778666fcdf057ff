// Example app for tenement: a fastify server. tenement passes PORT (and DATA_DIR, SOCKET_PATH) in
// the environment; /health answers 200. fastify resolves from tenement's own node_modules inside
// the repository; a copy elsewhere needs `npm install` first.
import { basename, dirname } from 'node:path';
import Fastify from 'fastify';

const port = Number(process.env.PORT ?? 3000);
// INSTANCE when the config sets it, else service:id from DATA_DIR ({data_dir}/{service}/{id})
const dataDir = process.env.DATA_DIR;
const name = process.env.INSTANCE ?? (dataDir ? `${basename(dirname(dataDir))}:${basename(dataDir)}` : 'node-app');

const app = Fastify();
// any request body is accepted (up to fastify's bodyLimit, 1 MiB) and ignored
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null));

app.get('/health', async (_req, reply) => reply.type('text/plain').send('ok\n'));

// every other path and method: who answered, and what it was asked
app.all('*', async (req, reply) => reply.type('application/json').send(JSON.stringify({
  app: 'node',
  instance: name,
  pid: process.pid,
  method: req.method,
  path: req.url,
  forwardedFor: req.headers['x-forwarded-for'] ?? null,
}) + '\n'));

await app.listen({ port, host: '127.0.0.1' });
console.log(`${name} listening on 127.0.0.1:${port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
