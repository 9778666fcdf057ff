// One instance as a Deployment (its process) and a Service (its address): what `ten serve` does
// for an instance — run the command with its env and limits, probe its health, stop it with
// SIGTERM then SIGKILL after stop_timeout — said in Kubernetes' words (apps/v1 Deployment, v1
// Service; field meanings from the Kubernetes API reference).
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import { Service } from 'kubernetes-models/v1/Service';
import type { ServiceConfig, Settings } from '../../core/types.ts';
import { DATA_PATH, exportEnv, k8sLiteral } from './env.ts';
import { labels } from './names.ts';

/** The name of the container port (the Service's targetPort and the probes' port). */
const PORT_NAME = 'http';

/** Whole seconds ≥ 1, as Kubernetes' probe fields take them (tenement's may be fractions). */
const seconds = (s: number): number => Math.max(1, Math.ceil(s));

export interface WorkloadParams {
  svc: ServiceConfig;
  settings: Settings;
  id: string;
  /** The RFC 1035 name of the instance's objects (names.ts allocateNames). */
  name: string;
  namespace?: string;
  image: string;
  /** 1, or 0 for an instance tenement has scaled to zero (idle, suspended, stopped). */
  replicas: 0 | 1;
  containerPort: number;
  servicePort: number;
  /** The Secret that env vars which look secret refer to. */
  secretName: string;
}

/**
 * tenement's health check as a probe: GET `health` on the container port, else a TCP connect
 * (tenement's probe without a `health` path). `kind` picks the thresholds: readiness takes the
 * instance out of the Service's endpoints like `unhealthy` takes it out of routing; liveness
 * restarts it like the supervisor restarts an unhealthy one (its successThreshold must be 1);
 * startup gives it startup_timeout to come up, probing every second.
 */
function probe(svc: ServiceConfig, s: Settings, kind: 'readiness' | 'liveness' | 'startup'): IProbe {
  const action = svc.health ? { httpGet: { path: svc.health, port: PORT_NAME } } : { tcpSocket: { port: PORT_NAME } };
  const timeoutSeconds = seconds(s.health_timeout);
  if (kind === 'startup') return { ...action, periodSeconds: 1, timeoutSeconds, failureThreshold: seconds(svc.startup_timeout) };
  return {
    ...action, periodSeconds: seconds(s.health_interval), timeoutSeconds, failureThreshold: s.unhealthy_threshold,
    ...(kind === 'readiness' ? { successThreshold: s.healthy_threshold } : {}),
  };
}

/** memory_limit_mb → limits.memory in Mi; cpu_limit (cores) → limits.cpu in millicores. Requests
 *  are left to Kubernetes, which sets them equal to the limits when only limits are given. */
function resources(svc: ServiceConfig): IResourceRequirements | undefined {
  const limits: Record<string, string> = {};
  if (svc.memory_limit_mb !== undefined) limits.memory = `${svc.memory_limit_mb}Mi`;
  if (svc.cpu_limit !== undefined) limits.cpu = `${Math.max(1, Math.round(svc.cpu_limit * 1000))}m`;
  return Object.keys(limits).length === 0 ? undefined : { limits };
}

/** A numeric user or group (a name cannot be a runAsUser: the image's /etc/passwd decides). */
const numeric = (p: string | undefined): number | undefined => (p !== undefined && /^[0-9]+$/.test(p) ? Number(p) : undefined);

/** The Deployment and the Service of one instance, and the names of its env vars that became
 *  Secret references or use {socket_path}. */
export function workload(p: WorkloadParams): { deployment: Deployment; service: Service; secrets: string[]; socketPath: string[] } {
  const { svc, id } = p;
  const meta = { name: p.name, ...(p.namespace === undefined ? {} : { namespace: p.namespace }), labels: labels(svc.name, id) };
  const { env, secrets, socketPath } = exportEnv(svc, id, p.containerPort, p.secretName);
  const runAs = { ...(numeric(svc.user) === undefined ? {} : { runAsUser: numeric(svc.user) }), ...(numeric(svc.group) === undefined ? {} : { runAsGroup: numeric(svc.group) }) };
  const limits = resources(svc);
  const deployment = new Deployment({
    metadata: meta,
    spec: {
      replicas: p.replicas,
      selector: { matchLabels: labels(svc.name, id) },
      template: {
        metadata: { labels: labels(svc.name, id) },
        spec: {
          // SIGTERM, then SIGKILL after stop_timeout: the supervisor's stop
          terminationGracePeriodSeconds: Math.ceil(svc.stop_timeout),
          ...(Object.keys(runAs).length === 0 ? {} : { securityContext: runAs }),
          containers: [{
            name: svc.name,
            image: p.image,
            // argv as tenement runs it (never through a shell, never $(VAR)-expanded), from the same folder
            command: svc.argv.map(k8sLiteral),
            workingDir: svc.workdir,
            env,
            ports: [{ name: PORT_NAME, containerPort: p.containerPort, protocol: 'TCP' }],
            readinessProbe: probe(svc, p.settings, 'readiness'),
            livenessProbe: probe(svc, p.settings, 'liveness'),
            startupProbe: probe(svc, p.settings, 'startup'),
            ...(limits ? { resources: limits } : {}),
            volumeMounts: [{ name: 'data', mountPath: DATA_PATH }],
          }],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  });
  const service = new Service({
    metadata: meta,
    spec: { selector: labels(svc.name, id), ports: [{ name: PORT_NAME, port: p.servicePort, targetPort: PORT_NAME, protocol: 'TCP' }] },
  });
  return { deployment, service, secrets, socketPath };
}
