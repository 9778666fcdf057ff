// config-diff.ts: what a reload changes, key by key, and the config that takes effect.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../core/config.ts';
import { diffConfigs, inForce, SERVICE_RELOAD, SETTINGS_RELOAD } from '../../core/config-diff.ts';
import { SettingsSchema } from '../../core/config-schema.ts';

const FILE = '/srv/app/tenement.toml';
const parse = (text: string) => parseConfig(text, FILE);

const BASE = `
[settings]
port = 8080
health_interval = 5

[service.api]
command = "node api.js"
health = "/health"
[service.api.env]
A = "1"
B = "2"

[service.keep]
command = "node keep.js"

[service.old]
command = "node old.js"

[instances]
api = ["a"]

[plugins.scaler]
use = "idle-scaler"
queue_size = 10
`;

test('every [settings] key has a reload class', () => {
  assert.deepEqual(Object.keys(SETTINGS_RELOAD).sort(), Object.keys(SettingsSchema.properties).sort());
});

test('the same file, or the same with env keys reordered, is no change', () => {
  const a = parse(BASE);
  const d = diffConfigs(a, parse(BASE.replace('A = "1"\nB = "2"', 'B = "2"\nA = "1"')));
  assert.deepEqual(d, { added: [], removed: [], changed: [], settings: { live: [], instances: [], server: [] }, plugins: [] });
});

test('services added, removed and changed, each key by how it applies', () => {
  const next = parse(BASE
    .replace('[service.old]\ncommand = "node old.js"\n', '[service.web]\ncommand = "node web.js"\n')
    .replace('A = "1"', 'A = "9"')
    .replace('health = "/health"', 'health = "/ready"\nidle_timeout = 60'));
  const d = diffConfigs(parse(BASE), next);
  assert.deepEqual(d.added, ['web']);
  assert.deepEqual(d.removed, ['old']);
  assert.deepEqual(d.changed, [{ service: 'api', restart: ['env'], live: ['health', 'idle_timeout'] }]);
  assert.equal(SERVICE_RELOAD.argv, 'restart');
  assert.equal(SERVICE_RELOAD.weight, 'live');
});

test('[settings] user restarts the services that set no user of their own', () => {
  const next = parse(BASE.replace('[service.keep]\n', '[service.keep]\nuser = "www-data"\n').replace('port = 8080', 'port = 8080\nuser = "nobody"'));
  const d = diffConfigs(parse(BASE.replace('[service.keep]\n', '[service.keep]\nuser = "www-data"\n')), next);
  assert.deepEqual(d.settings.instances, ['user']);
  assert.deepEqual(d.changed.map((c) => [c.service, c.restart]), [['api', ['user']], ['old', ['user']]]);
});

test('server keys and plugin tables are reported and keep their values in force', () => {
  const current = parse(BASE);
  const next = parse(BASE.replace('port = 8080', 'port = 9090\ndomain = "example.com"\nmax_requests = 5').replace('health_interval = 5', 'health_interval = 1').replace('queue_size = 10', 'queue_size = 20'));
  const d = diffConfigs(current, next);
  assert.deepEqual(d.settings, { live: ['health_interval'], instances: [], server: ['domain', 'port', 'max_requests'] });
  assert.deepEqual(d.plugins, ['plugins.scaler']);
  const c = inForce(current, next, d);
  assert.equal(c.settings.port, 8080);
  assert.equal(c.settings.domain, 'localhost');
  assert.equal(c.settings.max_requests, current.settings.max_requests);
  assert.equal(c.settings.health_interval, 1);
  assert.equal(c.plugins, current.plugins);
  // the next reload of the same file says the same again: it still needs a restart
  assert.deepEqual(diffConfigs(c, next).settings.server, ['domain', 'port', 'max_requests']);
});

test('a plugin table added or removed is a change', () => {
  const d = diffConfigs(parse(BASE), parse(`${BASE}\n[[plugins.extra]]\nuse = "./x.mjs"\n`));
  assert.deepEqual(d.plugins, ['plugins.extra[0]']);
  assert.deepEqual(diffConfigs(parse(BASE), parse(BASE.replace(/\[plugins\.scaler\][^]*$/, ''))).plugins, ['plugins.scaler']);
});
