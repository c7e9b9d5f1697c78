/**
 * docs/kernel-versions.md, made from the change table and the releases: `npx tsx
 * src/kernel/write-doc.ts` writes it, and a test fails when the file differs.
 */
import { CHANGES, type Change } from './changes.ts';
import { rowsPerRelease } from './list.ts';
import { FIRST, NEWEST, RELEASES } from './releases.ts';
import { KERNEL_FORMS } from './version.ts';

const INTRO = `# Kernel versions

The user API changed from release to release: ops and flags appeared, structs
grew, errnos and the order of checks moved. The model follows one release at a
time, its **profile**: the rows of the table below that the release does not
have yet, consulted where the behaviour differs. There is one model; a profile
only answers a few questions at those places (is this op there, how large is
this struct, are these flag bits known, which of two behaviours, does this
device node exist).

## Choosing the release
- \`env.kernel\` in the trace header (see trace-format.md) names the release the
  trace was captured on; without it, the newest release the model knows,
  **${NEWEST}**. A top-level \`kernel\` is free text, kept and ignored.
- \`--kernel V\` on \`replay\` and \`audit\` overrides \`env.kernel\` for every
  file; on \`fuzz\` it is the release the runs follow, written as \`env.kernel\`
  into a counterexample's trace. \`--kernel list\` prints the releases and the
  rows each one brought.
- Forms: ${KERNEL_FORMS} (the ones in the table below). A stable release
  (\`6.4.12\`) counts as its base release, an \`-rc\` as its release. Reports
  spell releases \`6.4\`.
- A distribution's version (\`5.14.0-427.el9\`, \`6.8.0-45-generic\`) is read
  as its base release, with a warning on stderr: what the distribution
  backported is not modelled. A version newer than ${NEWEST} is judged as
  ${NEWEST}, with a warning.
- An \`env.kernel\` that is not a version (or not a string) gives a warning
  on stderr and the newest profile: the trace stays valid. A \`--kernel\` that
  is not one is a one-line error (exit status 2).

## What an older release answers
- **An op it does not have**: an iommufd ioctl reads \`size\` first (a NULL
  argument is EFAULT), then finds the slot of its number empty: ENOTTY
  (\`iommufd_fops_ioctl()\` returns -ENOIOCTLCMD). A selftest op goes through
  IOMMU_TEST_CMD's size rules, then \`iommufd_test()\` does not know it:
  EOPNOTSUPP. A VFIO device cdev ioctl: ENOTTY. The same holds for a raw
  \`IOCTL\` of that number.
- **A struct that grew since**: the release's own \`sizeof\` and minimum size
  apply. A smaller \`size\` than that minimum is EINVAL; non-zero bytes past the
  release's struct are E2BIG (a field of a newer kernel counts as such bytes);
  only the release's struct is written back.
- **Flag bits it does not know**: the errno the row gives, where the check was.
- **A VFIO device feature it does not have** (\`VFIO_DEVICE_FEATURE_DMA_BUF\`
  before 6.19): \`vfio_ioctl_device_feature()\` checks argsz and flags, then
  the PCI driver does not know the feature: ENOTTY.
- **Before ${FIRST}** there is no iommufd: OPEN of \`/dev/iommu\`, and of a
  \`/dev/vfio/vfio\` iommufd would serve, fails with ENOENT, and no VFIO device
  has a cdev. The releases before ${FIRST} listed are those a row of the legacy
  VFIO paths names, back to ${RELEASES[0]?.name}; each stands for itself and the
  releases up to the next one listed, and a version older than ${RELEASES[0]?.name}
  gets every row pending. The VFIO container, group, type1 and SPAPR TCE paths
  behave as ${FIRST}'s unless a row says otherwise. This
  is an approximation: only the VFIO changes the model can tell apart are rows;
  the SPAPR TCE paths are those of 4.2 (its v2 and pre-registration) and later.
- **A type1 container ioctl it does not have** (\`VFIO_IOMMU_DIRTY_PAGES\`
  before 5.8): \`vfio_iommu_type1_ioctl()\` does not know the command: ENOTTY.
  MAP_DMA and UNMAP_DMA flag bits it does not know: EINVAL, at the argsz check.
- A row without an effect ("documented") is a change the model does not tell
  apart: it answers as the newer kernel in every release.

## Sources
The kernel's history of \`drivers/iommu/iommufd/\`,
\`include/uapi/linux/iommufd.h\`, \`drivers/vfio/\` and
\`tools/testing/selftests/iommu/\`: the commits each merge window pulled (the
kernel.org push logs of torvalds/linux and jgg/iommufd) and their Fixes tags.
The table is data, \`src/kernel/changes.ts\`; this file is made from it
(\`npx tsx src/kernel/write-doc.ts\`), and a test fails when they differ.
`;

/** A table cell: no line break, and a pipe that does not end the cell. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const row = (c: Change): string =>
  `| ${c.release} | \`${c.commit}\` | ${c.kind} | ${cell(c.subject)} | ${cell(c.what)} | ${c.effect === null ? 'documented' : 'modelled'} |`;

export function kernelVersionsDoc(): string {
  const counts = rowsPerRelease();
  const modelled = CHANGES.filter((c) => c.effect !== null).length;
  return [
    INTRO,
    '## Releases',
    `${RELEASES.length} releases, ${CHANGES.length} rows (${modelled} modelled, ${CHANGES.length - modelled} documented).`,
    '',
    '| release | tag commit | rows |',
    '| --- | --- | --- |',
    ...RELEASES.map((r) => `| ${r.name} | \`${r.tag}\` | ${counts.get(r.name) ?? 0} |`),
    '',
    '## Changes',
    'Kinds: `struct` (a struct\'s size or fields), `op` and `flag` (one appeared), `errno` (an errno or the place of a check moved), `semantic` (what a call does).',
    '',
    '| release | commit | kind | subject | what changed | |',
    '| --- | --- | --- | --- | --- | --- |',
    ...CHANGES.map(row),
    '',
  ].join('\n');
}
