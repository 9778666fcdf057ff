// weighted-balancer (slot `balancer`, the default): random by weight among the candidates,
// as seed 000 describes ("Traffic is distributed randomly based on weights").
import { definePlugin } from '../../core/plugin.ts';
import { pickWeighted } from './pick.ts';

export default definePlugin({
  name: 'weighted-balancer',
  provides: 'balancer',
  create() {
    return {
      apply(ctx) {
        ctx.hooks.selectInstance.tap('weighted-balancer', (candidates) => pickWeighted(candidates));
      },
    };
  },
});
