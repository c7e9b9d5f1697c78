/**
 * What a QEMU log says beyond its calls: the devices it names (which are mediated, which cdev
 * fd and devid each has), where each device's attach ends, the legacy containers' devices and
 * groups, and the lines read but not imported.
 */
import type { QemuCall } from './qemu-calls.ts';
import type { QemuFact } from './qemu-messages.ts';

type Json = { [key: string]: unknown };

/** What the log's lines say beyond its calls: devices, their cdev fds and ids. */
export interface LogFacts {
  /** The fd of each device cdev QEMU opened (`iommufd_cdev_getfd`), by fd: the N of its vfioN. */
  readonly cdevOfFd: Map<number, number>;
  /** Device name → its cdev fd, its devid. */
  readonly deviceFd: Map<string, number>;
  readonly devid: Map<string, number>;
  /** Devices QEMU names as mediated (`vfio_mdev ... is_mdev 1`, an mdev's sysfs path). */
  readonly mdev: Set<string>;
  /** The line of each device's `iommufd_cdev_device_info`, the end of its attach. */
  readonly infoLine: Map<string, number>;
  /** `vfio <device>: failed to setup container [for group N]`: by line. */
  readonly containers: { line: number; device: string; group?: number }[];
  /** The device each message line names (`vfio <device>:`, a `-device` option string). */
  readonly deviceOfLine: Map<number, string>;
  /** Lines read but not imported, and why. */
  readonly notImported: string[];
  /** The first line of a SPAPR TCE container's trace events (`vfio_spapr_*`, `vfio_prereg_*`): its host is POWER. */
  power: { line: number; event: string } | null;
}

/** No facts yet. */
export const noFacts = (): LogFacts => ({
  cdevOfFd: new Map(),
  deviceFd: new Map(),
  devid: new Map(),
  mdev: new Set(),
  infoLine: new Map(),
  containers: [],
  deviceOfLine: new Map(),
  notImported: [],
  power: null,
});

/** What a message's fact says beyond its call: the device a line is about, a container's group, a device's fd, a POWER host. */
export function noteFact(fact: QemuFact, line: number, facts: LogFacts): void {
  if (fact.kind === 'device') facts.deviceOfLine.set(line, fact.device);
  if (fact.kind === 'failed' && fact.device !== undefined && fact.devfd !== undefined) facts.deviceFd.set(fact.device, fact.devfd);
  if (fact.kind === 'failed' && fact.op.startsWith('VFIO_IOMMU_SPAPR_')) facts.power ??= { line, event: `${fact.op} failure message` };
  if (fact.kind === 'container') facts.containers.push({ line, device: fact.device, ...(fact.group === undefined ? {} : { group: fact.group }) });
}

/** The device a `-device` option string names: `host=` (PCI), `sysfsdev=` (a path ending in its name), or JSON's `host`. */
export function deviceOfOptions(options: string): { name: string; mdev: boolean } | null {
  const json = options.startsWith('{') ? (JSON.parse(options) as Json) : null;
  const host = json !== null ? json['host'] : /(?:^|,)host=([^,]+)/.exec(options)?.[1];
  if (typeof host === 'string') return { name: host, mdev: false };
  const sysfs = json !== null ? json['sysfsdev'] : /(?:^|,)sysfsdev=([^,]+)/.exec(options)?.[1];
  if (typeof sysfs !== 'string') return null;
  return { name: sysfs.replace(/\/$/, '').split('/').pop() as string, mdev: sysfs.includes('/mdev/') || /^vfio-(ap|ccw)\b/.test(options) };
}

/** The device a call is about: the one its line names, else the one device the log binds. */
export function deviceOf(facts: LogFacts, call: QemuCall): string | null {
  const named = facts.deviceOfLine.get(call.line);
  if (named !== undefined) return named;
  const bound = [...facts.devid.keys()];
  return bound.length === 1 ? (bound[0] as string) : null;
}
