/**
 * `inspect FILE` without `--at`: a session over the trace's checkpoints, one command a line,
 * from a terminal (with a prompt) or from any other stdin (a script, a test):
 *
 *   at N | at seq:S   go to the event on line N (the header: before the first event) and show the state
 *   next | prev       go to the next or previous event and show the state
 *   find PREDICATE    go to the first event after this one where the predicate holds (bisect's)
 *   diff A B          what changed from line A to line B
 *   select S | select show only a context, an object or an IOVA window from now on, or all again
 *   show              show the state here again
 *   help, quit
 *
 * A bad command is one line on stderr and the session goes on; the exit status is then 2.
 */
import { createInterface } from 'node:readline';
import { clip } from '../../events/quote.ts';
import { findAfter } from './bisect.ts';
import { diffOn, formatDiff } from './diff-command.ts';
import { eventRef, inspectDocument, ordinalOf, parseAt } from './document.ts';
import { InspectError } from './inspect-error.ts';
import { parsePredicate, witness } from './predicate.ts';
import { type Selector, parseSelector } from './select.ts';
import { eventText, formatInspect } from './text-tree.ts';
import { type Position, Timeline, type TimelineOptions } from './timeline.ts';

const HELP = `commands:
  at N | at seq:S   go to the event on line N (the header: before the first event)
  next | prev       go to the next or the previous event
  find PREDICATE    go to the first later event after which PREDICATE holds (as bisect --until)
  diff A B          what changed from the event on line A to the one on line B
  select S          show only a context (PID:FD), an object ([PID:FD/]ID) or an IOVA window (ID@FIRST..LAST); select alone: everything
  show              show the state here again
  quit`;

export interface SessionIo {
  readonly input: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly output: NodeJS.WritableStream;
  /** A bad command's one line. */
  readonly error: (line: string) => void;
}

export class Session {
  private here: Position | null = null;
  private selector: { readonly text: string; readonly selector: Selector } | null = null;
  /** Whether a command failed: the exit status says so at the end. */
  failed = false;

  constructor(
    private readonly timeline: Timeline,
    private readonly json: boolean,
    private readonly say: (text: string) => void,
  ) {}

  private async position(): Promise<Position> {
    this.here ??= await this.timeline.at(0);
    return this.here;
  }

  private show(p: Position): void {
    const doc = inspectDocument(this.timeline.name, p, this.selector);
    this.say(this.json ? JSON.stringify(doc) : formatInspect(doc));
  }

  private async go(ordinal: number): Promise<void> {
    this.here = await this.timeline.at(ordinal);
    this.show(this.here);
  }

  /** Runs one command line; false after `quit`. */
  async run(line: string): Promise<boolean> {
    const text = line.trim();
    const space = text.search(/\s/);
    const [command, rest] = space < 0 ? [text, ''] : [text.slice(0, space), text.slice(space + 1).trim()];
    const none = (): void => {
      if (rest !== '') throw new InspectError(`${command} takes no argument`);
    };
    switch (command) {
      case '':
        return true;
      case 'quit':
      case 'exit':
        return false;
      case 'help':
        this.say(HELP);
        return true;
      case 'at':
        await this.go(await ordinalOf(this.timeline, parseAt(rest)));
        return true;
      case 'next': {
        none();
        const ordinal = (await this.position()).ordinal + 1;
        while (this.timeline.reached.ordinal < ordinal && (await this.timeline.advance()));
        if (ordinal > this.timeline.reached.ordinal) throw new InspectError(`${clip(this.timeline.name, Infinity)}: no event after line ${(await this.position()).line}`);
        await this.go(ordinal);
        return true;
      }
      case 'prev': {
        none();
        const here = await this.position();
        if (here.ordinal === 0) throw new InspectError('before the first event: there is no previous one');
        await this.go(here.ordinal - 1);
        return true;
      }
      case 'find':
        await this.find(rest);
        return true;
      case 'diff': {
        const [a, b, more] = rest.split(/\s+/);
        if (a === undefined || a === '' || b === undefined || more !== undefined) throw new InspectError('diff takes two positions: diff A B');
        const doc = await diffOn(this.timeline, parseAt(a), parseAt(b));
        this.say(this.json ? JSON.stringify(doc) : formatDiff(doc));
        return true;
      }
      case 'select':
        this.selector = rest === '' ? null : { text: rest, selector: parseSelector(rest) };
        if (this.here !== null) this.show(this.here);
        return true;
      case 'show':
        none();
        this.show(await this.position());
        return true;
      default:
        throw new InspectError(`${JSON.stringify(clip(command))} is no command (help lists them)`);
    }
  }

  private async find(text: string): Promise<void> {
    const predicate = parsePredicate(text);
    const from = await this.position();
    const { found, scanned } = await findAfter(this.timeline, predicate, from.ordinal);
    if (found === null) {
      const none = { find: text, found: null, scanned };
      this.say(this.json ? JSON.stringify(none) : `${clip(text, Infinity)}: holds after no event past line ${from.line} (${scanned} events)`);
      return;
    }
    this.here = found;
    const why = witness(predicate, { world: found.world, violations: this.timeline.violationsAt(found.line) });
    if (this.json) this.say(JSON.stringify({ find: text, found: eventRef(found), witness: why, scanned }));
    else this.say([`${clip(text, Infinity)}: first holds ${eventText(eventRef(found))}`, ...why.map((w) => `  ${w}`)].join('\n'));
    this.show(found);
  }
}

/** Runs a session over `file` on `io`; the exit status: 2 when a command failed, else 0. */
export async function interactive(file: string, options: TimelineOptions & { readonly json: boolean }, io: SessionIo): Promise<number> {
  // `find invariant` reads what the first pass found: it checks the invariants as it goes.
  const timeline = await Timeline.open(file, { ...options, invariants: true });
  const terminal = io.input.isTTY === true;
  const session = new Session(timeline, options.json, (text) => io.output.write(`${text}\n`));
  const lines = createInterface({ input: io.input, ...(terminal ? { output: io.output, terminal: true } : {}) });
  try {
    if (terminal) {
      io.output.write(`${clip(timeline.name, Infinity)}: ${eventText(eventRef(timeline.reached))}; help lists the commands\n`);
      lines.setPrompt('inspect> ');
      lines.prompt();
    }
    for await (const line of lines) {
      try {
        if (!(await session.run(line))) break;
      } catch (e) {
        if (!(e instanceof InspectError)) throw e;
        session.failed = true;
        io.error(e.message);
      }
      if (terminal) lines.prompt();
    }
  } finally {
    lines.close();
    await timeline.close();
  }
  return session.failed ? 2 : 0;
}
