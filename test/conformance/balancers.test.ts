// Runs the balancer conformance suite against every balancer we ship or document.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importPlugin } from '../../core/loader.ts';
import { BUILTINS } from '../../plugins/index.ts';
import { balancerConformance } from './balancer.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

balancerConformance('weighted-balancer', async () => BUILTINS.plugins['weighted-balancer'], { distributesByWeight: true, shareTolerance: 0.02 });

// With nothing in flight every candidate ties, and ties are broken at random: all get traffic.
balancerConformance('least-connections', async () => BUILTINS.plugins['least-connections'], { distributesByWeight: true });

// The third-party example of docs/plugins.md, loaded the way tenement.toml would load it.
balancerConformance('sticky-first-balancer (docs/examples)', () => importPlugin('./docs/examples/sticky-first-balancer.js', ROOT, BUILTINS));
balancerConformance('sticky-first-balancer max_inflight = 1', () => importPlugin('./docs/examples/sticky-first-balancer.js', ROOT, BUILTINS), { options: { max_inflight: 1 } });
