/** An iommufd object, and a pages object, as `inspect` shows them (view-types.ts). */
import type { StateValue } from 'xstate';
import { IOMMU_READ, IOMMU_WRITE } from '../../src/iommufd/io-pagetable/io-pagetable.ts';
import type { Area, IommuObject, Pages, Range } from '../../src/model/world.ts';
import type { AreaView, ObjectView, PagesView, RangeView } from './view-types.ts';

export const hex = (n: bigint): string => `0x${n.toString(16)}`;

export const rangeView = (r: Range): RangeView => ({ start: hex(r.start), last: hex(r.last) });

/** `{ populated: {} }` and the like, as one dotted name. */
function stateName(value: StateValue): string {
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([k, v]) => (v === undefined || (typeof v === 'object' && Object.keys(v).length === 0) ? k : `${k}.${stateName(v)}`))
    .join(',');
}

export function areaView(area: Area): AreaView {
  const prot: string[] = [];
  if ((area.prot & IOMMU_READ) !== 0) prot.push('READ');
  if ((area.prot & IOMMU_WRITE) !== 0) prot.push('WRITE');
  return { iova: hex(area.start), last: hex(area.last), pages: area.pages, start_byte: hex(area.startByte), prot };
}

/** Pages pinned: the length of every pin run. */
export const pinnedPages = (pages: Pages): number => pages.pins.reduce((n, r) => n + Number(r.last - r.first + 1n), 0);

export function pagesView(pages: Pages): PagesView {
  return {
    id: pages.id,
    kind: pages.kind,
    start: hex(pages.start),
    length: hex(pages.length),
    writable: pages.writable,
    file: pages.file,
    owner: pages.owner,
    owner_uid: pages.ownerUid,
    account: pages.account,
    area_refs: pages.areaRefs,
    pinned_pages: pinnedPages(pages),
    charged_pages: Number(pages.charged),
    holds: pages.holds.map((h) => ({ key: h.key, first: Number(h.first), last: Number(h.last) })),
  };
}

export function objectView(obj: IommuObject): ObjectView {
  if (obj.type === 'tombstone') return { type: 'tombstone', id: obj.id };
  const common = { id: obj.id, state: stateName(obj.lifecycle.value), users: obj.lifecycle.context.users };
  switch (obj.type) {
    case 'ioas':
      return {
        type: 'ioas',
        ...common,
        areas: [...obj.iopt.areas.values()].map(areaView),
        allowed: [...obj.iopt.allowed.values()].map(rangeView),
        reserved: obj.iopt.reserved.map((r) => ({ ...rangeView(r), owner: r.owner })),
        iova_alignment: hex(obj.iopt.iovaAlignment),
        huge_pages_disabled: obj.hugePagesDisabled,
        domains: obj.domains,
        accesses: obj.accesses,
      };
    case 'device':
      return {
        type: 'device',
        ...common,
        name: obj.model.name,
        kind: obj.model.kind,
        group: obj.model.group,
        iommu: obj.model.iommu,
        attached: [...obj.attached].map(([pasid, hwpt]) => ({ pasid, hwpt })),
        vdevice: obj.vdevice,
      };
    case 'hwpt_paging':
      return {
        type: 'hwpt_paging',
        ...common,
        ioas: obj.ioas,
        auto: obj.auto,
        nest_parent: obj.nestParent,
        pasid_compat: obj.pasidCompat,
        fault: obj.fault,
        domain: {
          pgsize_bitmap: hex(obj.domain.pgsizeBitmap),
          aperture: rangeView(obj.domain.aperture),
          iommu: obj.domain.iommu,
          dirty_tracking: obj.domain.dirtyTracking,
        },
        dirty_enabled: obj.dirtyEnabled,
        dirty: obj.dirty.length,
      };
    case 'hwpt_nested':
      return { type: 'hwpt_nested', ...common, parent: obj.parent, viommu: obj.viommu, pasid_compat: obj.pasidCompat, fault: obj.fault, iommu: obj.iommu };
    case 'viommu':
      return {
        type: 'viommu',
        ...common,
        viommu_type: hex(obj.viommuType),
        hwpt: obj.hwpt,
        iommu: obj.iommu,
        vdevices: [...obj.vdevs].map(([virtId, vdevice]) => ({ virt_id: hex(virtId), vdevice })),
        hw_queues: [...obj.hwQueues].map(([index, hwQueue]) => ({ index, hw_queue: hwQueue })),
      };
    case 'vdevice':
      return { type: 'vdevice', ...common, viommu: obj.viommu, device: obj.device, virt_id: hex(obj.virtId) };
    case 'veventq':
      return {
        type: 'veventq',
        ...common,
        viommu: obj.viommu,
        veventq_type: hex(obj.veventqType),
        depth: Number(obj.depth),
        queued: Number(obj.numEvents),
        lost: obj.events.some((e) => e.lost),
      };
    case 'fault':
      return { type: 'fault', ...common, queued: obj.deliver.length, awaiting_response: obj.response.size };
    case 'hw_queue':
      return { type: 'hw_queue', ...common, viommu: obj.viommu, index: obj.index, access: obj.access, prev: obj.prev };
    case 'selftest':
      return {
        type: 'selftest',
        ...common,
        // The model keeps 0 for "no device": iommufd object ids start at 1.
        device: obj.device === 0 ? null : obj.device,
        ...(obj.ownHwpt === null ? {} : { own_hwpt: obj.ownHwpt }),
      };
    case 'access':
      return {
        type: 'access',
        ...common,
        ioas: obj.ioas,
        needs_pin: obj.needsPin,
        internal: obj.internal,
        items: [...obj.items.values()].map((item) => ({
          id: item.id,
          iova: hex(item.iova),
          length: hex(item.length),
          pages: [...new Set(item.holds.map((h) => h.pages))],
        })),
      };
  }
}
