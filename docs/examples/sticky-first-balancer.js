// sticky-first-balancer: a third-party balancer for tenement, written as a plain ES module (no
// build step) that imports only from 'tenement', the public surface (core/index.ts): tenement
// resolves that import to the running server's own modules, wherever this file lives, with or
// without a package.json. docs/plugins.md walks through it.
//
// Primary first, spill over when busy. Every balanced request goes to the same instance, the
// primary: the candidate with the highest weight (on a tie, the id that sorts first). When the
// primary already has `max_inflight` requests in flight, the request goes to the next instance in
// that order, and so on. When every candidate is at the limit, the one with the fewest requests in
// flight wins. The same candidates and loads always give the same pick.
//
// Candidates are what tenement's core filter left: running, weight > 0, not ejected after a refused
// connection. So when the primary turns unhealthy, crashes or gets weight 0, traffic fails over to
// the next instance, and it moves back once the primary is running again. Direct hosts
// ({id}.{service}.{domain}) skip the balancer and are not affected.
//
// Use it from tenement.toml; a relative path resolves against the folder tenement.toml is in:
//
//   [plugins.balancer]
//   use = "./docs/examples/sticky-first-balancer.js"
//   max_inflight = 50        # optional: 1 or more, default 100
//
// Then give the primary the highest weight, e.g. `ten weight api:main 100` and
// `ten weight api:spare 50`: every request to api.{domain} reaches api:main until it has 50 in
// flight or leaves the pool.

import { definePlugin } from 'tenement';

/** Higher weight first; on equal weights, the id that sorts first (plain code-unit order). */
function byPriority(a, b) {
  if (a.weight !== b.weight) return b.weight - a.weight;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The pick, as a pure function: `candidates` are instances ({ id, weight, inflight, ... }).
 * Returns undefined only when there is no candidate (tenement then answers 503).
 */
export function pickStickyFirst(candidates, maxInflight) {
  if (candidates.length === 0) return undefined;
  const ordered = [...candidates].sort(byPriority);
  for (const c of ordered) if (c.inflight < maxInflight) return c;
  let best = ordered[0];
  for (const c of ordered) if (c.inflight < best.inflight) best = c;
  return best;
}

// definePlugin returns the definition unchanged; in an editor it types the object (and, with a
// TypeBox `Type` schema for `options`, what create() receives).
export default definePlugin({
  name: 'sticky-first-balancer',
  provides: 'balancer',
  // A JSON schema for the plugin's table in tenement.toml. tenement validates the table with it
  // (unknown keys are errors) and fills in the defaults before calling create().
  options: {
    type: 'object',
    properties: {
      max_inflight: { type: 'integer', minimum: 1, default: 100 },
    },
    additionalProperties: false,
  },
  create(options) {
    const maxInflight = options.max_inflight;
    const primaries = new Map(); // service → key of its current primary, to log fail-overs
    return {
      apply(ctx) {
        ctx.log.info({ max_inflight: maxInflight }, 'sticky-first balancing');
        ctx.hooks.selectInstance.tap(ctx.name, (candidates) => {
          const pick = pickStickyFirst(candidates, maxInflight);
          if (pick === undefined) return undefined;
          const primary = candidates.reduce((p, c) => (byPriority(c, p) < 0 ? c : p)).key;
          if (primaries.get(pick.service) !== primary) {
            if (primaries.has(pick.service)) ctx.log.info({ service: pick.service, primary, was: primaries.get(pick.service) }, 'primary changed');
            primaries.set(pick.service, primary);
          }
          return pick;
        });
      },
    };
  },
});
