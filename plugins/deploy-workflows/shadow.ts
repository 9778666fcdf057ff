// Shadow traffic: mirror a share of a service's requests to another instance. Clients only ever
// get the stable response; the mirror's status and latency are compared and counted. Bodies of
// mirrored requests are capped (larger ones are not mirrored, and counted as skipped).
import http from 'node:http';
import type { ShadowView } from './view.ts';
import { httpTarget, instanceAddress, type PluginContext, type RequestContext } from '../../core/index.ts';

interface Shadow {
  service: string; to: string; percent: number; startedAt: number; active: boolean;
  mirrored: number; skipped: number; compared: number; mismatches: number; shadowErrors: number;
  stableMs: number; shadowMs: number;
}

interface Pair { shadow: Shadow; stable?: { status: number; ms: number }; mirror?: { status: number; ms: number } }

export class Shadows {
  private readonly byService = new Map<string, Shadow>();
  private readonly pairs = new WeakMap<RequestContext, Pair>();
  /** Requests already considered (a retry on another instance is not mirrored twice). */
  private readonly seen = new WeakSet<RequestContext>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(private readonly ctx: PluginContext, private readonly bodyLimit: number) {
    ctx.hooks.forward.tap('deploy-workflows', (rc, inst) => {
      const sh = this.byService.get(inst.service);
      if (!sh?.active || inst.id === sh.to || rc.upgrade || this.seen.has(rc)) return;
      this.seen.add(rc);
      if (Math.random() * 100 >= sh.percent) return;
      this.mirror(rc, sh);
    });
    ctx.hooks.requestDone.tap('deploy-workflows', (rc, outcome) => {
      const pair = this.pairs.get(rc);
      if (!pair) return;
      pair.stable = { status: outcome.status, ms: outcome.durationMs };
      this.settle(pair);
    });
  }

  start(service: string, to: string, percent: number): Shadow {
    const sh: Shadow = { service, to, percent, startedAt: Date.now(), active: true, mirrored: 0, skipped: 0, compared: 0, mismatches: 0, shadowErrors: 0, stableMs: 0, shadowMs: 0 };
    this.byService.set(service, sh);
    return sh;
  }

  stop(service: string): Shadow | undefined {
    const sh = this.byService.get(service);
    if (sh) sh.active = false;
    return sh;
  }

  get(service: string): Shadow | undefined {
    return this.byService.get(service);
  }

  close(): void {
    this.agent.destroy();
  }

  private mirror(rc: RequestContext, sh: Shadow): void {
    const target = this.ctx.registry.get(sh.service, sh.to);
    const addr = target && target.state === 'running' ? instanceAddress(target) : undefined;
    if (!addr) { sh.skipped += 1; return; }
    const req = rc.req;
    const len = Number(req.headers['content-length'] ?? 0);
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (len > this.bodyLimit) { sh.skipped += 1; return; }
    const chunks: Buffer[] = [];
    let size = 0;
    const pair: Pair = { shadow: sh };
    const send = () => {
      if (size > this.bodyLimit) { sh.skipped += 1; return; }
      this.pairs.set(rc, pair);
      sh.mirrored += 1;
      const t0 = performance.now();
      const headers = { ...req.headers, 'x-tenement-shadow': '1' };
      delete headers['transfer-encoding'];
      const body = Buffer.concat(chunks);
      headers['content-length'] = String(body.length);
      const out = http.request({ ...httpTarget(addr), method: req.method, path: rc.path, headers, agent: this.agent }, (res) => {
        res.resume();
        res.once('end', () => { pair.mirror = { status: res.statusCode ?? 0, ms: performance.now() - t0 }; this.settle(pair); });
      });
      out.setTimeout(30_000, () => out.destroy(new Error('shadow timeout')));
      out.once('error', () => { pair.mirror = { status: 0, ms: performance.now() - t0 }; this.settle(pair); });
      out.end(body);
    };
    if (len === 0 && !chunked) return send();
    // listen beside the proxy's pipe (attached right after this hook, in the same tick)
    req.on('data', (c: Buffer) => { size += c.length; if (size <= this.bodyLimit) chunks.push(c); });
    req.once('end', send);
  }

  private settle(p: Pair): void {
    if (!p.stable || !p.mirror) return;
    const sh = p.shadow;
    if (p.mirror.status === 0) { sh.shadowErrors += 1; return; }
    sh.compared += 1;
    if (p.mirror.status !== p.stable.status) {
      sh.mismatches += 1;
      this.ctx.emit({
        kind: 'shadow.mismatch', service: sh.service, instance: sh.to,
        message: `${sh.to} answered ${p.mirror.status} where the live instance answered ${p.stable.status}`,
        fields: { stable_status: p.stable.status, shadow_status: p.mirror.status },
      });
    }
    sh.stableMs += p.stable.ms;
    sh.shadowMs += p.mirror.ms;
  }
}

/** A shadow on the API (view.ts). */
export function viewShadow(sh: Shadow): ShadowView {
  const mean = (x: number) => (sh.compared === 0 ? null : Math.round((x / sh.compared) * 100) / 100);
  return {
    service: sh.service, to: sh.to, percent: sh.percent, active: sh.active, started_at: new Date(sh.startedAt).toISOString(),
    mirrored: sh.mirrored, skipped: sh.skipped, compared: sh.compared, status_mismatches: sh.mismatches,
    shadow_errors: sh.shadowErrors, stable_mean_ms: mean(sh.stableMs), shadow_mean_ms: mean(sh.shadowMs),
    latency_diff_ms: sh.compared === 0 ? null : Math.round(((sh.shadowMs - sh.stableMs) / sh.compared) * 100) / 100,
  };
}
