// Runs the scaler conformance suite against every scaler we ship.
import { BUILTINS } from '../../plugins/index.ts';
import { scalerConformance } from './scaler.ts';

scalerConformance('idle-scaler', async () => BUILTINS.plugins['idle-scaler']);
// readiness by port only (no health probe before the wake resolves), a small queue
scalerConformance('idle-scaler ready = "port", queue_size = 25', async () => BUILTINS.plugins['idle-scaler'], { options: { ready: 'port', queue_size: 25 } });
