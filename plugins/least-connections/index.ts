// least-connections (slot `balancer`): sends each request to the instance with the fewest
// in-flight requests relative to its weight. Pick it with [plugins.balancer] use = "least-connections".
import { pickLeastConnections } from './pick.ts';
import { definePlugin } from '../../core/index.ts';

export default definePlugin({
  name: 'least-connections',
  provides: 'balancer',
  create() {
    return {
      apply(ctx) {
        ctx.hooks.selectInstance.tap('least-connections', (candidates) => pickLeastConnections(candidates));
      },
    };
  },
});
