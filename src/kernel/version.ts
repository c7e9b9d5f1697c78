/**
 * Reading a kernel version as a trace header (`env.kernel`) or `--kernel` gives it: `6.4`,
 * `v6.4`, `6.4.12` (a stable release is its base release), `6.4-rc3`, or the commit of a release
 * tag the model knows. A distribution's version (`5.14.0-427.el9`, `6.8.0-45-generic`) is read as
 * its base release, with a warning: what the distribution backported is not modelled. A version
 * newer than the newest release the model knows is judged as that one, with a warning.
 */
import { clip } from '../../events/quote.ts';
import { NEWEST, RELEASES, compareReleases } from './releases.ts';

export type KernelReading = { readonly release: string; readonly warning: string | null } | { readonly error: string };

/** What a reader is told to write instead. */
export const KERNEL_FORMS = '6.4, v6.4, 6.4.12, 6.4-rc3, or the commit of a release tag';

const MAINLINE = /^v?([0-9]+)\.([0-9]+)(?:\.[0-9]+)?(?:-rc[0-9]+)?$/;
const DISTRIBUTION = /^v?([0-9]+)\.([0-9]+)(?:\.[0-9]+)?[-+~_.][!-~]*$/;
const COMMIT = /^[0-9a-f]{12,40}$/i;

/** `release` itself, or NEWEST with a warning when the model knows no release that new. */
function clamped(release: string, warning: string | null): KernelReading {
  if (compareReleases(release, NEWEST) <= 0) return { release, warning };
  return { release: NEWEST, warning: `${release} is newer than ${NEWEST}, the newest release the model knows: judged as ${NEWEST}` };
}

export function readKernel(text: string): KernelReading {
  const mainline = MAINLINE.exec(text);
  if (mainline !== null) return clamped(`${Number(mainline[1])}.${Number(mainline[2])}`, null);
  const distribution = DISTRIBUTION.exec(text);
  if (distribution !== null) {
    const base = `${Number(distribution[1])}.${Number(distribution[2])}`;
    return clamped(base, `${clip(text)} is read as ${base}: what the distribution backported is not modelled`);
  }
  if (COMMIT.test(text)) {
    const given = text.toLowerCase();
    const tagged = RELEASES.find((r) => given.startsWith(r.tag));
    if (tagged !== undefined) return { release: tagged.name, warning: null };
    return { error: `${clip(text)} is not the commit of a release tag the model knows (${RELEASES[0]?.name} to ${NEWEST})` };
  }
  return { error: `${clip(text)} is not a kernel version (${KERNEL_FORMS})` };
}
