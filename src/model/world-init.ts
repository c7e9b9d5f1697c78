/**
 * The snapshot a trace starts from: its header's processes (each with fds 0-2 open) and the
 * memory that existed before the first event.
 */
import type { Fields, TraceHeader } from '../../events/types.ts';
import { mapUser } from '../mm/address-space.ts';
import { mappingOf } from '../mm/env-ops.ts';
import { installFile } from '../mm/files.ts';
import { headerDevices } from '../iommufd/device/header-devices.ts';
import { vfioState } from '../vfio/config.ts';
import { hasOlder, profileOf } from '../kernel/profile.ts';
import { headerKernel } from '../kernel/select.ts';
import { bugSwitchesOf } from '../kernel/release-bugs.ts';
import { type BugName, bugSet } from './mutants.ts';
import { OrderedMap } from './ordered-map.ts';
import type { ModelConfig, Process, World } from './world.ts';

/** The selftest module's default temporary buffer limit (`iommufd_test_memory_limit`). */
export const DEFAULT_TEMP_MEMORY_LIMIT = 65536n;

export interface WorldOptions {
  /** Deliberate bugs to switch on (default: none, the faithful model), besides those of the release's own bugs. */
  readonly bugs?: Iterable<BugName>;
  /** The release to follow (`--kernel`), over the header's `env.kernel` (default: that, else the newest). */
  readonly kernel?: string;
}

export function createWorld(header: TraceHeader, options: WorldOptions = {}): World {
  const kernel = profileOf(options.kernel ?? headerKernel(header).release);
  const config: ModelConfig = {
    pageSize: header.env.pageSize,
    hugepageSize: header.env.hugepageSize,
    memory: header.env.memory,
    // A release answers as it did: the switches that re-create its bugs are on (src/kernel/release-bugs.ts).
    bugs: bugSet([...(options.bugs ?? []), ...bugSwitchesOf(kernel.release)]),
    kernel,
  };
  const decls =
    header.env.processes.length > 0
      ? header.env.processes
      : [{ pid: 1, uid: 0, rlimitMemlock: null, caps: [] as readonly string[] }];
  let world: World = {
    config,
    firstPid: decls[0]?.pid ?? 1,
    lastPid: Math.max(...decls.map((d) => d.pid)),
    processes: OrderedMap.empty(),
    files: OrderedMap.empty(),
    nextFileId: 1,
    contexts: OrderedMap.empty(),
    nextCtxId: 1,
    nextMemObject: 1,
    userLockedVm: OrderedMap.empty(),
    tempMemoryLimit: DEFAULT_TEMP_MEMORY_LIMIT,
    devices: headerDevices(header.env.devices, config.pageSize, hasOlder(kernel, 'mock-xarray-page-table')),
    vfio: vfioState(header),
  };
  for (const decl of decls) {
    let mm: Process['mm'] = OrderedMap.empty();
    for (const m of header.env.mappings) {
      mm = mapUser(mm, premapped(m, config, world.nextMemObject));
      world = { ...world, nextMemObject: world.nextMemObject + 1 };
    }
    const process: Process = { ...decl, fds: OrderedMap.empty(), mm, anonPages: OrderedMap.empty(), lockedVm: 0n, pinnedVm: 0n };
    world = { ...world, processes: world.processes.set(decl.pid, process) };
    for (const fd of [0, 1, 2]) world = installFile(world, decl.pid, fd, { kind: 'other', path: '/dev/null' });
  }
  return world;
}

function premapped(args: Fields, config: ModelConfig, anon: number) {
  return mappingOf(args, config, typeof args['addr'] === 'bigint' ? args['addr'] : 0n, null, anon);
}
