/**
 * A line changed at a place, in a trace that gives it something to meet: a header change keeps
 * the events of the trace it came from; an event change is made to a real event of that op, after
 * the lines of its trace that come before it, or, for an op no base has, after a setup that opens
 * an iommufd, a mock domain, an access, a device cdev and a VFIO container.
 */
import { PLANS } from '../../events/op-plan.ts';
import { type Bases, parseLine } from './bases.ts';
import { type Json, setAt, text } from './json-text.ts';
import type { Place } from './places.ts';
import type { Rng } from './rng.ts';

/** A trace as the lines of its text; `target` is the index of the line that was changed. */
export interface Lines {
  readonly lines: string[];
  readonly target: number;
}

/** A line to change, with the lines of the trace before it and after it. */
export interface Context {
  readonly before: readonly string[];
  readonly line: Json;
  readonly after: readonly string[];
}

const SETUP: readonly string[] = [
  '{"trace":"iommufd","version":"1.1","env":{"devices":[{"name":"dev0","kind":"mock","group":7,"cdev":0},{"name":"dev1","kind":"intel-vtd","group":8,"cdev":1}],"vfio":{"container":"native","drivers":["type1","noiommu"]},"params":{"vfio.enable_unsafe_noiommu_mode":true}}}',
  '{"op":"OPEN"}',
  '{"op":"IOAS_ALLOC"}',
  '{"op":"MMAP","args":{"addr":"0x7f0000000000","length":"0x400000"}}',
  '{"op":"IOAS_MAP","args":{"ioas_id":1,"flags":["FIXED_IOVA","READABLE","WRITEABLE"],"user_va":"0x7f0000000000","length":"0x200000","iova":"0x10000000"},"expect":{}}',
  '{"op":"TEST_MOCK_DOMAIN","args":{"id":1},"expect":{"out":{"out_stdev_id":2,"out_hwpt_id":3,"out_idev_id":4}}}',
  '{"op":"TEST_CREATE_ACCESS","args":{"id":1},"expect":{"out":{"out_access_fd":4}}}',
  '{"op":"OPEN","args":{"path":"/dev/vfio/devices/vfio1"},"expect":{"out":{"fd":5}}}',
  '{"op":"VFIO_DEVICE_BIND_IOMMUFD","fd":5,"args":{"iommufd":3},"expect":{}}',
  '{"op":"VFIO_DEVICE_ATTACH_IOMMUFD_PT","fd":5,"args":{"pt_id":1},"expect":{}}',
  '{"op":"OPEN","args":{"path":"/dev/vfio/vfio"},"expect":{"out":{"fd":6}}}',
  '{"op":"OPEN","args":{"path":"/dev/vfio/7"},"expect":{"out":{"fd":7}}}',
  '{"op":"VFIO_GROUP_SET_CONTAINER","fd":7,"args":{"container_fd":6},"expect":{}}',
  '{"op":"VFIO_SET_IOMMU","fd":6,"args":{"arg":"TYPE1v2_IOMMU"},"expect":{}}',
  '{"op":"VFIO_IOMMU_MAP_DMA","fd":6,"args":{"flags":["READ","WRITE"],"vaddr":"0x7f0000200000","iova":"0x20000000","size":"0x100000"},"expect":{}}',
];

const OP_NAMES = [...PLANS.keys()];

/** The line that holds `place`, in its trace. */
export function contextOf(rng: Rng, bases: Bases, place: Place): Context {
  if (place.line === 'header') {
    const candidates = place.path.includes('devices') ? bases.traces.filter((t) => t.devices) : bases.traces;
    const base = rng.pick(candidates);
    return { before: [], line: parseLine(base.lines[0] as string), after: base.lines.slice(1, 1 + rng.between(0, 40)) };
  }
  const op = place.line === '*' ? rng.pick(OP_NAMES) : place.line;
  const found = bases.byOp.get(op);
  if (found === undefined || rng.chance(0.1)) return { before: SETUP, line: { op }, after: [] };
  const { trace, at } = rng.pick(found);
  return { before: trace.lines.slice(0, at), line: parseLine(trace.lines[at] as string), after: trace.lines.slice(at + 1, at + 1 + rng.between(0, 5)) };
}

/** The trace with the line at `place` rewritten by `edit`. */
export function editAt(rng: Rng, bases: Bases, place: Place, edit: (line: Json) => Json): Lines {
  const { before, line, after } = contextOf(rng, bases, place);
  return { lines: [...before, text(edit(line)), ...after], target: before.length };
}

/** The trace with `value` at `place`. */
export const valueAt = (rng: Rng, bases: Bases, place: Place, value: Json): Lines =>
  editAt(rng, bases, place, (line) => setAt(line, place.path, value));
