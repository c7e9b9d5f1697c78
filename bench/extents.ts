/**
 * Memory kept by extents: one workload over a private mapping, whose cost should not depend on
 * the mapping's size. The mapping is made, pinned whole by IOAS_MAP through a device, forked;
 * both processes write all of it; TEST_MD_CHECK_REFS checks every page's pin count in both;
 * the pin goes and the parent's pages are checked again.
 */
import { parseTraceText } from '../events/index.ts';
import type { TraceEvent } from '../events/types.ts';
import { step } from '../src/model/dispatch.ts';
import { createWorld } from '../src/model/world-init.ts';
import type { World } from '../src/model/world.ts';
import { cpuMicros, median } from './clock.ts';
import { type TraceLine, hex } from './trace-lines.ts';

const BASE = 0x7f4000000000;
/** Above any mapping size measured, inside the device's 48-bit aperture. */
const IOVA = 2 ** 40;

function workload(bytes: number): TraceLine[] {
  const header = {
    trace: 'iommufd',
    version: 1,
    env: {
      page_size: 4096,
      memory: 'declared',
      processes: [{ pid: 1, uid: 0, rlimit_memlock: 'unlimited', caps: ['CAP_IPC_LOCK'] }],
      devices: [{ name: 'nic', kind: 'intel-vtd', aperture: { start: '0', last: '0xffffffffffff' }, pgsize_bitmap: '0x40201000' }],
    },
  };
  const all = { addr: hex(BASE), length: hex(bytes) };
  const refs = (n: number, pid: number) => ({ op: 'TEST_MD_CHECK_REFS', pid, args: { uptr: hex(BASE), length: hex(bytes), refs: n } });
  return [
    header,
    { op: 'OPEN' },
    { op: 'IOAS_ALLOC' },
    { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'nic', iommufd: 3 } },
    { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { dev: 'nic', pt_id: 1 } },
    { op: 'MMAP', args: { ...all, shared: false } },
    { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: hex(BASE), length: hex(bytes), iova: hex(IOVA) } },
    { op: 'FORK' },
    { op: 'TOUCH', pid: 2, args: { ...all, write: true } },
    { op: 'TOUCH', pid: 1, args: { ...all, write: true } },
    refs(1, 1),
    refs(0, 2),
    { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: '0', length: 'U64_MAX' } },
    refs(0, 1),
  ];
}

/** Steps every event, each of which must succeed. */
function run(world: World, events: readonly TraceEvent[]): World {
  let w = world;
  for (const event of events) {
    const { world: next, result } = step(w, event, { adopt: false });
    if (result === null || result.errno !== null) {
      throw new Error(`line ${event.line} ${event.op} gave ${result === null ? 'unsupported' : result.errno}`);
    }
    w = next;
  }
  return w;
}

/**
 * CPU µs of the whole workload over a mapping of `bytes` (the median of `repeat` runs from the
 * same snapshot), and the page runs the processes keep at its end.
 */
export function extentWorkload(bytes: number, repeat: number): { us: number; runs: number } {
  const trace = parseTraceText(workload(bytes).map((l) => JSON.stringify(l)).join('\n'));
  const world = createWorld(trace.header);
  let end = world;
  const times = Array.from({ length: repeat }, () => {
    const t0 = cpuMicros();
    end = run(world, trace.events);
    return cpuMicros() - t0;
  });
  let runs = 0;
  for (const p of end.processes.values()) runs += p.anonPages.size;
  return { us: median(times), runs };
}
