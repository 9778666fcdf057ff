// The public surface of tenement's core: everything a plugin may use, and nothing else. Plugins,
// built-in and third-party, import from here only (third-party ones as `from 'tenement'`); a test
// (test/unit/public-surface.test.ts) refuses deep imports into core/*. What is not exported here
// may change in any release.

// the plugin contract
export {
  definePlugin, SLOTS,
  type DeepReadonly, type InstanceControl, type InstanceInfo, type OptionsSchema, type PluginContext,
  type PluginDefinition, type PluginHooks, type PluginInstance, type PluginStore, type Provides,
  type RegistryView, type Slot, type SlotMetadata, type TapOptions, type TapView,
} from './plugin.ts';
export type { Builtins } from './loader.ts';
export { CORE_TAP, HOOK_POLICY, STAGE, type HookName, type Hooks } from './hooks.ts';
// schemas for options (one source: JSON Schema built with TypeBox, checked by ajv)
export { Type, type Static, type TSchema } from '@sinclair/typebox';
export { NameSchema, WeightSchema } from './schema.ts';
// who a management request is, for routes that declare `access` (docs/access.md)
export { accessOf, checkInstance, forbid, tenantOf, type Access, type RouteAccess } from './access.ts';
// errors
export { ERRORS, TenementError, type ErrorCode } from './errors.ts';
// data shapes
export type {
  EventInput, HealthStatus, Instance, InstanceState, Outcome, ProbeResult, RequestContext, RestartPolicy, ServiceConfig,
  Settings, SpawnSpec, Target, TenementConfig, TenementEvent, Transition, WakeContext, WeightChange,
} from './types.ts';
export { viewInstance, type InstanceView } from './view.ts';
// helpers plugins need to agree with the core
export { DNS_LABEL, DNS_RULE, isDnsLabel, spawnIdTest } from './config-schema.ts';
export { assertName, assertWeight } from './registry.ts';
export { parseHost } from './router.ts';
export { describeExit, INIT_PATH, instanceDataDir } from './process.ts';
export { cgroupTag, probeCgroups, type CgroupSupport, type Controller, type Hierarchy } from './cgroup.ts';
export { httpTarget, instanceAddress, type Address } from './net.ts';
export { sleep, waitUntil, type WaitOptions } from './wait.ts';
// Server-Sent Events for plugins' live routes (bounded per client)
export { SseStream, type SseOptions } from './sse.ts';
// what an instance's process tree uses (CPU time, memory), for metrics
export { processTreeUsage, type ProcessUsage, type UsageOptions, type UsageSource } from './usage.ts';
