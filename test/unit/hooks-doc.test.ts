// Keeps docs/hooks.md and core/hooks.ts in sync: one `## <hookName>` section per hook, in order;
// one table row per hook whose kind is the hook's class and whose "tapped by" cell names exactly
// who taps it in a default `ten serve` (built-in plugins by name, the core as `core`); and each
// section states the hook's HOOK_POLICY (isolated or not); and the fields docs/hooks.md gives the
// wake payload are those a real request brings.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../core/config.ts';
import { CORE_TAP, createHooks, HOOK_POLICY, type Hooks } from '../../core/hooks.ts';
import { startServer, type RunningServer } from '../../core/server.ts';
import { BUILTINS } from '../../plugins/index.ts';

const markdown = readFileSync(new URL('../../docs/hooks.md', import.meta.url), 'utf8');
const sections = [...markdown.matchAll(/^## ([A-Za-z]\w*)\s*$/gm)].map((m) => m[1]);
const hookNames = Object.keys(createHooks(pino({ level: 'silent' })));

/** The rows of the table `| hook | kind | core calls it | tapped by |`: hook → [kind, tapped-by cell]. */
function tableRows(): Map<string, { kind: string; tappedBy: string; line: number }> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^\|\s*hook\s*\|\s*kind\s*\|\s*core calls it\s*\|\s*tapped by\s*\|\s*$/.test(l));
  assert.notEqual(start, -1, 'docs/hooks.md has no "| hook | kind | core calls it | tapped by |" table');
  const rows = new Map<string, { kind: string; tappedBy: string; line: number }>();
  for (let i = start + 2; i < lines.length && lines[i].startsWith('|'); i++) {
    const cells = lines[i].split('|').slice(1, -1).map((c) => c.trim());
    const name = /^\[`(\w+)`\]/.exec(cells[0])?.[1];
    assert.ok(name, `docs/hooks.md:${i + 1}: the first cell must be [\`hookName\`](#anchor)`);
    rows.set(name, { kind: cells[1], tappedBy: cells[3], line: i + 1 });
  }
  return rows;
}

let dir: string;
let server: RunningServer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tenement-hooks-doc-'));
  writeFileSync(join(dir, 'tenement.toml'), '[settings]\nlisten = "127.0.0.1"\nport = 0\n');
  server = await startServer(loadConfig({ path: join(dir, 'tenement.toml') }), BUILTINS, { log: pino({ level: 'silent' }) });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('docs/hooks.md has one "## <name>" section per hook, in the order of core/hooks.ts', () => {
  const missing = hookNames.filter((h) => !sections.includes(h));
  const extra = sections.filter((s) => !hookNames.includes(s));
  assert.deepEqual(sections, hookNames, [
    'docs/hooks.md and createHooks() differ:',
    ...missing.map((h) => `  no "## ${h}" section in docs/hooks.md`),
    ...extra.map((s) => `  "## ${s}" documents a hook createHooks() does not have`),
  ].join('\n'));
});

test("the table's rows name each hook's class and exactly who taps it in a default ten serve", () => {
  const rows = tableRows();
  assert.deepEqual([...rows.keys()], hookNames, 'one row per hook, in order');
  const known = new Set([...Object.keys(BUILTINS.plugins), 'core']);
  for (const [name, hook] of Object.entries(server.hooks) as Array<[keyof Hooks, Hooks[keyof Hooks]]>) {
    const row = rows.get(name)!;
    assert.equal(row.kind, hook.constructor.name, `docs/hooks.md:${row.line}: ${name} is a ${hook.constructor.name}`);
    const documented = new Set([...row.tappedBy.matchAll(/`([\w-]+)`/g)].map((m) => m[1]).filter((n) => known.has(n)));
    const actual = new Set(hook.taps.map((t) => (t.name === CORE_TAP ? 'core' : t.name)));
    assert.deepEqual([...documented].sort(), [...actual].sort(), `docs/hooks.md:${row.line}: "${row.tappedBy}" — ${name} is tapped by ${[...actual].join(', ') || 'nobody'}`);
  }
});

test('each section says whether a throwing tap is isolated, as HOOK_POLICY does', () => {
  const bodies = markdown.split(/^## /m).slice(1);
  for (const [name, policy] of Object.entries(HOOK_POLICY)) {
    const body = bodies.find((b) => b.startsWith(`${name}\n`));
    assert.ok(body, `no section for ${name}`);
    const says = /throw[^\n]*(is logged and isolated|logged and isolated)/i.test(body!);
    assert.equal(says, policy === 'isolate', `## ${name}: HOOK_POLICY is "${policy}", so the section must ${policy === 'isolate' ? '' : 'not '}say a throw is "logged and isolated"`);
  }
});

test('the wake payload docs/hooks.md gives ({ service, instanceId?, client, ctx }) is what a direct request brings', async () => {
  const documented = /^- `wake`: `\{ ([^}]+) \}`/m.exec(markdown)?.[1].split(',').map((f) => f.trim().replace(/\?$/, '')).sort();
  assert.ok(documented, 'docs/hooks.md: no "- `wake`: `{ … }`" line in ## wake');
  const own = mkdtempSync(join(tmpdir(), 'tenement-hooks-doc-wake-'));
  writeFileSync(join(own, 'tenement.toml'), '[settings]\nlisten = "127.0.0.1"\nport = 0\n[service.svc]\ncommand = "true"\n');
  const s = await startServer(loadConfig({ path: join(own, 'tenement.toml') }), BUILTINS, { log: pino({ level: 'silent' }) });
  try {
    const seen: Array<Record<string, unknown>> = [];
    s.hooks.wake.tap({ name: 'observer', stage: -1 }, (w) => { seen.push({ ...w }); return undefined; });
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: s.port, path: '/', headers: { host: 'ghost.svc.localhost' }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on('error', reject);
    });
    assert.equal(status, 404, 'an unknown id without spawn_on_request');
    assert.equal(seen.length, 1);
    assert.deepEqual(Object.keys(seen[0]).sort(), documented);
    assert.equal(seen[0].service, 'svc');
    assert.equal(seen[0].instanceId, 'ghost');
    assert.equal(seen[0].client, '127.0.0.1');
  } finally {
    await s.close();
    rmSync(own, { recursive: true, force: true });
  }
});
