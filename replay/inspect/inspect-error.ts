/**
 * Bad input to `inspect`, `diff` or `bisect`: a line that is no event of the trace or lies past
 * its end, an object the state does not hold, a malformed selector or predicate. The command
 * prints the message, one line, and exits with 2; the interactive mode prints it and goes on.
 */
export class InspectError extends Error {
  override readonly name = 'InspectError';
}
