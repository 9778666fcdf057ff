// process-isolation (slot `isolation`, the default; level "process"): each instance runs in its
// own session and process group, so a stop or crash clean-up signals the whole group and an app's
// children never outlive it.
import { definePlugin } from '../../core/index.ts';

export default definePlugin({
  name: 'process-isolation',
  provides: 'isolation',
  levels: ['process'],
  create() {
    return {
      apply(ctx) {
        ctx.hooks.prepareSpawn.tap('process-isolation', (spec) =>
          spec.service.isolation === 'process' ? { ...spec, detached: true } : spec);
      },
    };
  },
});
