// Acceptance (issue 12, point 4): `ten export kubernetes` against a real ten serve with two
// services — weights set with `ten weight`, header targeting on a custom header (checked live
// first), a shadow, an instance asleep — gives manifests that all validate against the Kubernetes
// and Gateway API schemas (and fail to when broken), whose HTTPRoute weights equal `ten ps --json`'s,
// and whose hostnames follow {id}.{service}.{domain} and {service}.{domain}.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { TenementError } from '../../core/errors.ts';
import type { InstanceView } from '../../core/view.ts';
import { modelOf, validateManifest } from '../../cli/export/validate.ts';
import { inProcessCli, type TenCli } from './cli-helper.ts';
import { cleanup, fixtureService, startTen, waitFor, type Ten } from './harness.ts';

after(cleanup);

const TOML = `[settings]\nhealth_interval = 0.3\n\n[plugins.workflows]\nuse = "deploy-workflows"\ntarget_header = "X-Version"\n\n`
  + `[plugins.scaler]\nuse = "idle-scaler"\ncheck_interval = 0.1\n\n`
  + `${fixtureService('api', 'memory_limit_mb = 128\ncpu_limit = 0.25')}\n${fixtureService('web', 'idle_timeout = 1')}\n`
  + `[instances]\napi = ["v1", "v2"]\nweb = ["a"]\n`;

type Obj = Record<string, any>;

/** The error code `fn` throws, or 'no error'. */
function code(fn: () => unknown): string {
  try { fn(); } catch (err) { if (err instanceof TenementError) return err.code; throw err; }
  return 'no error';
}

describe('ten export kubernetes', () => {
  let ten: Ten;
  let cli: TenCli;
  let objects: Obj[];
  let stderr: string;
  let text: string;
  let ps: InstanceView[];

  before(async () => {
    ten = await startTen(TOML);
    cli = inProcessCli(ten);
    await waitFor('api:v1, api:v2 running and web:a idle', async () => {
      const l: InstanceView[] = (await ten.api('GET', '/api/instances')).json().instances;
      const state = (k: string) => l.find((i) => i.key === k)?.state;
      return state('api:v1') === 'running' && state('api:v2') === 'running' && state('web:a') === 'idle';
    }, 20_000);
    for (const [ref, w] of [['api:v1', '80'], ['api:v2', '20']]) assert.equal((await cli('weight', ref, w)).code, 0);
    assert.equal((await cli('shadow', 'api', '--to', 'v2')).code, 0);
    const run = await cli('export', 'kubernetes', '--config', ten.configPath, '--namespace', 'shop', '--image-template', 'registry.example.com/{service}:{id}');
    assert.equal(run.code, 0, run.err);
    text = run.out;
    stderr = run.err;
    objects = parseAllDocuments(text).map((d) => d.toJS() as Obj);
    const p = await cli('ps', '--json');
    ps = JSON.parse(p.out).instances;
  });

  test('the header route works live: X-Version: v2 on api.localhost reaches api:v2', async () => {
    for (const id of ['v1', 'v2']) {
      const r = await ten.get('api.localhost', '/', { headers: { 'x-version': id } });
      assert.equal(r.json().instance, `api:${id}`);
    }
  });

  test('every object validates against its Kubernetes or Gateway API schema', () => {
    assert.deepEqual(objects.map((o) => `${o.kind} ${o.metadata.name}`), [
      'Deployment api-v1', 'Service api-v1', 'Deployment api-v2', 'Service api-v2', 'HTTPRoute api-v1', 'HTTPRoute api-v2', 'HTTPRoute api',
      'Deployment web-a', 'Service web-a', 'HTTPRoute web-a', 'HTTPRoute web',
    ]);
    for (const o of objects) {
      assert.equal(o.metadata.namespace, 'shop');
      validateManifest(modelOf(o));
    }
  });

  test('an object made invalid fails the same check (so the check is not vacuous)', () => {
    const route = structuredClone(objects.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'api')!);
    route.spec.rules.at(-1).backendRefs[0].weight = -1;
    assert.equal(code(() => validateManifest(modelOf(route))), 'TEN_ERR_EXPORT_INVALID');
    const deployment = structuredClone(objects.find((o) => o.kind === 'Deployment')!);
    deployment.spec.replicas = 'one';
    assert.equal(code(() => validateManifest(modelOf(deployment))), 'TEN_ERR_EXPORT_INVALID');
  });

  test('the weights of each {service}.{domain} HTTPRoute equal `ten ps --json`', () => {
    // a backendRef names a Service; the Service's labels say which instance it selects
    const instanceOf = new Map(objects.filter((o) => o.kind === 'Service').map((s) => [s.metadata.name, `${s.spec.selector['tenement.dev/service']}:${s.spec.selector['tenement.dev/instance']}`]));
    for (const service of ['api', 'web']) {
      const route = objects.find((o) => o.kind === 'HTTPRoute' && o.spec.hostnames[0] === `${service}.localhost`)!;
      const weighted = route.spec.rules.find((r: Obj) => r.matches === undefined);
      const exported = Object.fromEntries(weighted.backendRefs.map((b: Obj) => [instanceOf.get(b.name), b.weight]));
      const live = Object.fromEntries(ps.filter((i) => i.service === service).map((i) => [i.key, i.weight]));
      assert.deepEqual(exported, live);
    }
    assert.deepEqual(ps.filter((i) => i.service === 'api').map((i) => i.weight), [80, 20], 'the weights ten weight set');
  });

  test('hostnames follow {id}.{service}.{domain} (to that instance) and {service}.{domain}', () => {
    for (const i of ps) {
      const route = objects.find((o) => o.kind === 'HTTPRoute' && o.spec.hostnames.includes(`${i.id}.${i.service}.localhost`))!;
      assert.deepEqual(route.spec.hostnames, [`${i.id}.${i.service}.localhost`]);
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === route.spec.rules[0].backendRefs[0].name)!;
      assert.deepEqual(svc.spec.selector, { 'tenement.dev/service': i.service, 'tenement.dev/instance': i.id });
    }
    assert.deepEqual(objects.filter((o) => o.kind === 'HTTPRoute' && o.metadata.labels['tenement.dev/instance'] === undefined).map((o) => o.spec.hostnames), [['api.localhost'], ['web.localhost']]);
  });

  test('header targeting is a header match on the configured header, the shadow a RequestMirror, the idle instance replicas 0', () => {
    const route = objects.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'api')!;
    assert.deepEqual(route.spec.rules[1].matches[0].headers, [{ type: 'Exact', name: 'x-version', value: 'v2' }]);
    assert.deepEqual(route.spec.rules.at(-1).filters, [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'api-v2', port: 80 } } }]);
    const replicas = Object.fromEntries(objects.filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name, d.spec.replicas]));
    assert.deepEqual(replicas, { 'api-v1': 1, 'api-v2': 1, 'web-a': 0 });
    const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'api-v1')!.spec.template.spec.containers[0];
    assert.equal(api.image, 'registry.example.com/api:v1');
    assert.deepEqual(api.resources, { limits: { memory: '128Mi', cpu: '250m' } });
    assert.deepEqual(api.env.find((e: Obj) => e.name === 'INSTANCE'), { name: 'INSTANCE', value: 'api:v1' });
  });

  test('what is not exported is a warning on stderr and a comment at the top of the YAML', () => {
    assert.match(stderr, /^warning: web: idle_timeout = 1 s .* KEDA .* Knative Serving$/m);
    assert.match(stderr, /^warning: web:a: idle in tenement, exported with replicas 0 and weight 100/m);
    assert.match(text, /^# - web: idle_timeout = 1 s/m);
    assert.ok(text.indexOf('# - web: idle_timeout') < text.indexOf('---'), 'the warnings come before the first document');
  });

  test('the ten binary writes a v1 List with --json --output FILE', async () => {
    const file = join(ten.dir, 'out.json');
    const r = await ten.cli('export', 'kubernetes', '--json', '--output', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^wrote 11 objects to .*out\.json: 3 Deployments, 3 Services, 5 HTTPRoutes\n$/);
    const list = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(list.kind, 'List');
    for (const o of list.items) validateManifest(modelOf(o));
  });

  test('a config without a service ten serve runs: TEN_ERR_EXPORT_UNKNOWN_SERVICE, nothing written', async () => {
    const other = join(ten.dir, 'other.toml');
    writeFileSync(other, fixtureService('api'));
    const r = await cli('export', 'kubernetes', '--config', other);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /^error TEN_ERR_EXPORT_UNKNOWN_SERVICE: ten serve runs instances of service web, which .*other\.toml does not define\n {2}hint: /);
  });
});
