/**
 * The fd references of generated sequences (src/fuzz/fd-refs.ts), resolved against the state
 * they meet: the newest container a process opened that no driver but SPAPR TCE took, the one
 * before it, a group's file, a free group, the group file to close when none is free, the last
 * child a FORK made; and, where nothing matches, an fd nothing has.
 */
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../events/event.ts';
import { parseHeader } from '../../events/header.ts';
import { FUZZ_HEADER, type FuzzEvent } from '../../src/fuzz/arbitraries.ts';
import { resolveFds } from '../../src/fuzz/fd-refs.ts';
import { step } from '../../src/model/dispatch.ts';
import type { World } from '../../src/model/world.ts';
import { createWorld } from '../../src/model/world-init.ts';

/** The world after `events`, each resolved as the fuzzer resolves it. */
function after(events: readonly FuzzEvent[]): World {
  let world = createWorld(parseHeader(FUZZ_HEADER));
  events.forEach((e, i) => {
    world = step(world, parseEvent(resolveFds(world, e), i + 2), { adopt: false }).world;
  });
  return world;
}

const open = (path: string): FuzzEvent => ({ op: 'OPEN', args: { path } });
const CONTAINER = { newest: 'container' } as const;

describe('fd references', () => {
  // fds 3 and 5 are containers, 4 is group 3's file, 6 group 1's.
  const base = [open('/dev/vfio/vfio'), open('/dev/vfio/3'), open('/dev/vfio/vfio'), open('/dev/vfio/1')];
  const world = after(base);

  it('name the newest container, and the one before it', () => {
    expect(resolveFds(world, { op: 'VFIO_IOMMU_ENABLE', fd: CONTAINER })['fd']).toBe(5);
    expect(resolveFds(world, { op: 'VFIO_IOMMU_ENABLE', fd: { newest: 'container', back: 1 } })['fd']).toBe(3);
    expect(resolveFds(world, { op: 'VFIO_IOMMU_ENABLE', fd: { newest: 'container', back: 2 } })['fd']).toBe(999);
  });

  it("pass over a container another driver took: SPAPR_TCE_GET_INFO's number is type1's GET_INFO there", () => {
    const type1 = after([
      ...base,
      { op: 'VFIO_GROUP_SET_CONTAINER', fd: 6, args: { container_fd: 5 } },
      { op: 'VFIO_SET_IOMMU', fd: 5, args: { arg: 'TYPE1v2_IOMMU' } },
    ]);
    expect(resolveFds(type1, { op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', fd: CONTAINER })['fd']).toBe(3);
  });

  it('name group files, in args too', () => {
    const set = resolveFds(world, { op: 'VFIO_GROUP_SET_CONTAINER', fd: { newest: 'group', group: 3 }, args: { container_fd: CONTAINER } });
    expect(set).toEqual({ op: 'VFIO_GROUP_SET_CONTAINER', fd: 4, args: { container_fd: 5 } });
    expect(resolveFds(world, { op: 'CLOSE', args: { fd: { newest: 'group' } } })).toEqual({ op: 'CLOSE', args: { fd: 6 } });
  });

  it('open a free group, and close the oldest unshared one when none is free', () => {
    const reclaim = { op: 'CLOSE', args: { fd: { reclaim: [3, 4] } } };
    const free = { op: 'OPEN', args: { path: { free: [3, 4] } } };
    expect(resolveFds(world, free)).toEqual(open('/dev/vfio/4'));
    expect(resolveFds(world, reclaim)).toEqual({ op: 'CLOSE', args: { fd: 999 } });
    const both = after([...base, open('/dev/vfio/4')]);
    expect(resolveFds(both, reclaim)).toEqual({ op: 'CLOSE', args: { fd: 4 } });
    // A forked child shares the files: closing the parent's would free nothing.
    const shared = after([...base, open('/dev/vfio/4'), { op: 'FORK' }]);
    expect(resolveFds(shared, reclaim)).toEqual({ op: 'CLOSE', args: { fd: 999 } });
  });

  it("name the last child a FORK made, whose fds are its parent's", () => {
    const forked = after([...base, { op: 'FORK' }, { op: 'FORK' }]);
    expect(resolveFds(forked, { op: 'VFIO_IOMMU_ENABLE', pid: 'child', fd: CONTAINER })).toEqual({ op: 'VFIO_IOMMU_ENABLE', pid: 3, fd: 5 });
    expect(resolveFds(forked, { op: 'EXIT', args: { pid: 'child' } })).toEqual({ op: 'EXIT', args: { pid: 3 } });
  });

  it('leave an event without references as it is', () => {
    const event = { op: 'VFIO_IOMMU_ENABLE', fd: 5 };
    expect(resolveFds(world, event)).toBe(event);
  });
});
