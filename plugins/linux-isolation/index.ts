// linux-isolation (slot `isolation`, the default): the three isolation levels of seed 004, one file
// each — `process` (nothing more than what every instance gets: tenement-init, its own process
// group and cgroup, its own user), `namespace` (PID, mount, IPC and UTS namespaces with util-linux
// unshare) and `sandbox` (bubblewrap). A level that cannot run on this host fails the start with
// TEN_ERR_ISOLATION_UNAVAILABLE naming what is missing, never a silent downgrade.
// docs/plugins/linux-isolation.md, docs/isolation.md.
import { definePlugin, TenementError, type SpawnSpec } from '../../core/index.ts';
import { namespaceSpec } from './namespace.ts';
import { sandboxSpec } from './sandbox.ts';
import { LEVELS, levelSupport, type Level } from './support.ts';

export default definePlugin({
  name: 'linux-isolation',
  provides: 'isolation',
  levels: LEVELS,
  create() {
    return {
      apply(ctx) {
        const rewrite: Record<Level, (spec: SpawnSpec) => SpawnSpec> = {
          process: (spec) => spec,
          namespace: namespaceSpec,
          sandbox: (spec) => sandboxSpec(spec, ctx.config.settings.data_dir),
        };
        ctx.hooks.prepareSpawn.tap('linux-isolation', (spec) => {
          const level = spec.service.isolation as Level;
          if (!LEVELS.includes(level)) return spec; // another plugin's level (or none): not ours
          const why = levelSupport(level);
          if (why) throw new TenementError('TEN_ERR_ISOLATION_UNAVAILABLE', [level, why]);
          return rewrite[level](spec);
        });
      },
    };
  },
});
