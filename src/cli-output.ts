/**
 * The command's standard streams. A reader that goes away (`replay BIG | head -1`) ends the run
 * quietly with status 141, what a shell reports for a tool that SIGPIPE ended (git, grep);
 * any other failure to write the report (a full disk) is one line on stderr and status 2.
 */
import { writeSync } from 'node:fs';

/** 128 + SIGPIPE. */
export const EXIT_READER_GONE = 141;

/** One line on stderr and status 2: every error of the command ends this way. */
export function fail(message: string): never {
  try {
    writeSync(2, `iommufd-model: ${message}\n`);
  } catch {
    // stderr is gone too: the status is all that is left to tell.
  }
  process.exit(2);
}

function writeFailed(e: Error & { code?: unknown }): never {
  if (e.code === 'EPIPE') process.exit(EXIT_READER_GONE);
  fail(`cannot write output: ${e.message}`);
}

/** Takes over the streams' write errors, which Node would otherwise throw with a stack trace. */
export function guardOutput(): void {
  process.stdout.on('error', writeFailed);
  process.stderr.on('error', () => undefined);
}
