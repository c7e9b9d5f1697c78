/**
 * A capture the importers cannot turn into a trace: a file in none of the formats, a kernel-side
 * log with no QEMU log to join it to, an unreadable line under `--strict`, a `--header` that is
 * not a header. The command prints its message, one line, and exits with 2.
 */
export class ImportError extends Error {
  override readonly name = 'ImportError';
}
