/**
 * docs/release-bugs.md, made from the table of release bugs: `npx tsx
 * src/kernel/write-bugs-doc.ts` writes it, and a test fails when the file differs.
 */
import { RELEASE_BUGS, type ReleaseBug, releaseSpan, releasesWith } from './release-bugs.ts';
import { FIRST } from './releases.ts';

const INTRO = `# Bugs of a release

A release the model follows (see kernel-versions.md) answers as that release
did, bugs included. The table below lists the bugs of released kernels the model
knows, each with the mainline commit that fixed it and the releases that have it
(from the one that brought it up to the one before the fix). The table is data,
\`src/kernel/release-bugs.ts\`; this file is made from it (\`npx tsx
src/kernel/write-bugs-doc.ts\`), and a test fails when they differ.

## What a bug does to a replay
- **A bug user space could see** (an overflow accepted, a wrong errno, a charge
  never undone) is re-created by a switch of the model, the one \`--bugs\` also
  names (column "switch"). The profile of a release that has the bug turns the
  switch on: a trace of that release replays as the release answered, and the
  newest release has none on. \`--bugs\` adds its switches to the profile's.
- **An invariant such a bug breaks** is a kernel quirk of that release under
  \`--invariants\` (and in \`fuzz --kernel\`), named after the bug, not a
  violation: the step rerun with the bug's switch off does not break it. A
  switch \`--bugs\` turned on is never the release's: what it breaks stays a
  violation.
- **A bug that was a crash or a WARN** (column "crash") has no answer to give:
  replay recognises the event that set it off and reports it as a **finding**,
  in \`findings\` of the \`--json\` report (\`{line, seq, op, bug, fixed_by,
  releases}\`, \`releases\` the names of the releases that have the bug, oldest
  first) and on a line of its own in the text report. A finding is neither ok
  nor a divergence, and never changes the exit status. \`--max-findings\` caps
  the findings listed per file, like the violations and quirks; the rest are
  counted (\`findingsOmitted\`), and \`totals.findings\` counts them all.
- A release candidate counts as its release (\`6.3-rc2\` is 6.3), so a capture
  of an -rc before the fix is judged as the release, which has it fixed: give
  \`--kernel\` the release before to see the finding.
- A trigger reads one step: a WARN that the kernel gave at a later event than
  the one that set it off is reported at the one that set it off (the row says
  so).

## Not in the table
- The SPAPR TCE bugs the model's switches re-create (\`spapr-current-mm\`,
  \`spapr-release-keeps-prereg\`, \`spapr-register-twice\`) were fixed by
  bc82d122ae4a and 4b6fad7097f8, years before ${FIRST}: no profiled release has
  them.
- b4ff830eca09 (iommufd: Do not add the same hwpt to the ioas->hwpt_list twice,
  in 6.3): ${FIRST} added a HWPT to its IOAS's list again when a device was
  attached to it by id, which ${FIRST} offered no user API for (its own commit
  says the selftests could not reach it). The model's \`domain-added-twice\`
  switch is a mutant, not that release.
- cf7c2789822d (iommufd: Fix protection fault in iommufd_test_syz_conv_iova, in
  6.8) needs two threads racing; a trace is one order of events.
- test/captures/syz.xupengfe-230614-iopt_remove_access.* and
  -230801-iommu_device_unlink.*: WARNs of development trees (the access
  replace and the mock IOMMU driver that 6.6 brought); no release is known to
  have shipped them, so they report no finding.
`;

/** A table cell: no line break, and a pipe that does not end the cell. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const row = (b: ReleaseBug): string =>
  `| ${b.name} | ${releaseSpan(releasesWith(b))} | ${b.fixedIn} | \`${b.fixedBy}\` ${cell(b.subject)} | ${b.switch === undefined ? '' : `\`${b.switch}\``} | ${b.crash === undefined ? '' : `\`${b.crash.report}\``} | ${cell(b.what)} |`;

export function releaseBugsDoc(): string {
  return [
    INTRO,
    '## Bugs',
    `${RELEASE_BUGS.length} bugs, ${RELEASE_BUGS.filter((b) => b.switch !== undefined).length} with a switch, ${RELEASE_BUGS.filter((b) => b.crash !== undefined).length} with a crash.`,
    '',
    '| bug | releases | fixed in | fixed by | switch | crash | what |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...RELEASE_BUGS.map(row),
    '',
  ].join('\n');
}
