// Runs the isolation conformance suite against every isolation plugin we ship.
import { BUILTINS } from '../../plugins/index.ts';
import { isolationConformance } from './isolation.ts';

isolationConformance('process-isolation', async () => BUILTINS.plugins['process-isolation']);
