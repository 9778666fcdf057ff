// web-dashboard (slot `dashboard`, the default): the page at `/` on the management host. A plain
// page (ES modules + CSS in ./assets, uPlot from the installed package, no build step, no CDN) that
// asks for the API token once and then shows services, instances, live numbers and charts, the
// deploy history and a log tail, with buttons for the common actions. The page and its files are
// public; everything it shows comes from the API routes, which stay behind the token.
// docs/plugins/web-dashboard.md describes it.
import type { FastifyPluginAsync } from 'fastify';
import { definePlugin } from '../../core/index.ts';
import { loadAssets, SECURITY_HEADERS, type AssetSet } from './assets.ts';

/** The page's routes: `GET /` (the page, never cached: it names the current asset hash) and
 *  `GET /dashboard/:hash/:file` (its files; cached for good when `hash` is the current one, else
 *  revalidated). Any other file name is the API's usual 404. */
function dashboardRoutes(assets: AssetSet): FastifyPluginAsync {
  return async (app) => {
    app.get('/', async (_req, reply) => reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8').send(assets.page));
    app.get<{ Params: { hash: string; file: string } }>('/dashboard/:hash/:file', async (req, reply) => {
      const asset = assets.files.get(req.params.file);
      if (!asset) return reply.callNotFound();
      const current = req.params.hash === assets.hash;
      return reply.headers(SECURITY_HEADERS).header('cache-control', current ? 'public, max-age=31536000, immutable' : 'no-cache')
        .type(asset.type).send(asset.body);
    });
  };
}

export default definePlugin({
  name: 'web-dashboard',
  provides: 'dashboard',
  create() {
    return {
      apply(ctx) {
        ctx.http.register(dashboardRoutes(loadAssets()), { public: true });
      },
    };
  },
});
