// Type test (checked by `tsc --noEmit`, never run): what the plugin context must refuse at compile
// time. Each `@ts-expect-error` fails the typecheck if the line below it becomes legal, so a
// widened type (a hook view with `call`, a writable registry) cannot slip in unnoticed.
// At run time the same attempts fail with TEN_ERR_PLUGIN_FORBIDDEN (test/unit/plugin-context.test.ts).
import { definePlugin, Type, type PluginContext } from '../../core/index.ts';

export function refusedByTheTypes(ctx: PluginContext): void {
  // @ts-expect-error hooks are tap-only views: a plugin cannot call a hook
  ctx.hooks.selectInstance.call([], undefined);
  // @ts-expect-error … nor run an async hook
  void ctx.hooks.wake.promise(undefined);
  // @ts-expect-error … nor intercept one
  ctx.hooks.transition.intercept({});
  const inst = ctx.registry.list()[0];
  // @ts-expect-error the registry view is read-only: no writes on it
  ctx.registry.setWeights([[inst, 0]], 'x');
  // @ts-expect-error … no create either (ask ctx.instances.create)
  ctx.registry.create('api', 'x', 0);
  // @ts-expect-error instances are read-only through the view
  inst.weight = 0;
  // @ts-expect-error the config is frozen, and typed so
  ctx.config.settings.port = 1;
  // @ts-expect-error there is no raw database handle any more, only the plugin's own store
  void ctx.db;
  // @ts-expect-error a tap's function must match the hook: selectInstance returns an instance
  ctx.hooks.selectInstance.tap(ctx.name, () => 'not an instance');

  // what is allowed, for contrast
  ctx.hooks.selectInstance.tap(ctx.name, (candidates) => candidates[0]);
  ctx.hooks.wake.tapPromise({ name: ctx.name, stage: -1 }, async () => undefined);
  ctx.instances.setWeights([[inst, 0]], 'allowed');
}

// Options typed from their TypeBox schema.
export const typed = definePlugin({
  name: 'typed',
  options: Type.Object({ max_inflight: Type.Integer({ minimum: 1, default: 100 }) }),
  create(options) {
    const n: number = options.max_inflight;
    // @ts-expect-error an option the schema does not declare
    void options.nope;
    return { apply() { void n; } };
  },
});

// Slot metadata: an isolation plugin must declare its levels.
// @ts-expect-error `levels` is required with provides: 'isolation'
export const noLevels = definePlugin({ name: 'bad-isolation', provides: 'isolation', create: () => ({ apply() {} }) });
export const withLevels = definePlugin({ name: 'good-isolation', provides: 'isolation', levels: ['process'], create: () => ({ apply() {} }) });
