/**
 * Format versions (trace-format.md, "Versions"). A header declares the version its writer used;
 * the reader knows every version up to the current one and reads each trace with all of them,
 * so a `"version": 1` trace that uses a 1.1 addition is read as 1.1.
 */
import { FieldError } from './field-error.ts';
import { show } from './quote.ts';

/** Every version this reader knows, oldest first, as the parsed header names them. */
export const VERSIONS = ['1', '1.1'] as const;

export type FormatVersion = (typeof VERSIONS)[number];

/** The version the writer writes. */
export const CURRENT_VERSION: FormatVersion = '1.1';

/**
 * The header's `version`: a JSON number or string. Writers write a string, since the number
 * 1.10 would read as 1.1.
 */
export function parseVersion(raw: unknown): FormatVersion {
  const text = typeof raw === 'number' ? String(raw) : raw;
  const known = VERSIONS.find((v) => v === text);
  if (known === undefined) {
    throw new FieldError('', `${show(raw)} is not a version this reader knows (${VERSIONS.join(', ')})`);
  }
  return known;
}
