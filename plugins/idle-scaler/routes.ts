// The idle-scaler's API route: put one instance to sleep now (what idle_timeout does after a
// quiet period). Used by `npm run bench` and handy before maintenance.
import type { FastifyPluginAsync } from 'fastify';
import { TenementError, assertName, viewInstance, type Instance, type PluginContext } from '../../core/index.ts';

export function sleepRoutes(ctx: PluginContext, sleep: (inst: Instance) => Promise<void>): FastifyPluginAsync {
  return async (app) => {
    app.post('/api/idle-scaler/:service/:id/sleep', async (req) => {
      const { service, id } = req.params as { service: string; id: string };
      assertName('service', service);
      assertName('id', id);
      const inst = ctx.registry.require(service, id);
      if (inst.state !== 'running') throw new TenementError('TEN_ERR_API_BAD_REQUEST', [`${inst.key} is ${inst.state}, not running`]);
      await sleep(inst);
      return viewInstance(inst);
    });
  };
}
