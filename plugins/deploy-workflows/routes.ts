// The workflows' API routes (under /api/workflows, behind the token). Long operations answer 202
// with the operation; clients follow GET /api/workflows/operations/:id for progress.
import type { FastifyPluginAsync } from 'fastify';
import { deploy, rolling, route } from './deploy.ts';
import type { Engine } from './engine.ts';
import { viewHistory, viewOp } from './journal.ts';
import { rollout, type RolloutParams } from './rollout.ts';
import { viewShadow, type Shadows } from './shadow.ts';
import type { Counters } from './stats.ts';
import { NameSchema, type Static, TenementError, Type, waitUntil, WeightSchema } from '../../core/index.ts';

// Every parameter is a TypeBox schema, checked before the handler runs (the management API's
// validator, core/schema.ts): a failure is a 400 with the `errorCode` of the failing value's
// schema, saying what is expected (`description`), else TEN_ERR_API_BAD_REQUEST. The handlers'
// types are the schemas' static types.
const Name = NameSchema;
const Weight = WeightSchema;
/** A workflow parameter: any failure is TEN_ERR_WORKFLOW_INVALID "invalid <key>: <value>: <description>". */
const param = <T extends object>(schema: T, description: string) => ({ ...schema, errorCode: 'TEN_ERR_WORKFLOW_INVALID', description });
const Seconds = Type.Number(param({ exclusiveMinimum: 0, maximum: 86_400 }, 'must be seconds > 0, at most 86400'));

const DeployBody = Type.Object({
  service: Name('service'), version: Name('id'), weight: Type.Optional(Weight), timeout: Type.Optional(Seconds),
  strategy: Type.Optional(Type.Unsafe<'replace' | 'rolling'>({ type: 'string', enum: ['replace', 'rolling'] })),
  batch: Type.Optional(Type.Integer(param({ minimum: 1 }, 'must be a whole number ≥ 1'))),
}, { additionalProperties: false });
const RouteBody = Type.Object({ service: Name('service'), from: Name('id'), to: Name('id'), force: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const RolloutBody = Type.Object({
  service: Name('service'), to: Name('id'),
  // strictly increasing: checked by the handler (JSON Schema cannot say it)
  steps: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), param({ minItems: 1 }, 'whole numbers from 1 to 100, increasing')),
  interval: Seconds, timeout: Type.Optional(Seconds),
  max_error_rate: Type.Optional(Type.Number(param({ minimum: 0, maximum: 1 }, 'must be from 0 to 1'))),
  max_p99_ms: Type.Optional(Type.Number(param({ exclusiveMinimum: 0 }, 'must be > 0'))),
}, { additionalProperties: false });
const ShadowBody = Type.Object({
  service: Name('service'), to: Name('id'), percent: Type.Optional(Type.Number(param({ exclusiveMinimum: 0, maximum: 100 }, 'must be > 0 and ≤ 100'))),
}, { additionalProperties: false });
const ServiceParams = Type.Object({ service: Name('service') });
const OperationParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) });
const HistoryQuery = Type.Object({
  service: Type.Optional(Name('service')),
  limit: Type.Optional(Type.String(param({ pattern: '^(?:[1-9][0-9]{0,3}|10000)$' }, 'a whole number from 1 to 10000'))),
});
type ServiceRoute = { Params: Static<typeof ServiceParams> };

export function workflowRoutes(e: Engine, counters: Counters, shadows: Shadows): FastifyPluginAsync {
  /** A service of the config in force (its name is a DNS label already), else 404. */
  const service = (name: string) => {
    if (!Object.hasOwn(e.ctx.config.services, name)) throw new TenementError('TEN_ERR_INSTANCE_UNKNOWN_SERVICE', [name]);
    return name;
  };
  return async (app) => {
    app.post<{ Body: Static<typeof DeployBody> }>('/api/workflows/deploy', { schema: { body: DeployBody } }, async (req, reply) => {
      const b = req.body;
      const svc = service(b.service);
      const timeout = b.timeout ?? 30;
      if (b.strategy === 'rolling') {
        const p = { service: svc, version: b.version, timeout, batch: b.batch ?? 1 };
        const op = e.begin('rolling', svc, p);
        void rolling(e, op, p);
        return reply.code(202).send({ operation: viewOp(op) });
      }
      const weight = b.weight ?? 100;
      if (e.ctx.registry.get(svc, b.version)) throw new TenementError('TEN_ERR_INSTANCE_EXISTS', [`${svc}:${b.version}`]);
      const p = { service: svc, version: b.version, weight, timeout };
      const op = e.begin('deploy', svc, p);
      void deploy(e, op, p);
      return reply.code(202).send({ operation: viewOp(op) });
    });

    app.get<{ Params: Static<typeof OperationParams> }>('/api/workflows/operations/:id', { schema: { params: OperationParams } }, async (req) => {
      const op = e.journal.get(Number(req.params.id));
      if (!op) throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['operation', req.params.id]);
      return viewOp(op);
    });

    app.post<{ Body: Static<typeof RouteBody> }>('/api/workflows/route', { schema: { body: RouteBody } }, async (req) => {
      const b = req.body;
      const svc = service(b.service);
      if (e.running(svc)) throw new TenementError('TEN_ERR_WORKFLOW_BUSY', [e.running(svc)!.kind, svc]);
      return { service: svc, weights: route(e, svc, b.from, b.to, b.force === true) };
    });

    app.post<{ Body: Static<typeof RolloutBody> }>('/api/workflows/rollout', { schema: { body: RolloutBody } }, async (req, reply) => {
      const b = req.body;
      const svc = service(b.service);
      if (!b.steps.every((s, k) => k === 0 || s > b.steps[k - 1])) {
        throw new TenementError('TEN_ERR_WORKFLOW_INVALID', ['steps', `${JSON.stringify(b.steps)}: whole numbers from 1 to 100, increasing`]);
      }
      const p: RolloutParams = { service: svc, to: b.to, steps: b.steps, interval: b.interval, max_error_rate: b.max_error_rate ?? 0.01, max_p99_ms: b.max_p99_ms, timeout: b.timeout ?? 30 };
      const op = e.begin('rollout', svc, { ...p });
      void rollout(e, counters, op, p);
      return reply.code(202).send({ operation: viewOp(op) });
    });

    app.get<ServiceRoute>('/api/workflows/rollout/:service', { schema: { params: ServiceParams } }, async (req) => {
      const svc = service(req.params.service);
      const op = e.journal.latest('rollout', svc);
      if (!op) throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['rollout', svc]);
      return viewOp(op);
    });

    app.post<ServiceRoute>('/api/workflows/rollout/:service/abort', { schema: { params: ServiceParams } }, async (req) => {
      const svc = service(req.params.service);
      const op = e.running(svc);
      if (!op || op.kind !== 'rollout') throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['running rollout', svc]);
      e.aborts.add(op.id);
      await waitUntil(() => e.running(svc) !== op, { deadline: Date.now() + 5000, firstDelayMs: 25, slowAfterMs: Infinity });
      return viewOp(e.journal.get(op.id)!);
    });

    app.post<{ Body: Static<typeof ShadowBody> }>('/api/workflows/shadow', { schema: { body: ShadowBody } }, async (req) => {
      const b = req.body;
      const svc = service(b.service);
      e.ctx.registry.require(svc, b.to);
      const percent = b.percent ?? 100;
      const sh = shadows.start(svc, b.to, percent);
      e.journal.record(svc, 'shadow', 'ok', `mirroring ${percent}% of ${svc} to ${b.to}`, { to: b.to, percent });
      return viewShadow(sh);
    });

    app.get<ServiceRoute>('/api/workflows/shadow/:service', { schema: { params: ServiceParams } }, async (req) => {
      const svc = service(req.params.service);
      const sh = shadows.get(svc);
      if (!sh) throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['shadow', svc]);
      return viewShadow(sh);
    });

    app.delete<ServiceRoute>('/api/workflows/shadow/:service', { schema: { params: ServiceParams } }, async (req) => {
      const svc = service(req.params.service);
      const sh = shadows.stop(svc);
      if (!sh) throw new TenementError('TEN_ERR_WORKFLOW_NOT_FOUND', ['shadow', svc]);
      const v = viewShadow(sh);
      e.journal.record(svc, 'shadow', 'ok', `stopped mirroring ${svc} to ${sh.to}: ${sh.mirrored} mirrored, ${sh.mismatches} status mismatches`, v);
      return v;
    });

    app.get<{ Querystring: Static<typeof HistoryQuery> }>('/api/workflows/history', { schema: { querystring: HistoryQuery } }, async (req) => {
      const { service: svc, limit } = req.query;
      const entries = e.journal.history(svc, limit === undefined ? 100 : Number(limit));
      // `ten history nope`: nothing for a service that is not defined is a typo, not an empty table
      if (entries.length === 0 && svc !== undefined) service(svc);
      return { entries: entries.map(viewHistory) };
    });
  };
}
