/**
 * The bench's clocks. In-process figures are CPU time (every thread of this process, so the
 * garbage collector's too): other work on a shared machine then costs little, where it would
 * inflate wall time by whatever share of the cores it takes.
 */

/** CPU time used so far, in µs. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The CPU seconds `body` takes. */
export async function cpuSeconds(body: () => unknown): Promise<number> {
  const t0 = cpuMicros();
  await body();
  return (cpuMicros() - t0) / 1e6;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
