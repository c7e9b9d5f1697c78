/**
 * Random events of an emulated (mediated) device: its bind, attach and detach by name, and the
 * pins its driver takes and drops, mostly over the IOVAs the other commands map, so that unmaps
 * meet pinned pages and pins meet maps that are not there, read-only or gone.
 */
import fc from 'fast-check';
import type { FuzzEvent } from './arbitraries.ts';
import type { Sequence } from './vfio-arbitraries.ts';

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const PAGE = 0x1000n;
const DEV = 'mdev0';

/** The fuzz host's mediated device: a group of its own, a cdev. */
export const EMULATED_DEVICES = [{ name: DEV, kind: 'emulated', group: 30, cdev: 30 }];

/** A page of the IOVAs the IOAS commands use most, or one at an edge. */
const iova = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 7 }).map((k) => 0x1000000n + BigInt(k) * PAGE + (k === 3 ? 0x800n : 0n)) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 0xfffffffffffff000n) },
);
const npage = fc.constantFrom(1, 1, 2, 4, 0, -1);
const prot = fc.constantFrom<string[]>(['READ', 'WRITE'], ['READ', 'WRITE'], ['READ'], []);
/** The prologue's two IOAS, sometimes an id that is none. */
const ptId = fc.constantFrom(1, 1, 2, 7);

/** `iommufd`: the prologue's /dev/iommu fd. */
export function emulatedArbitraries(iommufd: number): { readonly commands: Readonly<Record<string, fc.Arbitrary<FuzzEvent>>>; readonly sequences: readonly Sequence[] } {
  const bind: FuzzEvent = { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: DEV, iommufd } };
  const attach = (pt: number): FuzzEvent => ({ op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { dev: DEV, pt_id: pt } });
  const pin = fc.record({ iova, npage, prot }).map((a): FuzzEvent => ({ op: 'VFIO_PIN_PAGES', args: { dev: DEV, iova: hex(a.iova), npage: a.npage, prot: a.prot } }));
  return {
    commands: {
      VFIO_DEVICE_BIND_IOMMUFD: fc.constant(bind),
      VFIO_DEVICE_ATTACH_IOMMUFD_PT: ptId.map(attach),
      VFIO_DEVICE_DETACH_IOMMUFD_PT: fc.constant({ op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', args: { dev: DEV } }),
      VFIO_PIN_PAGES: pin,
      VFIO_UNPIN_PAGES: fc.record({ iova, npage }).map((a): FuzzEvent => ({ op: 'VFIO_UNPIN_PAGES', args: { dev: DEV, iova: hex(a.iova), npage: a.npage } })),
    },
    sequences: [
      {
        // QEMU's mdev on iommufd: bound, attached to an IOAS, its driver pinning.
        ops: ['VFIO_DEVICE_BIND_IOMMUFD', 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', 'VFIO_PIN_PAGES'],
        weight: 2,
        arbitrary: fc.tuple(ptId, fc.array(pin, { minLength: 1, maxLength: 3 })).map(([pt, pins]) => [bind, attach(pt), ...pins]),
      },
    ],
  };
}
