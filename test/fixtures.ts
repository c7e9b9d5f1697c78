/**
 * Trace headers the tests build on. A header that tests the header itself (versions, malformed
 * headers, every key spelled out) stays written in its test.
 */

/** A version 1 header with `env` (every env key left out takes the format's default) and `extra` top-level keys. */
export const traceHeader = <E extends object, X extends object = object>(env: E, extra?: X) => ({
  trace: 'iommufd',
  version: 1,
  env,
  ...extra,
});

/** The header line of a trace that takes every default. */
export const DEFAULT_HEADER_LINE = JSON.stringify(traceHeader({}));
