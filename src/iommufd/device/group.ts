/**
 * Lookups over an IOMMU group's devices in one context: which devices share the group, the
 * HWPT the group has attached at a PASID and the attach handle it went through. Attaching
 * (attach-hw.ts, device.ts) and page faults (fault.ts) both read them.
 */
import type { Ctx, Device, HwptNested, HwptPaging } from '../../model/world.ts';

export type Hwpt = HwptPaging | HwptNested;

/** The devices of `dev`'s group bound in this context. */
export function groupOf(ctx: Ctx, dev: Device): Device[] {
  const out: Device[] = [];
  for (const obj of ctx.objects.values()) if (obj.type === 'device' && obj.model.group === dev.model.group) out.push(obj);
  return out;
}

export function hwptOf(ctx: Ctx, id: number): Hwpt {
  const h = ctx.objects.get(id);
  if (h?.type !== 'hwpt_paging' && h?.type !== 'hwpt_nested') throw new Error(`[iommufd-model] no HWPT ${id}`);
  return h;
}

/** The HWPT the group has attached at `pasid`, if any. */
export function groupHwpt(group: readonly Device[], pasid: number): number | undefined {
  for (const d of group) {
    const h = d.attached.get(pasid);
    if (h !== undefined) return h;
  }
  return undefined;
}

/** The group's attach handle at `pasid` (`iommu_attach_handle_get()`), as faults name it. */
export function handleOf(group: readonly Device[], pasid: number): { key: string; device: number } | null {
  for (const d of group) {
    const serial = d.handles.get(pasid);
    if (serial !== undefined) return { key: `${d.id}:${serial}`, device: d.id };
  }
  return null;
}
