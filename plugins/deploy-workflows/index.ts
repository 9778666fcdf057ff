// deploy-workflows (slot `workflows`, the default): deploy, route, rolling, automated canary with
// auto-rollback, shadow traffic, header/cookie targeting, sticky A/B assignment and the history
// of all of it — driven only by weights, targeting and the lifecycle.
import { Engine } from './engine.ts';
import { rollout, type RolloutParams } from './rollout.ts';
import { workflowRoutes } from './routes.ts';
import { Shadows } from './shadow.ts';
import { Counters } from './stats.ts';
import { applyTargeting, type TargetingOptions } from './targeting.ts';
import { TenementError, definePlugin } from '../../core/index.ts';

interface WorkflowOptions extends TargetingOptions {
  /** Largest request body mirrored to a shadow (bytes). */
  shadow_body_limit: number;
}

export default definePlugin<WorkflowOptions>({
  name: 'deploy-workflows',
  provides: 'workflows',
  options: {
    properties: {
      target_header: { type: 'string', pattern: '^[A-Za-z0-9-]+$', default: 'x-tenement-instance' },
      target_cookie: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'tenement-instance' },
      sticky_cookie: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'tenement-sticky' },
      shadow_body_limit: { type: 'integer', minimum: 0, default: 65536 },
    },
  },
  create(options) {
    let shadows: Shadows | undefined;
    return {
      apply(ctx) {
        const engine = new Engine(ctx);
        const counters = new Counters();
        shadows = new Shadows(ctx, options.shadow_body_limit);
        applyTargeting(ctx, { ...options, target_header: options.target_header.toLowerCase() });
        ctx.hooks.requestDone.tap('deploy-workflows', (rc, outcome) => {
          // a WebSocket's duration is its whole session, not a latency
          if (outcome.instance && !rc.upgrade) counters.add(outcome.instance.key, outcome.status, outcome.durationMs);
        });
        ctx.http.register(workflowRoutes(engine, counters, shadows));
        ctx.hooks.shutdown.tap('deploy-workflows', () => { engine.closing = true; });
        // operations a previous ten serve left running: rollouts resume, the others are reported
        ctx.hooks.ready.tap('deploy-workflows', () => {
          for (const op of engine.journal.unfinished()) {
            engine.adopt(op);
            if (op.kind === 'rollout') {
              void rollout(engine, counters, op, op.params as unknown as RolloutParams, true);
            } else {
              engine.step(op, `interrupted by a restart of ten serve; instances left as they were: ${ctx.registry.list(op.service).map((i) => `${i.id} ${i.weight}`).join(', ')}`);
              engine.journal.finish(op, 'failed', new TenementError('TEN_ERR_WORKFLOW_INTERRUPTED', [op.kind, op.service]));
              engine.journal.record(op.service, op.kind, 'failed', `${op.kind} interrupted by a restart of ten serve`, { op: op.id });
              engine.end(op);
            }
          }
        });
      },
      dispose() {
        shadows?.close();
      },
    };
  },
});
