// The lifecycle state table and transition(): the one function that changes an instance's state.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { createHooks } from '../../core/hooks.ts';
import { canTransition, LIVE_STATES, transition, TRANSITIONS } from '../../core/lifecycle.ts';
import type { Instance, InstanceState, Transition } from '../../core/types.ts';

/** Every member of the InstanceState union; `satisfies` makes tsc fail if the union grows. */
const ALL = ['stopped', 'starting', 'running', 'unhealthy', 'restarting', 'failed', 'stopping', 'idle'] as const satisfies readonly InstanceState[];
type Missing = Exclude<InstanceState, (typeof ALL)[number]>;
const exhaustive: Missing extends never ? true : false = true;
void exhaustive;

function instance(state: InstanceState = 'stopped'): Instance {
  return {
    service: 'api', id: 'v1', key: 'api:v1', state, weight: 100, health: 'unknown', port: null, socket: null, pid: null,
    startedAt: null, restartTimes: [], restarts: 0, inflight: 0, ejectedUntil: 0, lastExit: null, lastRequestAt: 0, suspended: null,
  };
}

function recorder() {
  const hooks = createHooks(pino({ level: 'silent' }));
  const seen: Array<Omit<Transition, 'instance'> & { instance: Instance; stateAtCall: InstanceState }> = [];
  hooks.transition.tap('test', (t) => { seen.push({ ...t, stateAtCall: t.instance.state }); });
  return { hooks, seen };
}

const legalPairs = ALL.flatMap((from) => TRANSITIONS[from].map((to) => [from, to] as const));
const illegalPairs = ALL.flatMap((from) => ALL.filter((to) => to !== from && !TRANSITIONS[from].includes(to)).map((to) => [from, to] as const));

describe('TRANSITIONS table', () => {
  test('every state has an entry, and only states have entries', () => {
    assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...ALL].sort());
  });

  test('every target is listed once, and never the state itself', () => {
    for (const from of ALL) {
      const tos = TRANSITIONS[from];
      assert.equal(new Set(tos).size, tos.length, `${from} lists a target twice`);
      for (const to of tos) assert.notEqual(to, from, `${from} lists itself`);
    }
  });

  test('the seed 004 lifecycle paths exist', () => {
    for (const [from, to] of [
      ['stopped', 'starting'], ['starting', 'running'], ['running', 'unhealthy'], ['unhealthy', 'running'],
      ['unhealthy', 'failed'], ['running', 'stopping'], ['stopping', 'idle'], ['idle', 'starting'], ['stopping', 'stopped'],
    ] as const) assert.ok(canTransition(from, to), `${from} → ${to}`);
    assert.ok(!canTransition('stopped', 'running'), 'stopped → running must go through starting');
  });

  test('every state is reachable from stopped, and stopped is reachable from every state', () => {
    const reach = (start: InstanceState, next: (s: InstanceState) => readonly InstanceState[]) => {
      const seen = new Set<InstanceState>([start]);
      const queue = [start];
      while (queue.length) for (const n of next(queue.shift()!)) if (!seen.has(n)) { seen.add(n); queue.push(n); }
      return seen;
    };
    assert.deepEqual([...reach('stopped', (s) => TRANSITIONS[s])].sort(), [...ALL].sort());
    const back = (s: InstanceState) => ALL.filter((f) => TRANSITIONS[f].includes(s));
    assert.deepEqual([...reach('stopped', back)].sort(), [...ALL].sort());
  });

  test('LIVE_STATES are exactly the states in which the process exists', () => {
    assert.deepEqual([...LIVE_STATES].sort(), ['running', 'starting', 'stopping', 'unhealthy']);
  });

  test('canTransition agrees with the table for all 64 pairs', () => {
    for (const from of ALL) for (const to of ALL) assert.equal(canTransition(from, to), TRANSITIONS[from].includes(to), `${from} → ${to}`);
  });
});

describe('transition()', () => {
  test('every legal transition fires hooks.transition exactly once with from/to/reason, after the state changed', () => {
    for (const [from, to] of legalPairs) {
      const { hooks, seen } = recorder();
      const inst = instance(from);
      assert.equal(transition(hooks, inst, to, `because ${from}-${to}`), true);
      assert.equal(inst.state, to);
      assert.equal(seen.length, 1, `${from} → ${to} fired ${seen.length} times`);
      assert.equal(seen[0].instance, inst);
      assert.equal(seen[0].from, from);
      assert.equal(seen[0].to, to);
      assert.equal(seen[0].reason, `because ${from}-${to}`);
      assert.equal(seen[0].stateAtCall, to, 'listeners see the new state');
    }
  });

  test('same state returns false and fires nothing', () => {
    for (const s of ALL) {
      const { hooks, seen } = recorder();
      const inst = instance(s);
      inst.health = 'healthy';
      assert.equal(transition(hooks, inst, s, 'noop'), false);
      assert.equal(inst.state, s);
      assert.equal(inst.health, 'healthy', 'health untouched');
      assert.equal(seen.length, 0);
    }
  });

  test('stopped → running throws, leaves the state unchanged and fires nothing', () => {
    const { hooks, seen } = recorder();
    const inst = instance('stopped');
    assert.throws(() => transition(hooks, inst, 'running', 'skip starting'), /illegal transition of api:v1: stopped → running/);
    assert.equal(inst.state, 'stopped');
    assert.equal(inst.health, 'unknown');
    assert.equal(seen.length, 0);
  });

  test(`every illegal pair (${illegalPairs.length}) throws and changes nothing`, () => {
    for (const [from, to] of illegalPairs) {
      const { hooks, seen } = recorder();
      const inst = instance(from);
      inst.health = 'healthy';
      assert.throws(() => transition(hooks, inst, to, 'x'), new RegExp(`${from} → ${to}`));
      assert.equal(inst.state, from);
      assert.equal(inst.health, 'healthy');
      assert.equal(seen.length, 0);
    }
  });

  test('health follows the state: running → healthy, unhealthy → unhealthy, not live → unknown', () => {
    const { hooks } = recorder();
    const inst = instance('stopped');
    transition(hooks, inst, 'starting', 'spawn');
    assert.equal(inst.health, 'unknown');
    transition(hooks, inst, 'running', 'ready');
    assert.equal(inst.health, 'healthy');
    transition(hooks, inst, 'unhealthy', 'probe failed');
    assert.equal(inst.health, 'unhealthy');
    transition(hooks, inst, 'running', 'probe passed');
    assert.equal(inst.health, 'healthy');
    transition(hooks, inst, 'stopping', 'stop');
    assert.equal(inst.health, 'healthy', 'stopping is live: health kept');
    transition(hooks, inst, 'stopped', 'exited');
    assert.equal(inst.health, 'unknown');
    for (const to of ['failed', 'restarting', 'idle'] as const) {
      const i = instance(to === 'idle' ? 'stopping' : 'running');
      i.health = 'healthy';
      transition(hooks, i, to, 'x');
      assert.equal(i.health, 'unknown', `${to} → unknown`);
    }
  });

  test('a throwing transition listener is isolated: state still changes, later listeners run', () => {
    const hooks = createHooks(pino({ level: 'silent' }));
    const later: string[] = [];
    hooks.transition.tap('bad', () => { throw new Error('boom'); });
    hooks.transition.tap('good', (t) => { later.push(t.to); });
    const inst = instance('stopped');
    assert.equal(transition(hooks, inst, 'starting', 'x'), true);
    assert.equal(inst.state, 'starting');
    assert.deepEqual(later, ['starting']);
  });

  test('property: any walk of random target states keeps state legal and fires once per change', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...ALL), { maxLength: 60 }), (targets) => {
      const { hooks, seen } = recorder();
      const inst = instance('stopped');
      let changes = 0;
      for (const to of targets) {
        const from = inst.state;
        if (from === to) { assert.equal(transition(hooks, inst, to, 'w'), false); continue; }
        if (canTransition(from, to)) { assert.equal(transition(hooks, inst, to, 'w'), true); changes++; assert.equal(inst.state, to); } else {
          assert.throws(() => transition(hooks, inst, to, 'w'));
          assert.equal(inst.state, from);
        }
        if (inst.state === 'running') assert.equal(inst.health, 'healthy');
        if (inst.state === 'unhealthy') assert.equal(inst.health, 'unhealthy');
        if (!LIVE_STATES.has(inst.state)) assert.equal(inst.health, 'unknown');
      }
      assert.equal(seen.length, changes);
      for (let k = 1; k < seen.length; k++) assert.equal(seen[k].from, seen[k - 1].to, 'transitions chain');
    }));
  });
});
