// The web-dashboard plugin (issue 9, acceptance 3). First its HTTP surface: the page and files are
// public with strict headers, the API stays behind the token, `[plugins.dashboard] use = false`
// brings the placeholder back. Then the page itself in a real browser: Debian's chromium driven by
// playwright-core against a real `ten serve`, real apps and the real `ten` CLI — sign in (a wrong
// token first), see an instance appear after `ten spawn`, set a weight from the page and count
// where the proxy sends requests, switch traffic and see it in the history, find a log line with
// the search; then a tenant token, which sees its own instance only and no route, history or
// foreign spawn. The browser is installed by scripts/ensure-debian.sh (run by scripts/run-tests.mjs);
// without it the browser test is skipped with the reason.
//
// docs/dashboard.png is the screenshot this test takes: written when UPDATE_SCREENSHOT=1 or when
// the file is missing, so ordinary runs leave the tree clean.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { inProcessCli } from './cli-helper.ts';
import { cleanup, fixtureService, ROOT, sleep, startTen, waitFor, type Ten } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(ROOT, 'docs/dashboard.png');
const LOG_APP = join(ROOT, 'test/fixtures/log-app.mjs');
const CONFIG = `${fixtureService('api')}
[service.web]
args = ["${process.execPath}", "${LOG_APP}"]

[instances]
api = ["v1"]
web = ["a"]
`;

after(cleanup);

describe('the dashboard over HTTP', () => {
  let ten: Ten;
  before(async () => { ten = await startTen(CONFIG); });

  test('GET / is the page, public, with a strict CSP; its files are public and hashed; the API still needs the token', async () => {
    const page = await ten.get('localhost', '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const csp = String(page.headers['content-security-policy']);
    for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'"]) {
      assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`);
    }
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
    assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(page.body), 'no inline script');
    assert.ok(!page.body.includes('cdn') && !/src="https?:/.test(page.body), 'everything from this origin');
    const files = [...page.body.matchAll(/(?:src|href)="(\/dashboard\/[0-9a-f]{16}\/[^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort(), ['app.js', 'icon.svg', 'style.css', 'uPlot.iife.min.js', 'uPlot.min.css']);
    for (const f of files) {
      const r = await ten.get('localhost', f);
      assert.equal(r.status, 200, f);
      assert.match(String(r.headers['content-type']), f.endsWith('.js') ? /^text\/javascript/ : f.endsWith('.css') ? /^text\/css/ : /^image\/svg\+xml/);
      assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    }
    // a module app.js imports, by a relative URL under the same hash
    const hash = /\/dashboard\/([0-9a-f]{16})\//.exec(page.body)![1];
    assert.equal((await ten.get('localhost', `/dashboard/${hash}/sse.js`)).status, 200);
    // another hash (a page of an older release) still gets the file, but revalidated
    assert.equal((await ten.get('localhost', '/dashboard/0000000000000000/app.js')).headers['cache-control'], 'no-cache');
    // only the files of the folder: no index.html, no .ts, no way out of it
    for (const p of [`/dashboard/${hash}/index.html`, `/dashboard/${hash}/assets.ts`, `/dashboard/${hash}/..%2Findex.ts`, `/dashboard/${hash}/%2e%2e%2f%2e%2e%2fpackage.json`]) {
      const r = await ten.get('localhost', p);
      assert.equal(r.status, 404, p);
      assert.equal(r.json().code, 'TEN_ERR_API_NOT_FOUND', p);
    }
    assert.equal((await ten.api('GET', '/api/instances', undefined, null)).status, 401);
    assert.equal((await ten.api('GET', '/api/instances', undefined, 'wrong')).status, 401);
  });

  test('[plugins.dashboard] use = false: / is the core\'s placeholder and the files are gone', async () => {
    const off = await startTen(`${CONFIG}\n[plugins.dashboard]\nuse = false\n`);
    const page = await off.get('localhost', '/');
    assert.equal(page.status, 200);
    assert.match(page.body, /This host serves the management API/);
    assert.equal((await off.get('localhost', '/dashboard/0000000000000000/app.js')).status, 401, 'no public route: the token check answers');
    await off.stop();
  });
});

describe('the dashboard in a browser', () => {
  let ten: Ten;
  let browser: Browser | undefined;
  let page: Page;
  /** Console errors about the Content-Security-Policy and uncaught page errors. */
  const problems: string[] = [];
  const skip = existsSync(CHROMIUM) ? false : `chromium not available: ${CHROMIUM} is missing (scripts/ensure-debian.sh installs Debian's package as root)`;
  if (skip) console.log(`# ${skip}`);

  before(async () => {
    if (skip) return;
    const { chromium } = await import('playwright-core');
    [ten, browser] = await Promise.all([startTen(CONFIG), chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })]);
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => { if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });
  after(async () => { await browser?.close(); });

  /** Which instance answered each of `n` requests to api.localhost, counted by name. */
  const spread = async (n: number) => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await ten.get('api.localhost', '/');
      assert.equal(r.status, 200, r.body);
      const who = r.json().instance as string;
      seen[who] = (seen[who] ?? 0) + 1;
    }
    return seen;
  };
  const card = (key: string) => page.locator(`article[data-key="${key}"]`);

  test('sign in, watch a spawn, set a weight that routing obeys, switch traffic, find a log line', { skip }, async () => {
    await page.goto(`http://localhost:${ten.port}/`);

    // a wrong token is refused with a message, and not kept
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.getByText('Wrong token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    await page.getByLabel('API token').fill(ten.token);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await card('api:v1').locator('.badge.state-running').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tenement.token')), ten.token);
    assert.ok(!page.url().includes(ten.token), 'the token is never in the URL');

    // an instance spawned by the CLI appears, live
    const cli = inProcessCli(ten);
    const spawned = await cli('spawn', 'api', '--id', 'v2');
    assert.equal(spawned.code, 0, spawned.err);
    await card('api:v2').locator('.badge.state-running').waitFor();

    // both take traffic at 100/100; weight 0 set from the page takes v1 out of the rotation
    await waitFor('both instances in the rotation', async () => Object.keys(await spread(20)).length === 2);
    await page.getByRole('spinbutton', { name: 'Weight of api:v1' }).fill('0');
    await page.getByRole('button', { name: 'Set weight of api:v1' }).click();
    await page.getByText('api:v1: weight set to 0').waitFor();
    await card('api:v1').locator('dd').first().filter({ hasText: /^0$/ }).waitFor();
    assert.deepEqual(await spread(40), { 'api:v2': 40 });

    // back to 50, then "switch traffic" v1 → v2 from the page: a route, in the history
    await page.getByRole('spinbutton', { name: 'Weight of api:v1' }).fill('50');
    await page.getByRole('button', { name: 'Set weight of api:v1' }).click();
    await page.getByText('api:v1: weight set to 50').waitFor();
    await waitFor('v1 back in the rotation', async () => (await spread(20))['api:v1'] !== undefined);
    await page.locator('#svc-api-route-from').selectOption('v1');
    await page.locator('#svc-api-route-to').selectOption('v2');
    await page.getByRole('button', { name: 'Switch traffic of api' }).click();
    await page.getByText('api: all traffic now goes to v2').waitFor();
    await page.locator('#history-body tr', { hasText: 'route' }).first().waitFor();
    assert.deepEqual(await spread(20), { 'api:v2': 20 });

    // a line the app writes appears in its log tail, and the search finds it
    await page.getByRole('button', { name: 'Logs of web:a' }).click();
    const marker = `dashboard-marker-${process.pid}`;
    assert.equal((await ten.get('web.localhost', `/say?text=${marker}`)).status, 200);
    await page.locator('#log-lines li', { hasText: marker }).waitFor();
    assert.equal(await page.locator('#log-instance').inputValue(), 'web:a');
    await ten.get('web.localhost', '/say?text=other-line');
    await page.locator('#log-lines li', { hasText: 'other-line' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search' }).fill(marker);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('#log-lines li mark', { hasText: marker }).waitFor();
    await waitFor('only matching lines', async () => !(await page.locator('#log-lines').innerText()).includes('other-line'));

    if (process.env.UPDATE_SCREENSHOT === '1' || !existsSync(SCREENSHOT)) {
      // a few seconds of traffic, so that the numbers and charts have something to show
      await page.getByRole('searchbox', { name: 'Search' }).fill('');
      await page.getByLabel('Instance', { exact: true }).selectOption('');
      for (let i = 0; i < 6; i++) {
        await Promise.all([spread(30), ten.get('web.localhost', `/say?text=${encodeURIComponent(`request ${i} served`)}`)]);
        await sleep(1000);
      }
      await page.evaluate(() => { (document.activeElement as HTMLElement | null)?.blur(); window.scrollTo(0, 0); });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }

    // forget the token: back to the form, nothing kept
    await page.getByRole('button', { name: 'Forget token' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.deepEqual(problems, []);
  });

  test('a tenant token: its own instances only, and only what it may do (docs/access.md)', { skip }, async () => {
    const made = await inProcessCli(ten)('token', 'create', '--tenant', 'v2');
    assert.equal(made.code, 0, made.err);
    await page.getByLabel('API token').fill(made.out.trim());
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await card('api:v2').locator('.badge.state-running').waitFor();
    await page.locator('#version', { hasText: 'tenant v2' }).waitFor();
    assert.equal(await card('api:v1').count(), 0, 'another tenant\'s instance is not shown');
    assert.equal(await card('web:a').count(), 0);
    assert.equal(await page.locator('form[aria-label="Switch the traffic of api"]').isHidden(), true, 'no traffic switch');
    assert.equal(await page.locator('#history-table').isHidden(), true, 'no deploy history');
    await page.getByText('The deploy history is shown to admin tokens only.').waitFor();
    const id = page.locator('#svc-api-spawn-id');
    assert.equal(await id.inputValue(), 'v2');
    assert.equal(await id.getAttribute('readonly') !== null || await id.evaluate((e) => (e as HTMLInputElement).readOnly), true, 'spawns only its own id');
    await page.getByRole('spinbutton', { name: 'Weight of api:v2' }).fill('30');
    await page.getByRole('button', { name: 'Set weight of api:v2' }).click();
    await page.getByText('api:v2: weight set to 30').waitFor();
    await page.getByRole('button', { name: 'Forget token' }).click();
    await page.getByLabel('API token').waitFor();
    assert.deepEqual(problems, []);
  });
});
