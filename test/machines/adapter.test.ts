/**
 * The pure-reducer adapter against xstate's public `transition()`: for every machine and any
 * event sequence, both give the same state value and context at every step. An xstate upgrade
 * that changes the inert scope's internals fails here first.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyStateMachine } from 'xstate';
import { accepts, initialRecord, nextRecord, type MachineRecord } from '../../machines/adapter.ts';
import { accessMachine } from '../../machines/access.machine.ts';
import { deviceMachine } from '../../machines/device.machine.ts';
import { ioasMachine } from '../../machines/ioas.machine.ts';
import { objectMachine } from '../../machines/object.machine.ts';
import { propertySettings } from '../fc-settings.ts';

type Event = { type: string; count?: number };

const MACHINES: readonly [string, AnyStateMachine, readonly string[]][] = [
  ['ioas', ioasMachine, ['AREAS_CHANGED', 'USER_GET', 'USER_PUT', 'DESTROY']],
  ['device', deviceMachine, ['ATTACH', 'DETACH', 'USER_GET', 'USER_PUT', 'DESTROY']],
  ['access', accessMachine, ['ATTACH', 'DETACH', 'PIN', 'UNPIN', 'DESTROY']],
  ['object', objectMachine, ['USER_GET', 'USER_PUT', 'DESTROY']],
];

const event = (types: readonly string[]): fc.Arbitrary<Event> =>
  fc.record({ type: fc.constantFrom(...types), count: fc.nat({ max: 3 }) });

describe('machines/adapter', () => {
  for (const [name, machine, types] of MACHINES) {
    it(`${name}: the adapter and the public transition() agree on every step`, () => {
      fc.assert(
        fc.property(fc.array(event(types), { maxLength: 30 }), (events) => {
          let rec: MachineRecord<unknown> = initialRecord(machine);
          let [snap] = initialTransition(machine);
          expect(rec.value).toEqual(snap.value);
          expect(rec.context).toEqual(snap.context);
          for (const e of events) {
            expect(accepts(machine, rec, e)).toBe(snap.can(e));
            const next = nextRecord(machine, rec, e);
            [snap] = transition(machine, snap, e);
            expect(next.value).toEqual(snap.value);
            expect(next.context).toEqual(snap.context);
            rec = next;
          }
        }),
        propertySettings(200),
      );
    });
  }
});
