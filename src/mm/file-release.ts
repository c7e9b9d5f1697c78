/**
 * Closing fds and dropping references on open files. The last reference releases the file
 * through its kind's release, as `fput()` calls `file->f_op->release`: an iommufd releases its
 * context, an access fd destroys its access, a FAULT or VEVENTQ fd drops its object, a VFIO
 * container, group or device fd lets go of what it holds (a device fd from a group may drop
 * the group file it held in turn; a device cdev unbinds the device bound through it). The table
 * of releases lives here, above the modules of the kinds, so that files.ts, which they use to
 * install their fds, needs none of them.
 */
import { releaseEventqFile } from '../iommufd/eventq/eventq.ts';
import { releaseContext } from '../iommufd/main/context.ts';
import { releaseAccessFile } from '../iommufd/selftest/selftest-access.ts';
import { releaseContainerFile } from '../vfio/container/container.ts';
import { releaseCdevFile } from '../vfio/cdev-file.ts';
import { releaseDeviceFile, releaseGroupFile } from '../vfio/group.ts';
import { revise } from '../model/revise.ts';
import type { OpenFile, World } from '../model/world.ts';
import { withFds } from './files.ts';

/** The kinds whose last reference releases the file: a memfd's or a dma-buf's record outlives its fds. */
type ReleasedKind = Exclude<OpenFile['kind'], 'memfd' | 'dmabuf'>;
type FileOf<K extends ReleasedKind> = OpenFile & { readonly kind: K };

const RELEASE: { readonly [K in ReleasedKind]: (world: World, file: FileOf<K>) => World } = {
  iommufd: (world, file) => releaseContext(world, file.ctx),
  access: (world, file) => releaseAccessFile(world, file.ctx, file.access),
  fault: (world, file) => releaseEventqFile(world, file.ctx, file.object),
  veventq: (world, file) => releaseEventqFile(world, file.ctx, file.object),
  container: (world, file) => releaseContainerFile(world, file.container),
  group: (world, file) => releaseGroupFile(world, file.group),
  'vfio-device': (world, file) => {
    const released = releaseDeviceFile(world, file.group, file.device, file.opened);
    return released.groupFile === null ? released.world : putFile(released.world, released.groupFile);
  },
  'vfio-cdev': releaseCdevFile,
  other: (world) => world,
};

const release = <K extends ReleasedKind>(world: World, kind: K, file: FileOf<K>): World => RELEASE[kind](world, file);

/** `close(fd)`: drops the fd-table entry and the reference it held. */
export function closeFd(world: World, pid: number, fd: number): World {
  const process = world.processes.get(pid);
  const id = process?.fds.get(fd);
  if (process === undefined || id === undefined) return world;
  const next = revise(world, (d) => {
    d.processes = world.processes.set(pid, withFds(process, process.fds.delete(fd)));
  });
  return putFile(next, id);
}

/** Drops one reference on an open file; the last one releases it. */
function putFile(world: World, id: number): World {
  const file = world.files.get(id);
  if (file === undefined) return world;
  // A memfd's pages outlive its fds while a mapping uses them, and a dma-buf while an area maps
  // it (`dma_buf_get()` holds its file): the record stays (it is tiny).
  if (file.refs > 1 || file.kind === 'memfd' || file.kind === 'dmabuf') {
    return revise(world, (d) => {
      d.files = world.files.set(id, { ...file, refs: file.refs - 1 });
    });
  }
  const released = revise(world, (d) => {
    d.files = world.files.delete(id);
  });
  return release(released, file.kind, file);
}
