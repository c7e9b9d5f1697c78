/**
 * Conformance traces the kernel source proves wrong: the model follows the kernel, so these
 * are not replayed. Each entry names the trace, why it is wrong, and the source line that
 * proves it.
 */
export interface Skipped {
  readonly reason: string;
  readonly source: string;
}

export const SKIPPED: ReadonlyMap<string, Skipped> = new Map<string, Skipped>([]);
