// weighted-balancer (slot `balancer`, the default): random by weight among the candidates,
// as seed 000 describes ("Traffic is distributed randomly based on weights").
import { pickWeighted } from './pick.ts';
import { definePlugin } from '../../core/index.ts';

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
