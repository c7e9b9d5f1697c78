/**
 * Whether the kernel can copy to or from user memory (`copy_to_user()`/`copy_from_user()`):
 * with `memory: "declared"` only mapped bytes exist; with `"any"` every address does.
 */
import { intersecting } from '../model/ranges.ts';
import type { Process, World } from '../model/world.ts';

const PROT_READ = 1n;
const PROT_WRITE = 2n;

function accessible(world: World, process: Process, addr: bigint, length: bigint, prot: bigint): boolean {
  if (length === 0n) return true;
  if (world.config.memory === 'any') return addr !== 0n;
  const last = addr + length - 1n;
  let next = addr;
  for (const m of intersecting(process.mm, addr, last)) {
    if (m.start > next || (m.prot & prot) !== prot) return false;
    next = m.last + 1n;
    if (next > last) return true;
  }
  return false;
}

export const userMemoryWritable = (world: World, process: Process, addr: bigint, length: bigint): boolean =>
  accessible(world, process, addr, length, PROT_WRITE);

export const userMemoryReadable = (world: World, process: Process, addr: bigint, length: bigint): boolean =>
  accessible(world, process, addr, length, PROT_READ);
