/**
 * Deliberate bugs, for measuring the fuzzer's power: each is a realistic mistake (several
 * re-create historical iommufd, VFIO type1 and SPAPR TCE bugs, spec-history §C.1 to §C.3, the
 * SPAPR ones named by the commit that fixed them) that the model
 * carries behind a switch. The switches are part of a model's configuration (`ModelConfig.bugs`,
 * empty for the faithful model), so models with different bugs on can run side by side.
 */
export const BUGS = {
  'overlap-off-by-one': 'iopt_check_iova() misses an area that overlaps only the last byte',
  'fixed-map-ignores-reserved': 'a FIXED_IOVA map is not checked against reserved ranges',
  'alloc-align-overflow': 'the allocator aligns without the overflow check (the ALIGN() overflow fix undone)',
  'alloc-ignores-allowed': 'automatic IOVAs are chosen outside the allowed ranges',
  'map-keeps-area-on-pin-failure': 'a map whose pinning fails keeps its area',
  'uptr-overflow-accepted': 'user_va + length wrapping past 2^64 is accepted (syzkaller 2023)',
  'unmap-straddle-removes': 'an unmap cutting an area removes the whole area',
  'copy-ignores-readonly': 'IOAS_COPY maps read-only pages writeable',
  'domain-skips-alignment-check': 'adding a domain does not check existing areas against its page size',
  'domain-skips-aperture': 'adding a domain does not reserve what lies outside its aperture',
  'hwpt-skips-ioas-reference': 'a HWPT does not hold a reference on its IOAS',
  'domain-added-twice': 'a HWPT is added to its IOAS domain list twice (syzkaller 2023)',
  'last-domain-keeps-pins': 'removing the last domain does not unpin the areas',
  'detach-keeps-hwpt-user': 'detaching a device does not drop its reference on the HWPT',
  'access-skips-alignment': 'attaching a pinning access does not raise the IOAS alignment',
  'unmap-skips-access-notify': 'unmapping an area an access pinned does not make the access unpin',
  'access-pin-past-end': 'an access pin holds one page past the end of the area (unpin past the end, syzkaller 2023)',
  'double-charge': 'a growing pin is charged twice',
  'release-skips-uncharge': 'closing the last fd of a context does not uncharge what it pinned',
  'charge-ignores-limit': 'charges are not checked against RLIMIT_MEMLOCK',
  'rlimit-mode-busy-ignored': 'RLIMIT_MODE can be changed with objects present',
  'map-checks-ioas-before-flags': 'IOAS_MAP looks the IOAS up before checking its flags (wrong errno order)',
  'fork-copies-counters': 'a forked child starts with its parent\'s VmLck and VmPin',
  'type1-v1-unmap-below-iova': 'a type1 v1 unmap that starts inside a mapping removes all of it (the walk does not stop at a mapping below the iova)',
  'type1-v2-unmap-misses-tail': 'a type1 v2 unmap misses a mapping its range ends inside and removes it whole',
  'type1-v2-unmap-split-keeps-charge': 'a type1 v2 unmap that starts inside a mapping cuts it short there, its whole charge kept',
  'type1-unmap-keeps-dma-entry': 'a type1 mapping removed does not give its dma_entry_limit entry back',
  'type1-vaddr-rollback-keeps-count': 'a type1 VADDR unmap that fails undoes its invalidations but keeps them counted',
  'type1-vaddr-update-double-charge': 'a type1 VADDR map from another mm charges it without uncharging the old one',
  'type1-vaddr-update-charge-not-moved': 'a type1 VADDR map from another mm takes the mapping over but leaves its charge on the old mm',
  'spapr-current-mm': "SPAPR TCE ioctls work on the calling process's mm, not the one the container bound, and never answer EPERM (fixed by bc82d122ae4a, vfio/spapr: Reference mm in tce_container)",
  'spapr-release-keeps-prereg': "a SPAPR TCE container's release leaves the regions it pre-registered to the mm, pinned and charged (fixed by 4b6fad7097f8, powerpc/mm/iommu, vfio/spapr: Put pages on VFIO container shutdown)",
  'spapr-register-twice': 'a SPAPR TCE container registering a region it holds takes another reference instead of EBUSY (fixed by 4b6fad7097f8, which made it EBUSY)',
} as const satisfies Readonly<Record<string, string>>;

export type BugName = keyof typeof BUGS;

export const BUG_NAMES = Object.keys(BUGS) as readonly BugName[];

/** The switches `names` turn on; a name that is no bug is an error, not a faithful model. */
export function bugSet(names: Iterable<string>): ReadonlySet<BugName> {
  const set = new Set<BugName>();
  for (const name of names) {
    if (!Object.hasOwn(BUGS, name)) throw new Error(`[iommufd-model] no bug named ${name}`);
    set.add(name as BugName);
  }
  return set;
}
