// `ten export kubernetes`: the config and the live state of a ten serve as Kubernetes manifests —
// per instance a Deployment and a Service (workload.ts), per service the Gateway API HTTPRoutes of
// its hosts (routes.ts). A pure function of its inputs; cli/commands/export.ts gathers them.
// What has no Kubernetes meaning is never dropped silently: it is a warning (mapping.ts).
// docs/scaling-out.md is the user's page.
import type { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import type { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { Service } from 'kubernetes-models/v1/Service';
import { tenErr } from '../../core/errors.ts';
import type { InstanceState, TenementConfig } from '../../core/types.ts';
import type { InstanceView } from '../../core/view.ts';
import type { ShadowView } from '../../plugins/deploy-workflows/view.ts';
import { DATA_PATH } from './env.ts';
import { imageFor } from './image.ts';
import { instanceWarnings, pluginWarnings, serviceWarnings, type PluginFacts } from './mapping.ts';
import { allocateNames } from './names.ts';
import { serviceRoutes, type RouteInstance } from './routes.ts';
import { workload } from './workload.ts';

export type { PluginFacts } from './mapping.ts';

/** An exported object: what `.validate()` and `.toJSON()` are called on. */
export type Manifest = Deployment | Service | HTTPRoute;

export interface ExportOptions {
  /** metadata.namespace of every object; unset: none (kubectl's current namespace applies). */
  namespace?: string;
  /** `{service}` and `{id}` filled in per instance (image.ts). */
  imageTemplate: string;
  /** The Gateway every HTTPRoute attaches to (parentRefs). */
  gateway: { name: string; namespace?: string };
  /** The {domain} of the hostnames; normally [settings] domain. */
  domain: string;
  /** The port the app listens on in its pod ($PORT). */
  containerPort: number;
  /** The port of each instance's Service (the HTTPRoutes' backendRefs port). */
  servicePort: number;
}

/** What ten serve reports: GET /api/instances, the active shadows, the services with a rollout running. */
export interface LiveState {
  instances: readonly InstanceView[];
  shadows: readonly ShadowView[];
  rollouts: readonly string[];
}

export interface ExportResult {
  objects: Manifest[];
  /** One line each, "subject: what is not exported or changed, and what to use instead". */
  warnings: string[];
}

/** States in which an instance has no process by tenement's choice: exported with replicas 0. */
const ASLEEP: readonly InstanceState[] = ['idle', 'stopped', 'stopping'];

/**
 * The manifests of `live` under `config`. Instances come from the live state, in `ten ps` order,
 * grouped by service; their command, env, health and limits from the config. Throws
 * TEN_ERR_EXPORT_UNKNOWN_SERVICE for an instance of a service the config does not define, and
 * TEN_ERR_EXPORT_UNSUPPORTED for what cannot be written (image.ts, routes.ts).
 */
export function exportKubernetes(config: TenementConfig, plugins: readonly PluginFacts[], live: LiveState, opts: ExportOptions): ExportResult {
  const warnings = pluginWarnings(plugins);
  const bySlot = (slot: string) => plugins.find((p) => p.slot === slot);
  const workflows = bySlot('workflows');
  const targeting = workflows?.def.name === 'deploy-workflows'
    ? { header: String(workflows.options.target_header).toLowerCase(), cookie: String(workflows.options.target_cookie) }
    : undefined;

  const byService = new Map<string, InstanceView[]>();
  for (const i of live.instances) {
    if (!Object.hasOwn(config.services, i.service)) throw tenErr('TEN_ERR_EXPORT_UNKNOWN_SERVICE', i.service, config.path ?? 'the config');
    byService.set(i.service, [...(byService.get(i.service) ?? []), i]);
  }
  const wanted = new Map<string, string>();
  for (const [service, list] of byService) {
    wanted.set(service, service);
    for (const i of list) wanted.set(i.key, `${service}-${i.id}`);
  }
  const names = allocateNames(wanted);

  const objects: Manifest[] = [];
  for (const svc of Object.values(config.services)) {
    const list = byService.get(svc.name) ?? [];
    const secretName = `${names.get(svc.name) ?? svc.name}-env`;
    const secrets = new Set<string>();
    const socketPath = new Set<string>();
    const routed: RouteInstance[] = [];
    for (const i of list) {
      const name = names.get(i.key)!;
      const replicas = ASLEEP.includes(i.state) ? 0 : 1;
      const w = workload({
        svc, settings: config.settings, id: i.id, name, namespace: opts.namespace, image: imageFor(opts.imageTemplate, svc.name, i.id),
        replicas, containerPort: opts.containerPort, servicePort: opts.servicePort, secretName,
      });
      w.secrets.forEach((s) => secrets.add(s));
      w.socketPath.forEach((s) => socketPath.add(s));
      objects.push(w.deployment, w.service);
      routed.push({ id: i.id, name, weight: i.weight });
      warnings.push(...instanceWarnings(i, replicas));
    }
    warnings.push(...serviceWarnings(svc, { instances: list.length, secrets: [...secrets], secretName, socketPath: [...socketPath], rollout: live.rollouts.includes(svc.name), namespace: opts.namespace }));
    if (list.length === 0) continue;
    const shadow = live.shadows.find((s) => s.service === svc.name && s.active);
    const mirror = shadow && routed.find((r) => r.id === shadow.to);
    if (shadow && shadow.percent < 100) {
      warnings.push(`${svc.name}: the shadow mirrors ${shadow.percent}% of requests to ${shadow.to}; the exported RequestMirror filter mirrors all of them (a share needs Gateway API v1.2's experimental requestMirror.percent)`);
    }
    const r = serviceRoutes({
      service: svc.name, domain: opts.domain, namespace: opts.namespace, gateway: opts.gateway, routeName: names.get(svc.name)!,
      instances: routed, servicePort: opts.servicePort, targeting, mirror,
    });
    objects.push(...r.routes);
    warnings.push(...r.warnings);
  }
  if (live.instances.length > 0) {
    warnings.push(`DATA_DIR is an emptyDir volume at ${DATA_PATH}: its files go when the pod goes; for data that must last, mount a PersistentVolumeClaim there (a StatefulSet, or one claim per Deployment) and copy each instance's {data_dir}/{service}/{id} into it`);
  }
  return { objects, warnings };
}
