// The only list of built-in plugins, and which one fills each slot by default.
import type { Builtins, PluginDefinition } from '../core/index.ts';
import deployWorkflows from './deploy-workflows/index.ts';
import idleScaler from './idle-scaler/index.ts';
import leastConnections from './least-connections/index.ts';
import linuxIsolation from './linux-isolation/index.ts';
import prometheusExporter from './prometheus-exporter/index.ts';
import webDashboard from './web-dashboard/index.ts';
import weightedBalancer from './weighted-balancer/index.ts';

const BUILTIN_PLUGINS: Readonly<Record<string, PluginDefinition>> = Object.freeze(
  Object.fromEntries([weightedBalancer, leastConnections, linuxIsolation, idleScaler, deployWorkflows, prometheusExporter, webDashboard].map((p) => [p.name, p as PluginDefinition])),
);

const DEFAULT_SLOTS: Builtins['defaults'] = Object.freeze({
  balancer: 'weighted-balancer',
  isolation: 'linux-isolation',
  scaler: 'idle-scaler',
  workflows: 'deploy-workflows',
  metrics: 'prometheus-exporter',
  dashboard: 'web-dashboard',
});

export const BUILTINS: Builtins = { plugins: BUILTIN_PLUGINS, defaults: DEFAULT_SLOTS };
