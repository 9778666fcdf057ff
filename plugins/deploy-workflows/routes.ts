// The workflows' API routes (under /api/workflows, behind the token). Long operations answer 202
// with the operation; clients follow GET /api/workflows/operations/:id for progress.
import type { FastifyPluginAsync } from 'fastify';
import { deploy, rolling, route } from './deploy.ts';
import type { Engine } from './engine.ts';
import { viewHistory, viewOp } from './journal.ts';
import { rollout, type RolloutParams } from './rollout.ts';
import { viewShadow, type Shadows } from './shadow.ts';
import type { Counters } from './stats.ts';
import { TenementError, assertName, assertWeight } from '../../core/index.ts';

const obj = (properties: Record<string, object>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
const str = { type: 'string' };
const num = { type: 'number' };
const invalid = (what: string, why: string) => new TenementError('TEN_ERR_WORKFLOW_INVALID', [what, why]);

export function workflowRoutes(e: Engine, counters: Counters, shadows: Shadows): FastifyPluginAsync {
  const { config } = e.ctx;
  const service = (name: string) => {
    assertName('service', name);
    if (!Object.hasOwn(config.services, name)) throw new TenementError('TEN_ERR_INSTANCE_UNKNOWN_SERVICE', [name]);
    return name;
  };
  const seconds = (what: string, v: unknown, dflt: number) => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !(v > 0) || v > 86_400) throw invalid(what, `${JSON.stringify(v)}: must be seconds > 0`);
    return v;
  };
  return async (app) => {
    app.post('/api/workflows/deploy', {
      schema: { body: obj({ service: str, version: str, weight: {}, timeout: {}, strategy: { enum: ['replace', 'rolling'] }, batch: {} }, ['service', 'version']) },
    }, async (req, reply) => {
      const b = req.body as { service: string; version: string; weight?: unknown; timeout?: unknown; strategy?: string; batch?: unknown };
      const svc = service(b.service);
      assertName('id', b.version);
      const timeout = seconds('timeout', b.timeout, 30);
      if (b.strategy === 'rolling') {
        const batch = b.batch ?? 1;
        if (!Number.isInteger(batch) || (batch as number) < 1) throw invalid('batch', `${JSON.stringify(batch)}: must be a whole number ≥ 1`);
        const p = { service: svc, version: b.version, timeout, batch: batch as number };
        const op = e.begin('rolling', svc, p);
        void rolling(e, op, p);
        return reply.code(202).send({ operation: viewOp(op) });
      }
      const weight = b.weight ?? 100;
      assertWeight(weight);
      if (e.ctx.registry.get(svc, b.version)) throw new TenementError('TEN_ERR_INSTANCE_EXISTS', [`${svc}:${b.version}`]);
      const p = { service: svc, version: b.version, weight, timeout };
      const op = e.begin('deploy', svc, p);
      void deploy(e, op, p);
      return reply.code(202).send({ operation: viewOp(op) });
    });

    app.get('/api/workflows/operations/:id', async (req) => {
      const op = e.journal.get(Number((req.params as { id: string }).id));
      if (!op) throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['operation', (req.params as { id: string }).id]);
      return viewOp(op);
    });

    app.post('/api/workflows/route', { schema: { body: obj({ service: str, from: str, to: str, force: { type: 'boolean' } }, ['service', 'from', 'to']) } }, async (req) => {
      const b = req.body as { service: string; from: string; to: string; force?: boolean };
      const svc = service(b.service);
      assertName('id', b.from);
      assertName('id', b.to);
      if (e.running(svc)) throw new TenementError('TEN_ERR_WORKFLOW_BUSY', [e.running(svc)!.kind, svc]);
      return { service: svc, weights: route(e, svc, b.from, b.to, b.force === true) };
    });

    app.post('/api/workflows/rollout', {
      schema: { body: obj({ service: str, to: str, steps: { type: 'array' }, interval: {}, max_error_rate: {}, max_p99_ms: {}, timeout: {} }, ['service', 'to', 'steps', 'interval']) },
    }, async (req, reply) => {
      const b = req.body as Record<string, unknown>;
      const svc = service(b.service as string);
      assertName('id', b.to as string);
      const steps = b.steps as unknown[];
      if (steps.length === 0 || !steps.every((s, k) => Number.isInteger(s) && (s as number) >= 1 && (s as number) <= 100 && (k === 0 || (s as number) > (steps[k - 1] as number)))) {
        throw invalid('steps', `${JSON.stringify(steps)}: whole numbers from 1 to 100, increasing`);
      }
      const rate = b.max_error_rate ?? 0.01;
      if (typeof rate !== 'number' || rate < 0 || rate > 1) throw invalid('max_error_rate', `${JSON.stringify(rate)}: must be from 0 to 1`);
      const p99 = b.max_p99_ms;
      if (p99 !== undefined && (typeof p99 !== 'number' || !(p99 > 0))) throw invalid('max_p99_ms', `${JSON.stringify(p99)}: must be > 0`);
      const p: RolloutParams = { service: svc, to: b.to as string, steps: steps as number[], interval: seconds('interval', b.interval, 30), max_error_rate: rate, max_p99_ms: p99 as number | undefined, timeout: seconds('timeout', b.timeout, 30) };
      const op = e.begin('rollout', svc, { ...p });
      void rollout(e, counters, op, p);
      return reply.code(202).send({ operation: viewOp(op) });
    });

    app.get('/api/workflows/rollout/:service', async (req) => {
      const svc = service((req.params as { service: string }).service);
      const op = e.journal.latest('rollout', svc);
      if (!op) throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['rollout', svc]);
      return viewOp(op);
    });

    app.post('/api/workflows/rollout/:service/abort', async (req) => {
      const svc = service((req.params as { service: string }).service);
      const op = e.running(svc);
      if (!op || op.kind !== 'rollout') throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['running rollout', svc]);
      e.aborts.add(op.id);
      for (let i = 0; i < 200 && e.running(svc) === op; i++) await new Promise((r) => setTimeout(r, 25));
      return viewOp(e.journal.get(op.id)!);
    });

    app.post('/api/workflows/shadow', { schema: { body: obj({ service: str, to: str, percent: {} }, ['service', 'to']) } }, async (req) => {
      const b = req.body as { service: string; to: string; percent?: unknown };
      const svc = service(b.service);
      assertName('id', b.to);
      e.ctx.registry.require(svc, b.to);
      const percent = b.percent ?? 100;
      if (typeof percent !== 'number' || !(percent > 0) || percent > 100) throw invalid('percent', `${JSON.stringify(percent)}: must be > 0 and ≤ 100`);
      const sh = shadows.start(svc, b.to, percent);
      e.journal.record(svc, 'shadow', 'ok', `mirroring ${percent}% of ${svc} to ${b.to}`, { to: b.to, percent });
      return viewShadow(sh);
    });

    app.get('/api/workflows/shadow/:service', async (req) => {
      const svc = service((req.params as { service: string }).service);
      const sh = shadows.get(svc);
      if (!sh) throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['shadow', svc]);
      return viewShadow(sh);
    });

    app.delete('/api/workflows/shadow/:service', async (req) => {
      const svc = service((req.params as { service: string }).service);
      const sh = shadows.stop(svc);
      if (!sh) throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['shadow', svc]);
      const v = viewShadow(sh);
      e.journal.record(svc, 'shadow', 'ok', `stopped mirroring ${svc} to ${sh.to}: ${sh.mirrored} mirrored, ${sh.mismatches} status mismatches`, v);
      return v;
    });

    app.get('/api/workflows/history', { schema: { querystring: { type: 'object', properties: { service: str, limit: str } } } }, async (req) => {
      const q = req.query as { service?: string; limit?: string };
      if (q.service !== undefined) assertName('service', q.service);
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw invalid('limit', `${q.limit}: a whole number from 1 to 10000`);
      return { entries: e.journal.history(q.service, limit).map(viewHistory) };
    });
    void num;
  };
}
