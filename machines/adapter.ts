/**
 * XState as a pure reducer. The model keeps each object's machine state as plain data
 * (`{ value, context }`) inside its immutable snapshot and folds events through the machine
 * definition here; no actor runs. This is the only file that knows XState's calling
 * conventions, so an XState upgrade touches nothing else.
 *
 * Why not the public `transition()`: in xstate 5.33 it builds a fresh inert actor (and actor
 * system) on every call, ~16 µs/event. The scope below is built once per machine and reused;
 * it has the same shape as xstate's own `createInertActorScope`, and `test/machines/adapter.test.ts` checks
 * that both give the same snapshots.
 */
import { createActor, type AnyStateMachine, type AnyActorScope, type StateValue } from 'xstate';

/** A machine's state as the model stores it. */
export interface MachineRecord<C> {
  readonly value: StateValue;
  readonly context: C;
}

const scopes = new WeakMap<AnyStateMachine, AnyActorScope>();

function scopeOf(machine: AnyStateMachine): AnyActorScope {
  let scope = scopes.get(machine);
  if (scope === undefined) {
    const self = createActor(machine);
    scope = {
      self,
      system: self.system,
      id: '',
      sessionId: '',
      defer: () => {},
      emit: () => {},
      logger: () => {},
      stopChild: () => {},
      actionExecutor: () => {},
    } as unknown as AnyActorScope;
    scopes.set(machine, scope);
  }
  return scope;
}

function record<C>(snapshot: { value: StateValue; context: unknown }): MachineRecord<C> {
  return Object.freeze({ value: snapshot.value, context: Object.freeze(snapshot.context) as C });
}

/** The machine's initial state for `input`. */
export function initialRecord<C>(machine: AnyStateMachine, input?: unknown): MachineRecord<C> {
  return record<C>(machine.getInitialSnapshot(scopeOf(machine), input));
}

/** The state after `event`; the same record object when the machine takes no transition. */
export function nextRecord<C>(
  machine: AnyStateMachine,
  current: MachineRecord<C>,
  event: { type: string; readonly [key: string]: unknown },
): MachineRecord<C> {
  const scope = scopeOf(machine);
  const snapshot = machine.resolveState({ value: current.value, context: current.context });
  const next = machine.transition(snapshot, event, scope);
  if (next === snapshot || (next.value === snapshot.value && next.context === snapshot.context)) return current;
  return record<C>(next);
}

/** Whether `event` selects a transition in the current state (guards evaluated). */
export function accepts<C>(machine: AnyStateMachine, current: MachineRecord<C>, event: { type: string }): boolean {
  const snapshot = machine.resolveState({ value: current.value, context: current.context });
  return snapshot.can(event);
}
