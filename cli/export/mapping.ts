// What of tenement has no (exported) Kubernetes counterpart, said as warnings: printed on stderr
// and written at the top of the YAML, never dropped silently. Each names what to use instead; the
// table in docs/scaling-out.md says the same at length.
import type { LoadedPlugin } from '../../core/loader.ts';
import type { ServiceConfig } from '../../core/types.ts';
import type { InstanceView } from '../../core/view.ts';

/** What ten export reads of a plugin `ten serve` would load (core/loader.ts resolvePlugins): its
 *  name, its slot (undefined: [[plugins.extra]] without one) and its options, defaults filled in. */
export type PluginFacts = Pick<LoadedPlugin, 'slot' | 'options'> & { def: Pick<LoadedPlugin['def'], 'name'> };

/** The built-in of each slot that ten export knows how to map, and what it says about it. */
const KNOWN: Record<string, { name: string; note?: string }> = {
  balancer: { name: 'weighted-balancer' },
  isolation: { name: 'linux-isolation' },
  scaler: { name: 'idle-scaler' },
  workflows: { name: 'deploy-workflows' },
  metrics: { name: 'prometheus-exporter', note: 'ten serve\'s /metrics has no exported counterpart: scrape the Gateway implementation\'s and the apps\' own metrics (a Prometheus Operator ServiceMonitor or PodMonitor)' },
  dashboard: { name: 'web-dashboard', note: 'the dashboard is not exported: use kubectl, Headlamp or the Kubernetes Dashboard' },
};

/** One warning per loaded plugin that the export does not carry over; one for the proxy's limits. */
export function pluginWarnings(plugins: readonly PluginFacts[]): string[] {
  const out: string[] = [];
  for (const p of plugins) {
    const name = p.def.name;
    const known = p.slot === undefined ? undefined : KNOWN[p.slot];
    const what = p.slot === undefined ? `plugin ${name} ([[plugins.extra]])` : `plugin ${name} (slot ${p.slot})`;
    if (known?.name === name) {
      if (known.note) out.push(`${what}: ${known.note}`);
    } else if (p.slot === 'balancer') {
      out.push(`${what}: not exported; HTTPRoute backendRefs carry tenement's weights and the Gateway implementation picks the balancing algorithm (e.g. Envoy Gateway's BackendTrafficPolicy loadBalancer)`);
    } else if (p.slot === 'workflows') {
      out.push(`${what}: not exported; no header or cookie targeting rules are written (ten export maps deploy-workflows' only)`);
    } else {
      out.push(`${what}: not exported: ten export knows no Kubernetes meaning for it`);
    }
  }
  out.push('proxy limits (request_timeout, response_idle_timeout, max_connections, max_queue, queue_timeout) and [settings] client bounds are not exported: set them on the Gateway implementation (e.g. Envoy Gateway ClientTrafficPolicy / BackendTrafficPolicy)');
  return out;
}

export interface ServiceFacts {
  /** Instances of the service that ten serve runs. */
  instances: number;
  /** Env vars exported as Secret references, and the Secret they refer to. */
  secrets: string[];
  secretName: string;
  /** Env vars whose template uses {socket_path}. */
  socketPath: string[];
  /** A rollout is running: the weights are a snapshot of it. */
  rollout: boolean;
  namespace?: string;
}

/** What of [service.NAME] the Deployment does not carry, one warning each. */
export function serviceWarnings(svc: ServiceConfig, f: ServiceFacts): string[] {
  const n = svc.name;
  const out: string[] = [];
  if (f.instances === 0) out.push(`${n}: no instances run, so nothing is exported for it (spawn one, or write its Deployment by hand)`);
  if (f.secrets.length > 0) {
    const ns = f.namespace === undefined ? '' : ` -n ${f.namespace}`;
    const keys = f.secrets.map((k) => `--from-literal=${k}=…`).join(' ');
    const placeholders = f.secrets.some((k) => /\{[a-z_]+\}/.test(svc.env[k] ?? '')) ? ' (some values use {id} or other placeholders: write each instance\'s value)' : '';
    out.push(`${n}: env ${f.secrets.join(', ')} ${f.secrets.length === 1 ? 'looks like a secret and is' : 'look like secrets and are'} not written: the pods read ${f.secrets.length === 1 ? 'it' : 'them'} from Secret ${f.secretName}; create it: kubectl create secret generic ${f.secretName}${ns} ${keys}${placeholders}`);
  }
  if (svc.isolation === 'sandbox') out.push(`${n}: isolation = "sandbox" (bubblewrap) is not exported: use a sandboxed RuntimeClass (gVisor runsc, Kata Containers) and set runtimeClassName`);
  else if (svc.isolation === 'namespace') out.push(`${n}: isolation = "namespace": every pod has its own PID, mount, IPC and UTS namespaces already; nothing more is exported`);
  else if (svc.isolation !== 'process') out.push(`${n}: isolation = "${svc.isolation}" is not exported: ten export knows no Kubernetes meaning for it`);
  if (svc.idle_timeout > 0) {
    out.push(`${n}: idle_timeout = ${svc.idle_timeout} s (scale to zero, idle_action = "${svc.idle_action}") is not exported: Deployments keep their replicas; use KEDA (with its HTTP add-on) or Knative Serving`);
  }
  if (svc.spawn_on_request) out.push(`${n}: spawn_on_request is not exported: only the instances running now are; new ones need a new Deployment, Service and HTTPRoute each`);
  if (svc.sticky !== undefined) {
    out.push(`${n}: sticky = "${svc.sticky}" is not exported: Gateway API v1.0 has no session affinity (v1.1's experimental sessionPersistence, or the implementation's consistent hashing, e.g. Envoy Gateway's BackendTrafficPolicy)`);
  }
  if (svc.pids_limit !== undefined) out.push(`${n}: pids_limit = ${svc.pids_limit} is not exported: Kubernetes limits PIDs per node (the kubelet's podPidsLimit), not per pod`);
  if (svc.restart !== 'always') out.push(`${n}: restart = "${svc.restart}" is not exported: a Deployment's pods always restart (restartPolicy Always); use a Job for run-once work`);
  if (svc.listen === 'socket') out.push(`${n}: listen = "socket" is not exported: a pod's app listens on TCP, on $PORT`);
  if (f.socketPath.length > 0) out.push(`${n}: env ${f.socketPath.join(', ')} use {socket_path}, which has no meaning in a pod: left as written`);
  for (const [key, who] of [['user', svc.user], ['group', svc.group]] as const) {
    if (who !== undefined && !/^[0-9]+$/.test(who)) out.push(`${n}: ${key} = "${who}" is not exported: set runAs${key === 'user' ? 'User' : 'Group'} to its numeric id (a pod takes ids, not names)`);
  }
  if (f.rollout) out.push(`${n}: a rollout is running: its weights are exported as they are now; automated canaries map to Flagger or Argo Rollouts`);
  return out;
}

/** What of an instance's live state the export changes. */
export function instanceWarnings(i: InstanceView, replicas: 0 | 1): string[] {
  const out: string[] = [];
  if (replicas === 0 && i.weight > 0) {
    out.push(`${i.key}: ${i.state} in tenement, exported with replicas 0 and weight ${i.weight}: its share of ${i.service}'s traffic fails until something scales it up (KEDA HTTP add-on, Knative) or you set replicas 1`);
  }
  if (i.state === 'failed' || i.state === 'unhealthy') out.push(`${i.key}: ${i.state} in tenement, exported with replicas 1: check it works before you move traffic`);
  return out;
}
