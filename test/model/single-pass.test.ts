/**
 * A command builds its next snapshot in one copy-on-write pass, editing the records it made in
 * place. That must give exactly what copying on every revision gives: the same results, the same
 * snapshots, on every path, failure injected at each point included (where the model falls back
 * to the state before an attempt, or keeps the kernel's partial effect).
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { parseEvent } from '../../events/event.ts';
import { parseHeader } from '../../events/header.ts';
import { worldToJson } from '../../replay/snapshot.ts';
import { FUZZ_HEADER, type FuzzEvent, PROLOGUE, eventArbitrary } from '../../src/fuzz/arbitraries.ts';
import { resolveFds } from '../../src/fuzz/fd-refs.ts';
import { step } from '../../src/model/dispatch.ts';
import type { World } from '../../src/model/world.ts';
import { createWorld } from '../../src/model/world-init.ts';
import { propertySettings } from '../fc-settings.ts';

const mode = vi.hoisted(() => ({ copyEveryRevision: false }));

vi.mock('../../src/model/revise.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/model/revise.ts')>();
  return { ...real, inCommand: <R>(command: () => R): R => (mode.copyEveryRevision ? command() : real.inCommand(command)) };
});

const MAX_FAIL_NTH = 64;

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : value;
}

/** Every step's result and snapshot, each command also rerun with a failure at each injection point. */
function transcript(events: readonly FuzzEvent[], copyEveryRevision: boolean): string[] {
  mode.copyEveryRevision = copyEveryRevision;
  const out: string[] = [];
  let world: World = createWorld(parseHeader(FUZZ_HEADER));
  const seen = (w: World, what: unknown): void => {
    out.push(JSON.stringify([what, worldToJson(w)], bigintJson));
  };
  events.forEach((raw, i) => {
    const event = parseEvent(resolveFds(world, raw), i + 2);
    for (let k = 1; k <= MAX_FAIL_NTH; k++) {
      const injected = step(world, { ...event, failNth: k }, { adopt: false });
      if (injected.injected !== true) break;
      seen(injected.world, [k, injected.result?.errno, injected.result?.out]);
    }
    const outcome = step(world, event, { adopt: false });
    expect(Object.isFrozen(outcome.world)).toBe(true);
    world = outcome.world;
    seen(world, [outcome.result?.errno, outcome.result?.check, outcome.result?.out]);
  });
  return out;
}

describe('one copy-on-write pass per command', () => {
  it('gives what a copy per revision gives, on every path', () => {
    fc.assert(
      fc.property(fc.array(eventArbitrary(), { maxLength: 40 }), (events) => {
        const all = [...PROLOGUE, ...events];
        expect(transcript(all, false)).toEqual(transcript(all, true));
      }),
      propertySettings(150),
    );
  });
});
