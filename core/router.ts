// Routing: Host header → target, and target → one instance through the hooks
// (filterCandidates → selectInstance → wake). No policy here beyond the core filter.
import { serviceOf } from './config-schema.ts';
import { TenementError } from './errors.ts';
import { clientAddress, trustList } from './forward/index.ts';
import { CORE_TAP, STAGE, type Hooks } from './hooks.ts';
import type { Registry } from './registry.ts';
import { preview } from './schema.ts';
import type { Instance, RequestContext, Target, TenementConfig } from './types.ts';


/** Lowercased host name without port, brackets or trailing dot. */
export function hostName(raw: string | undefined): string {
  if (!raw) return '';
  let h = raw.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.indexOf(':');
  if (colon >= 0 && h.indexOf(':', colon + 1) < 0) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * The routing table of seed 000: `{id}.{service}.{domain}` → one instance, `{service}.{domain}` →
 * balanced, `{domain}` and any host not under it → management. Deeper names under the domain
 * resolve to a service target that cannot exist (so they get a 404 with a code).
 */
export function parseHost(host: string, domain: string): Target {
  if (host === domain || !host.endsWith(`.${domain}`)) return { kind: 'management' };
  const labels = host.slice(0, -(domain.length + 1)).split('.');
  if (labels.length === 1) return { kind: 'service', service: labels[0] };
  if (labels.length === 2) return { kind: 'service', service: labels[1], instanceId: labels[0] };
  return { kind: 'service', service: labels.join('.') };
}

export class Router {
  private readonly domain: string;
  private readonly trusted: (address: string | undefined) => boolean;

  constructor(private readonly d: { config: TenementConfig; registry: Registry; hooks: Hooks }) {
    this.domain = d.config.settings.domain;
    this.trusted = trustList(d.config.settings.trusted_proxies);
    // candidates come from registry.routable() (running, weight > 0); the core filter only drops
    // instances a refused connection ejected a moment ago, and copies nothing when none is
    d.hooks.filterCandidates.tap({ name: CORE_TAP, stage: STAGE.first }, (candidates) => {
      const now = Date.now();
      for (const c of candidates) if (c.ejectedUntil > now) return candidates.filter((i) => i.ejectedUntil <= now);
      return candidates;
    });
  }

  /**
   * Where a request goes: the host parse of seed 000 (synchronous, once per request, left in
   * `ctx.target`), then the resolveTarget taps, which may refine it (header targeting, path
   * routing). Resolves synchronously-fast when nothing taps the hook.
   */
  resolve(ctx: RequestContext): Target | Promise<Target> {
    ctx.target = parseHost(ctx.host, this.domain);
    if (this.d.hooks.resolveTarget.taps.length === 0) return ctx.target;
    return this.d.hooks.resolveTarget.promise(ctx).then((t) => (ctx.target = t === undefined ? ctx.target! : this.checkTarget(t)));
  }

  /** A target a resolveTarget tap returned, if it is one; else the tap broke its contract (500). */
  private checkTarget(t: unknown): Target {
    const o = t as Record<string, unknown> | null;
    const ok = typeof o === 'object' && o !== null && (o.kind === 'management'
      || (o.kind === 'service' && typeof o.service === 'string' && (o.instanceId === undefined || typeof o.instanceId === 'string')));
    if (!ok) throw broken(this.d.hooks.resolveTarget, 'resolveTarget', `returned ${preview(t)}, not a Target ({ kind: 'service', service, instanceId? } or { kind: 'management' })`);
    return t as Target;
  }

  /** The wake payload's `client` (WakeContext): the peer, or who a trusted proxy speaks for. */
  private client(ctx: RequestContext): string {
    return clientAddress(ctx.req.socket?.remoteAddress, ctx.req.rawHeaders, this.trusted);
  }

  /** `inst` if a hook returned a registered instance of `service`; else its tap broke the contract
   *  (a 500 naming the plugins that tap it, instead of a crash further down the proxy). */
  private mine(inst: unknown, service: string, hook: 'selectInstance' | 'wake'): Instance {
    const i = inst as Instance | null;
    if (typeof i === 'object' && i !== null && typeof i.id === 'string' && this.d.registry.get(service, i.id) === i) return i;
    throw broken(this.d.hooks[hook], hook, `returned ${preview(inst)}, not one of the instances of ${service}`);
  }

  /** One instance for this request, or a TenementError (404 unknown, 503 nothing running).
   *  `exclude`: an instance that just failed this request (a direct route then waits for it). */
  async pick(ctx: RequestContext, target: Extract<Target, { kind: 'service' }>, exclude?: Instance): Promise<Instance> {
    const { config, registry, hooks } = this.d;
    if (!serviceOf(config, target.service)) throw new TenementError('TEN_ERR_ROUTE_UNKNOWN_SERVICE', [target.service]);
    if (target.instanceId !== undefined) {
      const inst = registry.get(target.service, target.instanceId);
      if (inst && inst !== exclude && (inst.state === 'running' || inst.state === 'unhealthy')) return inst;
      // not running, or unknown: a scaler may start it (or create it, with spawn_on_request)
      const woken = await hooks.wake.promise({ service: target.service, instanceId: target.instanceId, client: this.client(ctx), ctx });
      if (woken) return this.mine(woken, target.service, 'wake');
      throw new TenementError(inst ? 'TEN_ERR_ROUTE_NO_INSTANCE' : 'TEN_ERR_ROUTE_UNKNOWN_INSTANCE', [`${target.service}:${target.instanceId}`]);
    }
    let all = registry.routable(target.service);
    if (exclude) all = all.filter((i) => i !== exclude);
    const candidates = hooks.filterCandidates.call(all as Instance[], ctx);
    if (!Array.isArray(candidates)) throw broken(hooks.filterCandidates, 'filterCandidates', `returned ${preview(candidates)}, not an array of instances`);
    const chosen = hooks.selectInstance.call(candidates, ctx);
    if (chosen) return this.mine(chosen, target.service, 'selectInstance');
    const woken = await hooks.wake.promise({ service: target.service, client: this.client(ctx), ctx });
    if (woken) return this.mine(woken, target.service, 'wake');
    // running instances that weight 0 keeps out say so (a 503 that said "no running instance"
    // about a running one sent users looking in the wrong place)
    const idle = registry.list(target.service).filter((i) => i.state === 'running' && i.weight === 0).map((i) => i.key);
    throw new TenementError('TEN_ERR_ROUTE_NO_INSTANCE', [target.service, idle.length === 0 ? '' : ` with a weight above 0 (${idle.slice(0, 3).join(', ')}${idle.length > 3 ? ', …' : ''} ${idle.length === 1 ? 'runs' : 'run'} at weight 0)`]);
  }
}

/** TEN_ERR_PLUGIN_FAILED for a hook whose result broke its contract, naming the plugins tapping it. */
function broken(hook: { taps: ReadonlyArray<{ name: string }> }, name: string, what: string): TenementError {
  const plugins = hook.taps.map((t) => t.name).filter((n) => n !== CORE_TAP).join(', ') || CORE_TAP;
  return new TenementError('TEN_ERR_PLUGIN_FAILED', [plugins, name, what], { plugin: plugins, hook: name });
}
