// [settings.tls] end to end (issue 12, acceptance 3): a self-signed wildcard certificate made here
// with openssl, a real ten serve with HTTPS, clients that verify it against the test CA: routing by
// SNI-named host, WebSockets over TLS, X-Forwarded-Proto, the plain listener's redirects, a renewal
// picked up without a restart (and a broken one refused), and bad pairs refused at start and reload.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { freePort } from '../../core/net.ts';
import { allRunning, cleanup, fixtureService, request, runCli, startTen, waitFor, type Ten } from './harness.ts';

const OPENSSL = '/usr/bin/openssl';
const skip = existsSync(OPENSSL) ? false : `needs ${OPENSSL} to make the test certificates (apt install openssl)`;

const certs = mkdtempSync(join(tmpdir(), 'ten-tls-certs-'));
const CERT = join(certs, 'live', 'cert.pem');
const KEY = join(certs, 'live', 'key.pem');

const openssl = (...args: string[]) => execFileSync(OPENSSL, args, { cwd: certs, stdio: ['ignore', 'pipe', 'pipe'] });

/** A test CA (ca.pem / ca.key) in the certs folder. */
function makeCa(): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tenement test CA');
  writeFileSync(join(certs, 'ext.cnf'), 'subjectAltName=DNS:*.api.localhost,DNS:api.localhost\nbasicConstraints=CA:FALSE\n');
}

/** A new key and a wildcard certificate for *.api.localhost + api.localhost signed by the test CA,
 *  with serial `serial`: the PEM texts and the serial as X509Certificate prints it. */
function issue(name: string, serial: number, o: { days?: number; san?: string } = {}): { cert: string; key: string; serial: string } {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=*.api.localhost');
  if (o.san) writeFileSync(join(certs, `${name}.cnf`), `subjectAltName=${o.san}\nbasicConstraints=CA:FALSE\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial), '-days', String(o.days ?? 1), '-extfile', o.san ? `${name}.cnf` : 'ext.cnf', '-out', `${name}.pem`);
  const cert = readFileSync(join(certs, `${name}.pem`), 'utf8');
  return { cert, key: readFileSync(join(certs, `${name}.key`), 'utf8'), serial: new X509Certificate(cert).serialNumber };
}

interface Answer { status: number; body: string; headers: Record<string, unknown>; serial: string | undefined; reused: boolean }

describe('HTTPS with [settings.tls]', { skip }, () => {
  let ten: Ten;
  let ca: Buffer;
  let httpsPort: number;
  let first: ReturnType<typeof issue>;
  let renewed: ReturnType<typeof issue>;
  const kept = new https.Agent({ keepAlive: true, maxSockets: 1 });

  /** One HTTPS request to ten serve, SNI and Host `host`, verified against the test CA. */
  const get = (host: string, path = '/', o: { agent?: https.Agent; method?: string } = {}) => new Promise<Answer>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: httpsPort, path, method: o.method ?? 'GET', servername: host, ca, headers: { host }, agent: o.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber; // (a kept-alive socket leaves res at its end)
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers, serial, reused: req.reusedSocket }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`https ${host}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });

  before(async () => {
    if (skip) return;
    makeCa();
    ca = readFileSync(join(certs, 'ca.pem'));
    first = issue('first', 1001);
    mkdirSync(join(certs, 'live'));
    writeFileSync(CERT, first.cert);
    writeFileSync(KEY, first.key, { mode: 0o600 });
    // port 0: the OS picks the HTTPS port (no race with other tests); ten serve logs it
    ten = await startTen(`[settings]\nkeepalive_timeout = 60\n\n[settings.tls]\ncert = "${CERT}"\nkey = "${KEY}"\nport = 0\n\n${fixtureService('api')}\n[instances]\napi = ["a", "b"]\n`);
    httpsPort = Number(/"https":"https:\/\/127\.0\.0\.1:(\d+)"/.exec(ten.output())?.[1]);
    assert.ok(httpsPort > 0, ten.output().slice(-2000));
    await allRunning(ten, 2);
  });

  after(async () => {
    kept.destroy();
    await cleanup();
    rmSync(certs, { recursive: true, force: true });
  });

  test('a.api.localhost reaches instance a and api.localhost is balanced, over a certificate the client verifies', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await get('a.api.localhost');
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).instance, 'api:a');
      assert.equal(r.serial, first.serial);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) seen.add(JSON.parse((await get('api.localhost')).body).instance);
    assert.deepEqual([...seen].sort(), ['api:a', 'api:b']);
    // the certificate names *.api.localhost and api.localhost, not other hosts: the check is real
    await assert.rejects(get('localhost', '/health'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  test('the app sees X-Forwarded-Proto https and the HTTPS port', async () => {
    const h = JSON.parse((await get('b.api.localhost', '/headers')).body).headers;
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-port'], String(httpsPort));
    assert.equal(h.host, 'b.api.localhost');
  });

  test('a WebSocket over TLS reaches its instance and echoes', async () => {
    // (ws passes servername on to tls.connect; its type does not list it)
    const ws = new WebSocket(`wss://127.0.0.1:${httpsPort}/ws`, { headers: { host: 'a.api.localhost' }, servername: 'a.api.localhost', ca, handshakeTimeout: 5000 } as WebSocket.ClientOptions);
    const messages: string[] = [];
    const next = () => waitFor('a WebSocket message', () => messages.shift(), 5000);
    ws.on('message', (m) => messages.push(String(m)));
    try {
      const hello = JSON.parse(await next());
      assert.equal(hello.instance, 'api:a');
      assert.equal(hello.forwardedProto, 'https');
      ws.send('over tls');
      assert.equal(await next(), 'echo:over tls');
    } finally {
      ws.terminate();
    }
  });

  test('plain HTTP redirects to HTTPS with host and target kept: 301 for GET, 308 for POST; /health and the CLI stay plain', async () => {
    const r = await request(ten.port, 'a.api.localhost:' + ten.port, '/some/path?x=1&y=2');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, `https://a.api.localhost:${httpsPort}/some/path?x=1&y=2`);
    const post = await request(ten.port, 'api.localhost', '/form', { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(post.status, 308);
    assert.equal(post.headers.location, `https://api.localhost:${httpsPort}/form`);
    // a WebSocket asked for over plain HTTP gets the same redirect
    const ws = new WebSocket(`ws://127.0.0.1:${ten.port}/ws`, { headers: { host: 'a.api.localhost' }, handshakeTimeout: 5000 });
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode!); ws.terminate(); });
      ws.once('open', () => reject(new Error('the upgrade went through plain HTTP')));
      ws.once('error', reject);
    });
    assert.equal(status, 301);
    // Host bounds come first: a bad Host is a 400, never a redirect to it
    const bad = await request(ten.port, 'a b.api.localhost', '/');
    assert.equal(bad.status, 400);
    assert.equal(bad.json().code, 'TEN_ERR_HTTP_BAD_REQUEST');
    assert.equal((await request(ten.port, 'localhost', '/health')).status, 200);
    // the management API from this host (what `ten` on the server uses) is served, not redirected
    assert.equal((await ten.api('GET', '/api/instances')).status, 200);
  });

  test('a renewed certificate written to the same files is served to new connections without a restart; open ones keep theirs', async () => {
    const before = await get('a.api.localhost', '/', { agent: kept });
    assert.equal(before.serial, first.serial);
    renewed = issue('renewed', 1002);
    writeFileSync(KEY, renewed.key);
    writeFileSync(CERT, renewed.cert);
    await waitFor('the renewed certificate on a new connection', async () => (await get('a.api.localhost')).serial === renewed.serial, 20_000);
    // the connection opened before the renewal goes on (Node reports no peer certificate on a
    // reused socket, so its serial is not asserted: that it is the same socket says it)
    const still = await get('a.api.localhost', '/', { agent: kept });
    assert.ok(still.reused, 'the kept-alive connection was reused');
    assert.equal(still.status, 200);
    assert.ok(ten.output().includes(`tls: certificate reloaded (serial ${renewed.serial}`));
    const events = await ten.api('GET', '/api/logs?stream=event&limit=50');
    assert.ok(events.body.includes(`certificate reloaded: serial ${renewed.serial} (was ${first.serial})`), events.body.slice(0, 2000));
  });

  test('a broken renewal (a key that does not match) keeps the certificate in force and says why with its code; a reload is refused', async () => {
    const stray = issue('stray', 1003);
    writeFileSync(KEY, stray.key);
    await waitFor('the refused renewal in the log', () => ten.output().includes('"code":"TEN_ERR_TLS_KEY_MISMATCH"'), 20_000);
    const r = await get('api.localhost');
    assert.equal(r.status, 200);
    assert.equal(r.serial, renewed.serial);
    const reload = await ten.cli('reload');
    assert.equal(reload.code, 1);
    assert.match(reload.stderr, /TEN_ERR_RELOAD_INVALID/);
    assert.match(reload.stderr, /TEN_ERR_TLS_KEY_MISMATCH: the private key .*key\.pem does not match the certificate .*cert\.pem \(tenement\.toml:\d+\)/);
    writeFileSync(KEY, renewed.key); // the pair again: served as before
    assert.equal((await get('a.api.localhost')).serial, renewed.serial);
  });

  test('a renewal that is expired while the certificate in force is valid is refused: kept, said once at warn with its code and an event', async () => {
    const stale = issue('stale', 1004, { days: 0 }); // notAfter = now: expired by the time it is read
    writeFileSync(KEY, stale.key);
    writeFileSync(CERT, stale.cert);
    await waitFor('the refused expired renewal in the log', () => ten.output().includes('"code":"TEN_ERR_TLS_CERT_EXPIRED"'), 20_000);
    const lines = ten.output().split('\n').filter((l) => l.includes('"code":"TEN_ERR_TLS_CERT_EXPIRED"'));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.equal(JSON.parse(lines[0]).level, 40);
    assert.match(lines[0], new RegExp(`tls: certificate not reloaded: the certificate .*cert\\.pem expired on .*; the certificate in force \\(serial ${renewed.serial}\\) stays`));
    assert.equal((await get('a.api.localhost')).serial, renewed.serial);
    const events = await ten.api('GET', '/api/logs?stream=event&limit=50');
    assert.ok(events.body.includes(`certificate not reloaded: TEN_ERR_TLS_CERT_EXPIRED: the certificate ${CERT} expired on`), events.body.slice(0, 2000));
    assert.ok(!events.body.includes(`certificate reloaded: serial ${stale.serial}`));
    writeFileSync(KEY, renewed.key);
    writeFileSync(CERT, renewed.cert);
  });

  test('a renewal that covers none of the names served is refused while the one in force covers them; at start the uncovered ones were warned about', async () => {
    // at start: the certificate names *.api.localhost and api.localhost, not localhost (the dashboard and the API)
    assert.match(ten.output(), /"level":40,[^\n]*"code":"TEN_ERR_TLS_CERT_NAMES"[^\n]*the certificate [^\n]*cert\.pem does not cover localhost \(the dashboard and the API\)/);
    const other = issue('other', 1005, { san: 'DNS:*.other.test,DNS:other.test' });
    writeFileSync(KEY, other.key);
    writeFileSync(CERT, other.cert);
    await waitFor('the refused renewal for other names', () => ten.output().includes('does not cover any name tenement serves'), 20_000);
    const line = ten.output().split('\n').find((l) => l.includes('does not cover any name tenement serves'))!;
    assert.equal(JSON.parse(line).code, 'TEN_ERR_TLS_CERT_NAMES');
    assert.equal(JSON.parse(line).level, 40);
    assert.match(line, /localhost \(the dashboard and the API\), api\.localhost \(service api\), \*\.api\.localhost \(\{id\}\.api\.localhost: the instances of api\) \(its names: DNS:\*\.other\.test, DNS:other\.test\)/);
    assert.equal((await get('a.api.localhost')).serial, renewed.serial);
    writeFileSync(KEY, renewed.key);
    writeFileSync(CERT, renewed.cert);
  });

  test('ten doctor shows the certificate in force on disk and how long it has left', async () => {
    const r = await runCli(['doctor', '--json', '--config', ten.configPath], {}, ten.dir);
    const tls = JSON.parse(r.stdout).tls;
    assert.deepEqual({ ...tls, not_after: undefined }, {
      ok: true, why: null, fix: null, cert: CERT, serial: renewed.serial, not_after: undefined, days_left: 0, names: ['DNS:*.api.localhost', 'DNS:api.localhost'],
      uncovered: ['localhost'], uncovered_why: `the certificate ${CERT} does not cover localhost (the dashboard and the API)`,
    });
  });

  test('ten doctor on an expired certificate: "expired less than a day ago", TEN_ERR_TLS_CERT_EXPIRED; a wildcard of the domain only leaves {id} hosts uncovered (warned by doctor and ten config)', async () => {
    issue('gone', 1006, { days: 0, san: 'DNS:*.localhost.test,DNS:localhost.test' });
    const file = join(certs, 'doctor.toml');
    writeFileSync(file, `[settings]\ndomain = "localhost.test"\ndata_dir = "./data-doctor"\n\n[settings.tls]\ncert = "gone.pem"\nkey = "gone.key"\n\n${fixtureService('api')}`);
    const r = await runCli(['doctor', '--config', file], {}, certs);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /no {2}certificate .*gone\.pem: serial 03EE, valid until \S+ \(expired less than a day ago\), DNS:\*\.localhost\.test, DNS:localhost\.test\n/);
    assert.doesNotMatch(r.stdout, /-1 days/);
    assert.match(r.stdout, /!! {2}names {7}not covered: \*\.api\.localhost\.test\n/);
    assert.match(r.stderr, /error TEN_ERR_TLS_CERT_EXPIRED: the certificate .*gone\.pem expired on /);
    const config = await runCli(['config', '--config', file], {}, certs);
    assert.equal(config.code, 0, config.stderr);
    assert.match(config.stderr, /warning TEN_ERR_TLS_CERT_EXPIRED: the certificate .*gone\.pem expired on /);
    assert.match(config.stderr, /warning TEN_ERR_TLS_CERT_NAMES: the certificate .*gone\.pem does not cover \*\.api\.localhost\.test \(\{id\}\.api\.localhost\.test: the instances of api\)\n {2}hint: get a certificate whose names include them/);
  });

  test('a missing file or a mismatched pair is refused at start with its code and line', async () => {
    const file = join(certs, 'tenement.toml');
    const toml = (cert: string, key: string) => `[settings]\nlisten = "127.0.0.1"\ndata_dir = "./data"\n\n[settings.tls]\ncert = "${cert}"\nkey = "${key}"\n`;
    writeFileSync(file, toml('nope.pem', 'first.key'));
    const missing = await runCli(['config', '--config', file], {}, certs);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error TEN_ERR_TLS_CERT_INVALID: the certificate .*nope\.pem cannot be used: no such file \(tenement\.toml:6\)/);
    writeFileSync(file, toml('first.pem', 'renewed.key'));
    const serve = await runCli(['serve', '--config', file, '--port', String(await freePort(new Set()))], {}, certs);
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, /error TEN_ERR_TLS_KEY_MISMATCH: the private key .*renewed\.key does not match the certificate .*first\.pem \(tenement\.toml:7\)/);
    assert.match(serve.stderr, /hint: install the key the certificate was issued for/);
    // the HTTPS port taken (by the ten serve above): the message and the hint name [settings.tls] port, not --port
    writeFileSync(file, `${toml('first.pem', 'first.key')}port = ${httpsPort}\n`);
    const taken = await runCli(['serve', '--config', file, '--port', String(await freePort(new Set()))], {}, certs);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, new RegExp(`error TEN_ERR_SERVE_LISTEN_FAILED: \\[settings\\.tls\\] port: cannot listen on 127\\.0\\.0\\.1:${httpsPort}: .*EADDRINUSE`));
    assert.match(taken.stderr, /hint: change \[settings\.tls\] port, or stop whatever holds that address/);
  });
});
