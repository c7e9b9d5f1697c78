/**
 * Bugs of released kernels: each with the mainline commit that fixed it and the first release
 * that has the fix, so the releases from `since` up to the one before `fixedIn` have it. A bug
 * user space could see is re-created by a switch of the model (src/model/mutants.ts), which the
 * profile of such a release turns on: the release answers as it did. A bug that was a crash or
 * a WARN has a trigger, a predicate over one step that recognises the event that set it off:
 * replay reports that event as a finding. A bug may have both.
 *
 * Sources: the fixing commits and their Fixes: tags, their syzkaller reports (Pengfei Xu's
 * reproducers in test/captures/), and the stable releases that backported them. docs/release-
 * bugs.md is generated from this table.
 */
import type { BugName } from '../model/mutants.ts';
import { type BugStep, checksWrappedRange, readsWrappedPages, replaceFailsAlignment, unfillsAroundAccess } from './bug-triggers.ts';
import { FIRST, RELEASES, compareReleases } from './releases.ts';

export interface ReleaseBug {
  /** How findings name it. */
  readonly name: string;
  /** The mainline commit that fixed it, 12 hex digits. */
  readonly fixedBy: string;
  /** The fixing commit's subject. */
  readonly subject: string;
  /** The first release that has the bug. */
  readonly since: string;
  /** The first release that has the fix. */
  readonly fixedIn: string;
  /** What the bug did, and what set it off. */
  readonly what: string;
  /** The model's switch that re-creates what user space saw of it. */
  readonly switch?: BugName;
  /** What the kernel logged, and the predicate that recognises the step that set it off. */
  readonly crash?: { readonly report: string; readonly triggers: (step: BugStep) => boolean };
}

/** Oldest fix first. */
export const RELEASE_BUGS: readonly ReleaseBug[] = [
  {
    name: 'uptr-overflow',
    fixedBy: 'e4395701330f',
    subject: 'iommufd: Check for uptr overflow',
    since: FIRST,
    fixedIn: '6.3',
    what:
      'IOAS_MAP (and the VFIO compat MAP_DMA) accepted a user_va + length that wraps past the end of the address space; ' +
      'pinning or reading those pages later (an access, a domain) WARNed in pfn_reader_user_pin (syzkaller, test/captures/syz.xupengfe-230314-pfn_reader_user_pin.syz and -230328-)',
    switch: 'uptr-overflow-accepted',
    crash: { report: 'WARNING in pfn_reader_user_pin', triggers: readsWrappedPages },
  },
  {
    name: 'access-unpin-past-end',
    fixedBy: '727c28c1cef2',
    subject: 'iommufd: Fix unpinning of pages when an access is present',
    since: FIRST,
    fixedIn: '6.3',
    what:
      'removing the last domain of an IOAS while an access held pages of one of its areas unpinned past the end of the batch: ' +
      'the num-pinned check WARNed in __iopt_area_unfill_domain (syzkaller, test/captures/syz.xupengfe-230314-iopt_area_unfill_domain.c)',
    // No switch: the model's `access-pin-past-end` holds a page past the area when an access
    // pins, which is not what 6.2 did (it unpinned past the batch when the domain went), and
    // what user space saw of it was the WARN.
    crash: { report: 'WARNING in __iopt_area_unfill_domain', triggers: unfillsAroundAccess },
  },
  {
    name: 'selftest-check-overflow',
    fixedBy: 'fd8c1a4aee97',
    subject: 'iommufd/selftest: Catch overflow of uptr and length',
    since: FIRST,
    fixedIn: '6.4',
    what:
      'the selftest ops TEST_MD_CHECK_MAP and TEST_MD_CHECK_REFS walked a uptr + length that wraps, and WARNed when no page could be pinned there ' +
      '(syzkaller, test/captures/syz.xupengfe-230224-iommufd_test.c)',
    // No switch: the model refuses such a range in every release; before the fix the kernel WARNed.
    crash: { report: 'WARNING in iommufd_test', triggers: checksWrappedRange },
  },
  {
    name: 'access-list-id-overwrite',
    fixedBy: 'aeb004c0cd69',
    subject: 'iommufd: Fix iopt_access_list_id overwrite bug',
    since: '6.6',
    fixedIn: '6.8',
    what:
      'an access replace (iommufd_access_change_ioas(), 9227da7816dd) refused by the new IOAS\'s alignment left the access with the list id it had just been given and lost; ' +
      'when the access later left its IOAS, iopt_remove_access() WARNed (syzkaller); the finding is the refused replace, the WARN came at that later event',
    crash: { report: 'WARNING in iopt_remove_access', triggers: replaceFailsAlignment },
  },
];

/** Whether `release` has `bug`. */
export const hasBug = (release: string, bug: ReleaseBug): boolean =>
  compareReleases(release, bug.since) >= 0 && compareReleases(release, bug.fixedIn) < 0;

/** The bugs `release` has. */
export const bugsOf = (release: string): readonly ReleaseBug[] => RELEASE_BUGS.filter((b) => hasBug(release, b));

/** The model's switches that re-create the bugs `release` has. */
export const bugSwitchesOf = (release: string): readonly BugName[] => bugsOf(release).flatMap((b) => (b.switch === undefined ? [] : [b.switch]));

/** The releases the model has a profile for that have `bug`, oldest first. */
export const releasesWith = (bug: ReleaseBug): readonly string[] => RELEASES.map((r) => r.name).filter((r) => hasBug(r, bug));

/** `6.2` or `6.2–6.4`: releases, oldest first and consecutive, as text reads them. */
export function releaseSpan(releases: readonly string[]): string {
  const first = releases[0] ?? '';
  const last = releases.at(-1) ?? first;
  return first === last ? first : `${first}–${last}`;
}
