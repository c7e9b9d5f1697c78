/**
 * A kernel profile: the rows of the change table (src/kernel/changes.ts) a release does not
 * have yet, gathered into what the model consults where behaviour differs. The model is one;
 * a profile only answers a few questions at those places (an op absent, a struct's size, flag
 * bits not yet known, an older behaviour, a device node missing). The newest profile has no
 * pending row, so every answer is the newest kernel's.
 */
import type { Errno } from '../../events/errno.ts';
import { OPS, type OpName } from '../../events/ops.ts';
import type { StructSpec } from '../../events/spec-types.ts';
import { type Behaviour, CHANGES, type Change, type Node } from './changes.ts';
import { NEWEST, compareReleases } from './releases.ts';

export interface KernelProfile {
  /** The release, as reports spell it (`6.4`; `5.14` for a kernel before iommufd). */
  readonly release: string;
  /** Ops the release does not have, with the errno they answer. */
  readonly absent: ReadonlyMap<OpName, Errno>;
  /** The release's own layout of each struct that grew since, by the format's struct name. */
  readonly structs: ReadonlyMap<string, StructSpec>;
  /** Flag bits the release does not accept yet, per op. */
  readonly pendingFlags: ReadonlyMap<OpName, bigint>;
  /** Older behaviours the release still has. */
  readonly older: ReadonlySet<Behaviour>;
  /** Device nodes the release does not have. */
  readonly missingNodes: ReadonlySet<Node>;
}

/** The rows release `release` does not have, oldest first. */
export const pendingRows = (release: string): Change[] => CHANGES.filter((c) => compareReleases(c.release, release) > 0);

/** `iommu_test_cmd.add_reserved` belongs to `iommu_test_cmd`: the selftest's union members share its header and size. */
const isLayoutOf = (spec: StructSpec, struct: string): boolean => spec.name === struct || spec.name.startsWith(`${struct}.`);

const STRUCTS: readonly StructSpec[] = [...OPS.values()].flatMap((s) => (s.layout?.kind === 'struct' ? [s.layout.struct] : []));

function build(release: string): KernelProfile {
  const absent = new Map<OpName, Errno>();
  const structs = new Map<string, StructSpec>();
  const pendingFlags = new Map<OpName, bigint>();
  const older = new Set<Behaviour>();
  const missingNodes = new Set<Node>();
  for (const { effect } of pendingRows(release)) {
    if (effect === null) continue;
    switch (effect.kind) {
      case 'op':
        absent.set(effect.op, effect.errno);
        break;
      case 'struct':
        // The oldest pending row of a struct holds the size it had in this release.
        for (const spec of STRUCTS) {
          if (isLayoutOf(spec, effect.struct) && !structs.has(spec.name)) {
            structs.set(spec.name, { ...spec, size: effect.size, minSize: effect.minSize });
          }
        }
        break;
      case 'flags':
        pendingFlags.set(effect.op, (pendingFlags.get(effect.op) ?? 0n) | effect.bits);
        break;
      case 'behaviour':
        older.add(effect.was);
        break;
      case 'node':
        missingNodes.add(effect.node);
        break;
    }
  }
  return { release, absent, structs, pendingFlags, older, missingNodes };
}

const built = new Map<string, KernelProfile>();

/** The profile of `release` (a `major.minor` at most NEWEST), built once. */
export function profileOf(release: string): KernelProfile {
  if (compareReleases(release, NEWEST) > 0) throw new Error(`[iommufd-model] no profile newer than ${NEWEST}: ${release}`);
  let profile = built.get(release);
  if (profile === undefined) {
    profile = build(release);
    built.set(release, profile);
  }
  return profile;
}

export const NEWEST_PROFILE: KernelProfile = profileOf(NEWEST);

/** The errno an op the release does not have answers, if it does not have it. */
export const absentOp = (profile: KernelProfile, op: OpName): Errno | undefined => profile.absent.get(op);

/** The release's layout of `struct` (its size and minimum size then). */
export const structIn = (profile: KernelProfile, struct: StructSpec): StructSpec => profile.structs.get(struct.name) ?? struct;

/** Of the flag bits `valid` that the newest kernel accepts in `op`, those the release accepts. */
export const acceptedFlags = (profile: KernelProfile, op: OpName, valid: bigint): bigint => valid & ~(profile.pendingFlags.get(op) ?? 0n);

/** Whether the release still behaves the older way `behaviour` names. */
export const hasOlder = (profile: KernelProfile, behaviour: Behaviour): boolean => profile.older.has(behaviour);

/** Whether the release has device node `node`. */
export const hasNode = (profile: KernelProfile, node: Node): boolean => !profile.missingNodes.has(node);
