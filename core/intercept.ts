// The tap wrapper: a tapable `register` interceptor on every hook that applies HOOK_POLICY to
// each tap as it is registered, for sync, callback and promise taps alike. A tap's name is the
// plugin that registered it (plugin-context.ts stamps it), so errors and logs name that plugin.
import type { Logger } from 'pino';
import { TenementError } from './errors.ts';
import { HOOK_POLICY, type HookName, type Hooks } from './hooks.ts';

/** Wrap every tap registered on `hooks` from now on per HOOK_POLICY; isolated errors go to `log`. */
export function isolateTaps(hooks: Hooks, log: Logger): void {
  for (const [name, hook] of Object.entries(hooks) as Array<[HookName, Hooks[HookName]]>) {
    const isolate = HOOK_POLICY[name] === 'isolate';
    hook.intercept({
      register(tap) {
        const plugin = tap.name;
        /** undefined when the error is isolated (logged), else the error to fail with. */
        const settle = (err: unknown): TenementError | undefined => {
          if (isolate) {
            log.error({ err, plugin, hook: name }, 'plugin tap failed (isolated)');
            return undefined;
          }
          if (err instanceof TenementError) return err;
          return new TenementError('TEN_ERR_PLUGIN_FAILED', [plugin, name, err instanceof Error ? err.message : String(err)], { plugin, hook: name }, err);
        };
        const fn = tap.fn as (...a: unknown[]) => unknown;
        if (tap.type === 'sync') {
          tap.fn = (...args: unknown[]) => {
            try { return fn(...args); } catch (err) {
              const e = settle(err);
              if (e) throw e;
              return undefined;
            }
          };
        } else if (tap.type === 'async') {
          tap.fn = (...args: unknown[]) => {
            const cb = args.pop() as (err?: unknown, result?: unknown) => void;
            const done = (err?: unknown, result?: unknown) => (err === undefined || err === null ? cb(null, result) : cb(settle(err)));
            try { fn(...args, done); } catch (err) { done(err); }
          };
        } else if (tap.type === 'promise') {
          tap.fn = async (...args: unknown[]) => {
            try { return await fn(...args); } catch (err) {
              const e = settle(err);
              if (e) throw e;
              return undefined;
            }
          };
        }
        return tap;
      },
    });
  }
}
