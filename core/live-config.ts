// The config in force: the one mutable reference to it. A reload (core/reload.ts) replaces the
// whole config object at once; nothing ever changes a config in place (each is deep-frozen).
// Components do not keep a config of their own: each gets a deps object whose `config` is a
// getter of this reference, read at call time (`this.d.config.services[...]`), so they all see
// the new one from the same moment on, and a request or a start already under way keeps the
// service object it began with.
import { deepFreeze } from './plugin-context.ts';
import type { TenementConfig } from './types.ts';

export class LiveConfig {
  #current: TenementConfig;

  constructor(config: TenementConfig) {
    this.#current = deepFreeze(config) as TenementConfig;
  }

  /** The config in force (deep-frozen). */
  get current(): TenementConfig {
    return this.#current;
  }

  /** Put `next` in force (it is deep-frozen here). */
  replace(next: TenementConfig): void {
    this.#current = deepFreeze(next) as TenementConfig;
  }

  /** `deps` given a `config` property that reads the config in force at each access: what the
   *  components (supervisor, health, router, proxy, API, plugin contexts) take as their config. */
  deps<T extends { readonly config: unknown }>(deps: Omit<T, 'config'>): T {
    return Object.defineProperty(deps, 'config', { get: () => this.#current, enumerable: true }) as T;
  }
}
