/**
 * The Linux releases the model has a profile for, each with the commit its tag names ("Linux
 * 6.x"), oldest first: before iommufd (v6.2), the releases a row of the legacy VFIO paths
 * names, each standing for itself and the releases up to the next one listed; from v6.2, every
 * release. A version is compared as `major.minor`: one older than the first release gets the
 * profile of every row pending, one newer than the last the newest profile.
 */

export interface Release {
  /** `6.4`, as reports spell it. */
  readonly name: string;
  /** The first 12 hex digits of the commit the release's tag names. */
  readonly tag: string;
}

export const RELEASES: readonly Release[] = [
  { name: '4.2', tag: '64291f7db5bd' },
  { name: '5.1', tag: 'e93c9c99a629' },
  { name: '5.4', tag: '219d54332a09' },
  { name: '5.8', tag: 'bcf876870b95' },
  { name: '5.10', tag: '2c85ebc57b3e' },
  { name: '5.12', tag: '9f4ad9e425a1' },
  { name: '6.2', tag: 'c9c3395d5e3d' },
  { name: '6.3', tag: '457391b03803' },
  { name: '6.4', tag: '6995e2de6891' },
  { name: '6.5', tag: '2dde18cd1d8f' },
  { name: '6.6', tag: 'ffc253263a13' },
  { name: '6.7', tag: '0dd3ee311255' },
  { name: '6.8', tag: 'e8f897f4afef' },
  { name: '6.9', tag: 'a38297e3fb01' },
  { name: '6.10', tag: '0c3836482481' },
  { name: '6.11', tag: '98f7e32f20d2' },
  { name: '6.12', tag: 'adc218676eef' },
  { name: '6.13', tag: 'ffd294d346d1' },
  { name: '6.14', tag: '38fec10eb60d' },
  { name: '6.15', tag: '0ff41df1cb26' },
  { name: '6.16', tag: '038d61fd6422' },
  { name: '6.17', tag: 'e5f0a698b34e' },
  { name: '6.18', tag: '7d0a66e4bb90' },
  { name: '6.19', tag: '05f7e89ab973' },
];

/** The release iommufd (/dev/iommu) first shipped in. */
export const FIRST = '6.2';

/** The newest release the model follows: a trace without a kernel is judged as this one. */
export const NEWEST = '6.19';

/** `[major, minor]` of a `major.minor` name. */
function parts(name: string): readonly [number, number] {
  const [major, minor] = name.split('.').map(Number);
  if (major === undefined || minor === undefined || !Number.isInteger(major) || !Number.isInteger(minor)) {
    throw new Error(`[iommufd-model] ${name} is not a major.minor release`);
  }
  return [major, minor];
}

/** Negative when release `a` came before `b`, 0 when they are the same, positive after. */
export function compareReleases(a: string, b: string): number {
  const [am, an] = parts(a);
  const [bm, bn] = parts(b);
  return am !== bm ? am - bm : an - bn;
}
