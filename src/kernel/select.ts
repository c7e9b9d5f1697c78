/**
 * The release a trace is judged as: its header's `env.kernel`, or the newest release without
 * one. A header value that does not read as a version leaves the trace valid: it is judged as
 * the newest release, with a warning.
 */
import { show } from '../../events/quote.ts';
import type { TraceHeader } from '../../events/types.ts';
import { NEWEST } from './releases.ts';
import { readKernel } from './version.ts';

export interface Selected {
  readonly release: string;
  /** What reading `env.kernel` warned of, for stderr. */
  readonly warning: string | null;
}

export function headerKernel(header: TraceHeader): Selected {
  const given = header.env.kernel;
  if (given === null) return { release: NEWEST, warning: null };
  if (typeof given !== 'string') return { release: NEWEST, warning: `env.kernel: ${show(given)} is not a string: judged as ${NEWEST}` };
  const read = readKernel(given);
  if ('error' in read) return { release: NEWEST, warning: `env.kernel: ${read.error}: judged as ${NEWEST}` };
  return { release: read.release, warning: read.warning === null ? null : `env.kernel: ${read.warning}` };
}
