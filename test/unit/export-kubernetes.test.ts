// ten export kubernetes' pure parts (cli/export/): names, secret detection, the cookie regex, the
// image template, the mapping of a config + live state to manifests and its warnings, the schema
// check (with objects that must fail it) and the YAML round trip.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../core/config.ts';
import { TenementError } from '../../core/errors.ts';
import type { InstanceView } from '../../core/view.ts';
import { looksSecret } from '../../cli/export/env.ts';
import { imageFor } from '../../cli/export/image.ts';
import { exportKubernetes, type ExportOptions, type LiveState, type Manifest, type PluginFacts } from '../../cli/export/kubernetes.ts';
import { allocateNames, RFC1035_LABEL } from '../../cli/export/names.ts';
import { toYaml } from '../../cli/export/render.ts';
import { cookieRegex } from '../../cli/export/routes.ts';
import { modelOf, validateManifest } from '../../cli/export/validate.ts';

function view(key: string, over: Partial<InstanceView> = {}): InstanceView {
  const [service, id] = key.split(':') as [string, string];
  return {
    service, id, key, state: 'running', health: 'healthy', weight: 100, port: 41234, pid: 1234, socket: '127.0.0.1:41234',
    uptime_s: 10, started_at: null, restarts: 0, inflight: 0, suspended: null, last_exit: null, ...over,
  };
}

const PLUGINS: PluginFacts[] = [
  { def: { name: 'weighted-balancer' }, slot: 'balancer', options: {} },
  { def: { name: 'deploy-workflows' }, slot: 'workflows', options: { target_header: 'x-tenement-instance', target_cookie: 'tenement-instance' } },
];
const OPTS: ExportOptions = { imageTemplate: '{service}:{id}', gateway: { name: 'tenement' }, domain: 'example.com', containerPort: 8080, servicePort: 80 };

const config = (toml: string) => parseConfig(toml, '/srv/app/tenement.toml');
const live = (instances: InstanceView[], more: Partial<LiveState> = {}): LiveState => ({ instances, shadows: [], rollouts: [], ...more });
const json = (m: Manifest) => m.toJSON() as Record<string, any>;
const of = (objects: Manifest[], kind: string, name: string) => json(objects.find((o) => o.kind === kind && o.metadata?.name === name)!);

function code(fn: () => unknown): string {
  try { fn(); } catch (err) { if (err instanceof TenementError) return err.code; throw err; }
  return 'no error';
}

describe('names', () => {
  test('{service}-{id} when it is a unique RFC 1035 label; else a hashed label, the same every time', () => {
    const keys = new Map([['api:v1', 'api-v1'], ['a-b:c', 'a-b-c'], ['a:b-c', 'a-b-c'], ['1api:x', '1api-x'], [`api:${'x'.repeat(63)}`, `api-${'x'.repeat(63)}`]]);
    const names = allocateNames(keys);
    assert.equal(names.get('api:v1'), 'api-v1');
    const all = [...names.values()];
    assert.equal(new Set(all).size, all.length, 'all different');
    for (const n of all) assert.match(n, RFC1035_LABEL);
    assert.match(names.get('1api:x')!, /^t1api-x-[0-9a-f]{8}$/);
    assert.notEqual(names.get('a-b:c'), names.get('a:b-c'));
    assert.deepEqual(allocateNames(keys), names);
  });
});

test('looksSecret: secret-sounding names and URLs with a password; not ordinary settings', () => {
  for (const [k, v] of [['API_KEY', 'x'], ['DB_PASSWORD', 'x'], ['GITHUB_TOKEN', 'x'], ['AWS_SECRET_ACCESS_KEY', 'x'], ['SENTRY_DSN', 'x'], ['DATABASE_URL', 'postgres://app:pw@db/app']]) {
    assert.equal(looksSecret(k, v), true, k);
  }
  for (const [k, v] of [['NODE_ENV', 'production'], ['LOG_LEVEL', 'info'], ['KEYBOARD', 'us'], ['DATABASE_URL', 'postgres://db/app'], ['INSTANCE', '{name}:{id}']]) {
    assert.equal(looksSecret(k, v), false, k);
  }
});

test('cookieRegex matches the cookie pair exactly, wherever it is in the Cookie header', () => {
  const re = new RegExp(cookieRegex('tenement-instance', 'v2'));
  for (const yes of ['tenement-instance=v2', 'a=1; tenement-instance=v2', 'tenement-instance=v2; b=2', 'a=1;tenement-instance=v2;b=2']) assert.match(yes, re);
  for (const no of ['tenement-instance=v20', 'xtenement-instance=v2', 'tenement-instance=v', 'a=tenement-instance=v2']) assert.doesNotMatch(no, re);
});

test('imageFor fills {service} and {id}; an unknown placeholder or a result that is no image reference is refused', () => {
  assert.equal(imageFor('{service}:{id}', 'api', 'v1'), 'api:v1');
  assert.equal(imageFor('registry.example.com:5000/team/{name}:{id}', 'api', 'v1'), 'registry.example.com:5000/team/api:v1');
  assert.equal(code(() => imageFor('{service}:{version}', 'api', 'v1')), 'TEN_ERR_EXPORT_UNSUPPORTED');
  assert.equal(code(() => imageFor('Registry/{service} {id}', 'api', 'v1')), 'TEN_ERR_EXPORT_UNSUPPORTED');
});

describe('exportKubernetes', () => {
  const c = config(`[settings]\ndomain = "example.com"\n[service.api]\ncommand = "node server.js"\nhealth = "/health"\nmemory_limit_mb = 256\ncpu_limit = 0.5\n[service.api.env]\nINSTANCE = "{name}:{id}"\nAPI_KEY = "s3cret-value"\n[service.web]\ncommand = "python3 app.py"\nidle_timeout = 60\nsticky = "cookie"\nrestart = "never"\npids_limit = 64\nuser = "www-data"\n`);
  const state = live([view('api:v1', { weight: 80 }), view('api:v2', { weight: 20 }), view('web:a', { state: 'idle', pid: null, weight: 100 })],
    { shadows: [{ service: 'api', to: 'v2', percent: 100, active: true } as LiveState['shadows'][number]] });
  const { objects, warnings } = exportKubernetes(c, PLUGINS, state, OPTS);

  test('a Deployment and a Service per instance, HTTPRoutes per host; every object passes validateManifest', () => {
    assert.deepEqual(objects.map((o) => `${o.kind} ${o.metadata?.name}`), [
      'Deployment api-v1', 'Service api-v1', 'Deployment api-v2', 'Service api-v2', 'HTTPRoute api-v1', 'HTTPRoute api-v2', 'HTTPRoute api',
      'Deployment web-a', 'Service web-a', 'HTTPRoute web-a', 'HTTPRoute web',
    ]);
    objects.forEach(validateManifest);
  });

  test('the Deployment carries argv, env ({name}/{id} filled, secrets as references), probes, limits; replicas 0 when asleep', () => {
    const d = of(objects, 'Deployment', 'api-v1');
    const ctr = d.spec.template.spec.containers[0];
    assert.deepEqual(ctr.command, ['node', 'server.js']);
    assert.equal(ctr.image, 'api:v1');
    assert.deepEqual(ctr.env.find((e: any) => e.name === 'INSTANCE'), { name: 'INSTANCE', value: 'api:v1' });
    assert.deepEqual(ctr.env.find((e: any) => e.name === 'API_KEY'), { name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'api-env', key: 'API_KEY' } } });
    assert.deepEqual(ctr.readinessProbe.httpGet, { path: '/health', port: 'http' });
    assert.deepEqual(ctr.resources, { limits: { memory: '256Mi', cpu: '500m' } });
    assert.equal(d.spec.replicas, 1);
    assert.equal(of(objects, 'Deployment', 'web-a').spec.replicas, 0);
    assert.deepEqual(of(objects, 'Deployment', 'web-a').spec.template.spec.containers[0].readinessProbe.tcpSocket, { port: 'http' });
  });

  test('no secret value is written anywhere', () => {
    assert.doesNotMatch(toYaml(objects, warnings), /s3cret-value/);
  });

  test('the {service}.{domain} route: tenement\'s weights, targeting rules first, the shadow mirrored', () => {
    const r = of(objects, 'HTTPRoute', 'api');
    assert.deepEqual(r.spec.hostnames, ['api.example.com']);
    assert.deepEqual(r.spec.parentRefs, [{ name: 'tenement' }]);
    const last = r.spec.rules.at(-1);
    assert.deepEqual(last.backendRefs, [{ name: 'api-v1', port: 80, weight: 80 }, { name: 'api-v2', port: 80, weight: 20 }]);
    assert.deepEqual(last.filters, [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'api-v2', port: 80 } } }]);
    assert.deepEqual(r.spec.rules[1].matches[0].headers, [{ type: 'Exact', name: 'x-tenement-instance', value: 'v2' }]);
    assert.equal(r.spec.rules[1].filters, undefined, 'requests for the shadow itself are not mirrored to it');
    assert.deepEqual(of(objects, 'HTTPRoute', 'web-a').spec.hostnames, ['a.web.example.com']);
  });

  test('what is not exported is a warning', () => {
    const all = warnings.join('\n');
    for (const re of [/api: env API_KEY looks like a secret and is not written.*kubectl create secret generic api-env --from-literal=API_KEY=…/, /web: idle_timeout = 60 s .*KEDA.*Knative/,
      /web: sticky = "cookie"/, /web: restart = "never"/, /web: pids_limit = 64/, /web: user = "www-data"/, /web:a: idle in tenement, exported with replicas 0 and weight 100/, /DATA_DIR is an emptyDir/]) {
      assert.match(all, re);
    }
  });

  test('an instance of a service the config does not define is TEN_ERR_EXPORT_UNKNOWN_SERVICE', () => {
    assert.equal(code(() => exportKubernetes(c, PLUGINS, live([view('gone:x')]), OPTS)), 'TEN_ERR_EXPORT_UNKNOWN_SERVICE');
  });
});

/** What the kubelet does to a container's command/args and env values (Kubernetes'
 *  third_party/forked/golang/expansion): `$$` → `$`, `$(NAME)` → NAME's value when it is defined. */
function kubeletExpand(s: string, vars: Record<string, string>): string {
  return s.replace(/\$(\$|\(([^)]*)\))/g, (all, what: string, name?: string) => (what === '$' ? '$' : vars[name!] ?? all));
}

test('$(VAR) and $$ reach the pod as tenement wrote them: every $ is written $$ in command and env', () => {
  const c = config(`[service.api]\nargs = ["node", "server.js", "--x=$(HOME)", "a$$b", "$"]\n[service.api.env]\nLITERAL = "$(PORT)-x"\nPRICE = "5$"\n`);
  const ctr = of(exportKubernetes(c, PLUGINS, live([view('api:v1')]), OPTS).objects, 'Deployment', 'api-v1').spec.template.spec.containers[0];
  assert.deepEqual(ctr.command, ['node', 'server.js', '--x=$$(HOME)', 'a$$$$b', '$$']);
  assert.deepEqual(ctr.env.filter((e: any) => e.name === 'LITERAL' || e.name === 'PRICE'), [{ name: 'LITERAL', value: '$$(PORT)-x' }, { name: 'PRICE', value: '5$$' }]);
  const podEnv = { HOME: '/root', PORT: '8080' };
  assert.deepEqual(ctr.command.map((a: string) => kubeletExpand(a, podEnv)), ['node', 'server.js', '--x=$(HOME)', 'a$$b', '$']);
  assert.equal(kubeletExpand(ctr.env[0].value, podEnv), '$(PORT)-x');
});

describe('the Gateway API limits: 16 rules per route, 16 backends per rule', () => {
  const c = config(`[service.api]\ncommand = "node server.js"\n`);
  test('20 instances: 15 targeting rules and the weighted one, then a second route with the other 5', () => {
    const many = Array.from({ length: 20 }, (_, k) => view(`api:i${k}`, { weight: k < 16 ? 1 : 0 }));
    const { objects, warnings } = exportKubernetes(c, PLUGINS, live(many), OPTS);
    objects.forEach(validateManifest);
    const main = of(objects, 'HTTPRoute', 'api');
    assert.equal(main.spec.rules.length, 16);
    assert.equal(main.spec.rules.at(-1).backendRefs.length, 16, 'the weight-0 instances are left out');
    assert.equal(of(objects, 'HTTPRoute', 'api.targeting-2').spec.rules.length, 5);
    assert.match(warnings.join('\n'), /4 instances with weight 0 are left out/);
  });
  test('17 instances with a weight above 0 cannot be one rule: TEN_ERR_EXPORT_UNSUPPORTED', () => {
    const many = Array.from({ length: 17 }, (_, k) => view(`api:i${k}`));
    assert.equal(code(() => exportKubernetes(c, PLUGINS, live(many), OPTS)), 'TEN_ERR_EXPORT_UNSUPPORTED');
  });
});

describe('validateManifest refuses invalid objects (the check the integration test relies on)', () => {
  const c = config(`[service.api]\ncommand = "node server.js"\n`);
  const { objects } = exportKubernetes(c, PLUGINS, live([view('api:v1')]), OPTS);
  const broken = (kind: string, edit: (o: any) => void) => {
    // the last of its kind: for HTTPRoute, the {service}.{domain} route (with matches and weights)
    const o = structuredClone(json(objects.filter((m) => m.kind === kind).at(-1)!));
    edit(o);
    return modelOf(o);
  };
  for (const [what, kind, edit] of [
    ['a weight above the schema\'s 1000000', 'HTTPRoute', (o: any) => { o.spec.rules.at(-1).backendRefs[0].weight = 2_000_000; }],
    ['a header match type the schema does not know', 'HTTPRoute', (o: any) => { o.spec.rules[0].matches[0].headers[0].type = 'Prefix'; }],
    ['a container port that is a string', 'Deployment', (o: any) => { o.spec.template.spec.containers[0].ports[0].containerPort = '8080'; }],
    ['a Service name that starts with a digit (the API server\'s rule, not the schema\'s)', 'Service', (o: any) => { o.metadata.name = '1api'; }],
    ['an uppercase hostname', 'HTTPRoute', (o: any) => { o.spec.hostnames = ['API.example.com']; }],
  ] as const) {
    test(what, () => assert.equal(code(() => validateManifest(broken(kind, edit))), 'TEN_ERR_EXPORT_INVALID'));
  }
  test('a kind ten export does not write', () => assert.equal(code(() => modelOf({ apiVersion: 'v1', kind: 'Pod' })), 'TEN_ERR_EXPORT_INVALID'));
});

test('toYaml: the header as comments, one document per object, read back equal', () => {
  const c = config(`[service.api]\ncommand = "node server.js"\n`);
  const { objects } = exportKubernetes(c, PLUGINS, live([view('api:v1')]), OPTS);
  const text = toYaml(objects, ['first line', '- a warning']);
  assert.match(text, /^# first line\n# - a warning\n---\n/);
  const docs = parseAllDocuments(text);
  assert.deepEqual(docs.map((d) => d.toJS()), objects.map((o) => JSON.parse(JSON.stringify(o.toJSON()))));
});
