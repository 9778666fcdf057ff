// Conformance suite for the `balancer` slot: every balancer plugin (built-in or third-party) must
// pass it. Call balancerConformance() from a *.test.ts file; it registers a node:test suite.
//
// The contract (DESIGN §4, §5): a balancer taps hooks.selectInstance under its own name and, given
// the candidates core has already filtered (running, weight > 0, not ejected), returns one of them
// or undefined. It must not throw, mutate the list or the instances, or refuse an eligible list.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { DNS_LABEL } from '../../core/config-schema.ts';
import type { InstanceControl, PluginDefinition } from '../../core/plugin.ts';
import type { Instance, RequestContext } from '../../core/types.ts';
import { assertRefusesUnknownOption, createWorld, requestContext as worldRequestContext, toml, within, type World } from './world.ts';

/** A balancer only picks: starting, stopping or probing a process from one is a contract breach. */
const refuse = () => Promise.reject(new Error('a balancer must not control processes'));
const refuseNow = (): never => { throw new Error('a balancer must not change instances'); };
const noControl: InstanceControl = {
  start: refuse, stop: refuse, probe: refuse, suspend: refuse, resume: refuse,
  create: refuseNow, remove: refuseNow, setWeights: refuseNow, transition: refuseNow,
};

export interface BalancerConformanceOptions {
  /** Opt-in: with weights 80/20 and nothing in flight, every candidate gets some of 10,000 picks.
   *  Deterministic or sticky balancers may legitimately send everything to one instance. */
  distributesByWeight?: boolean;
  /** Opt-in (needs distributesByWeight): each candidate's share of the 10,000 picks is within
   *  this many fractional points of weight / total weight (0.02 = ±2 percentage points). */
  shareTolerance?: number;
  /** The plugin's options table, as it would appear under [plugins.balancer] (defaults are applied). */
  options?: Record<string, unknown>;
}

const SERVICE = 'api';
const DOMAIN = 'example.com';

/** A request context with a real (unconnected) IncomingMessage. */
export function requestContext(headers: Record<string, string> = {}, host = `${SERVICE}.${DOMAIN}`): RequestContext {
  return worldRequestContext(host, headers);
}

interface BalancerWorld extends World {
  /** Running instances of SERVICE with these weights (and in-flight counts). */
  spawn(weights: number[], inflight?: number[]): Instance[];
  select(candidates: Instance[], ctx?: RequestContext): Instance | undefined;
}

export function balancerConformance(name: string, load: () => Promise<PluginDefinition>, opts: BalancerConformanceOptions = {}): void {
  describe(`balancer conformance: ${name}`, () => {
    let def: PluginDefinition;
    const worlds: World[] = [];

    before(async () => { def = await load(); });

    after(async () => {
      for (const w of worlds.reverse()) await w.close();
    });

    /** A fresh world (world.ts) with the plugin applied as ten serve applies it, except that its
     *  ctx.instances refuses everything. No processes: instances are registry entries only, and
     *  health probing is far off (they have no port). */
    async function world(): Promise<BalancerWorld> {
      const w = await createWorld({
        def, slot: 'balancer', options: opts.options, control: noControl,
        settings: `domain = ${toml(DOMAIN)}\nhealth_interval = 3600`,
        services: `[service.${SERVICE}]\ncommand = "node app.js"\n`,
      });
      worlds.push(w);
      let n = 0;
      return Object.assign(w, {
        spawn(weights: number[], inflight: number[] = []) {
          return weights.map((weight, k) => {
            const inst = w.registry.create(SERVICE, `i${n++}`, weight, false);
            w.registry.transition(inst, 'starting', 'conformance');
            w.registry.transition(inst, 'running', 'conformance');
            inst.inflight = inflight[k] ?? 0;
            return inst;
          });
        },
        select: (candidates: Instance[], c = requestContext()) => w.hooks.selectInstance.call(candidates, c),
      });
    }

    test('definition: a DNS-label name, provides "balancer", create() returns {apply}, the loader refuses an unknown option', async () => {
      assert.match(def.name, DNS_LABEL);
      assert.equal(def.provides, 'balancer');
      const inst = def.create((await world()).options);
      assert.equal(typeof inst.apply, 'function');
      if (inst.dispose !== undefined) assert.equal(typeof inst.dispose, 'function');
      await assertRefusesUnknownOption(def, 'balancer', opts.options);
    });

    test('apply() taps hooks.selectInstance under the plugin name', async () => {
      const w = await world();
      assert.ok(w.hooks.selectInstance.taps.some((t) => t.name === def.name),
        `taps: ${JSON.stringify(w.hooks.selectInstance.taps.map((t) => t.name))}`);
    });

    test('an empty candidate list → undefined', async () => {
      const w = await world();
      assert.equal(w.select([]), undefined);
    });

    test('a single candidate → that candidate', async () => {
      const w = await world();
      for (const weight of [1, 50, 100]) {
        const [only] = w.spawn([weight]);
        assert.equal(w.select([only]), only);
      }
    });

    test('returns one of the candidates (same object), never refuses an eligible list', async () => {
      const w = await world();
      const list = w.spawn([80, 20]);
      for (let k = 0; k < 500; k++) {
        const got = w.select(list);
        assert.ok(got !== undefined && list.includes(got), `got ${got?.key}`);
      }
    });

    test('property: for any candidates, returns a member or undefined; never throws or mutates', async () => {
      const w = await world();
      const arb = fc.array(fc.record({ weight: fc.integer({ min: 0, max: 100 }), inflight: fc.integer({ min: 0, max: 50 }) }), { maxLength: 10 });
      const header = fc.option(fc.constantFrom('cookie', 'x-forwarded-for', 'x-tenement-instance', 'authorization'), { nil: undefined });
      fc.assert(fc.property(arb, header, fc.string({ maxLength: 20 }), (specs, h, value) => {
        const list = w.spawn(specs.map((s) => s.weight), specs.map((s) => s.inflight));
        const before = list.map((i) => ({ ...i }));
        const order = [...list];
        const ctx = requestContext(h === undefined ? {} : { [h]: value });
        const got = w.select(list, ctx);
        assert.ok(got === undefined || list.includes(got), 'a member or undefined');
        assert.deepEqual(list, order, 'the candidate list is not reordered or resized');
        list.forEach((inst, k) => assert.deepEqual({ ...inst }, before[k], 'instances are not modified'));
      }), { numRuns: 300 });
    });

    test('the candidate list passed in is not mutated', async () => {
      const w = await world();
      const list = w.spawn([10, 90, 50], [3, 0, 1]);
      const copy = [...list];
      for (let k = 0; k < 100; k++) w.select(list);
      assert.deepEqual(list, copy);
      assert.deepEqual(list.map((i) => [i.weight, i.inflight, i.state]), [[10, 3, 'running'], [90, 0, 'running'], [50, 1, 'running']]);
    });

    test('under load (each pick adds one in-flight request) every pick is a member', async () => {
      const w = await world();
      const list = w.spawn([70, 20, 10]);
      for (let k = 0; k < 1000; k++) {
        const got = w.select(list);
        assert.ok(got !== undefined && list.includes(got));
        got.inflight++;
        if (k % 3 === 0) { const busy = list.find((i) => i.inflight > 0); if (busy) busy.inflight--; }
      }
    });

    test('through Router.pick: only eligible instances (running, weight > 0, not ejected) are chosen', async () => {
      const w = await world();
      const [zero, ejected, stopped, good1, good2] = w.spawn([0, 50, 50, 60, 40]);
      ejected.ejectedUntil = Date.now() + 60_000;
      w.registry.transition(stopped, 'stopping', 'conformance');
      w.registry.transition(stopped, 'stopped', 'conformance');
      const chosen = new Set<Instance>();
      for (let k = 0; k < 300; k++) chosen.add(await w.router.pick(requestContext(), { kind: 'service', service: SERVICE }));
      for (const c of chosen) assert.ok(c === good1 || c === good2, `chose ${c.key}`);
      assert.ok(!chosen.has(zero) && !chosen.has(ejected) && !chosen.has(stopped));
    });

    test(`over 10,000 picks at weights 80/20 (nothing in flight) ${opts.distributesByWeight ? 'every candidate gets traffic' : 'picks stay members (distribution not claimed)'}`, async () => {
      const w = await world();
      const list = w.spawn([80, 20]);
      const counts = new Map<Instance, number>(list.map((i) => [i, 0]));
      const N = 10_000;
      for (let k = 0; k < N; k++) {
        const got = w.select(list);
        assert.ok(got !== undefined && counts.has(got));
        counts.set(got, counts.get(got)! + 1);
      }
      if (!opts.distributesByWeight) return;
      for (const [inst, n] of counts) assert.ok(n > 0, `${inst.key} (weight ${inst.weight}) got no traffic`);
      if (opts.shareTolerance !== undefined) {
        const total = list.reduce((s, i) => s + i.weight, 0);
        for (const [inst, n] of counts) {
          const share = n / N;
          const want = inst.weight / total;
          assert.ok(Math.abs(share - want) <= opts.shareTolerance,
            `${inst.key}: share ${(share * 100).toFixed(2)} %, want ${(want * 100).toFixed(0)} ± ${opts.shareTolerance * 100} %`);
        }
      }
    });

    test('dispose(), when present, completes', async () => {
      const w = await world();
      await within(5000, 'dispose()', w.dispose());
    });
  });
}
