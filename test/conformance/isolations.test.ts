// Runs the isolation conformance suite against every isolation plugin we ship.
import { BUILTINS } from '../../plugins/index.ts';
import { isolationConformance } from './isolation.ts';

isolationConformance('linux-isolation', async () => BUILTINS.plugins['linux-isolation'], {
  // the sandbox clears the environment but for what the service sets (docs/isolation.md)
  envMayChange: ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'],
});
