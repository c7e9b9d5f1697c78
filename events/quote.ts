/**
 * Input quoted in a message. A trace is hostile input: a value or key may be a megabyte long,
 * or hold a newline that would split a one-line report, or a bidi control that would reorder
 * it on screen. Whatever a message quotes goes through `clip`, which escapes such characters as
 * `\uXXXX` and cuts the text short.
 */

/** About one line of a terminal, with the rest of the message beside it. */
export const MAX_QUOTED = 80;

const CUT = '...';

/**
 * Characters a report must not print as they are: C0 and C1 controls (line breaks among them),
 * U+2028 and U+2029, the bidi controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069),
 * the byte order mark, and surrogates that are not half of a pair.
 */
function unsafe(c: number): boolean {
  return (
    c < 0x20 ||
    (c >= 0x7f && c <= 0x9f) ||
    c === 0x61c ||
    c === 0x200e ||
    c === 0x200f ||
    (c >= 0x2028 && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0xfeff ||
    (c >= 0xd800 && c <= 0xdfff)
  );
}

/**
 * `text` with every unsafe character escaped, cut to at most `max` characters (`...` marking the
 * cut) without splitting an escape or a surrogate pair. Text that is already safe and short
 * comes back as it is, so clipping twice is clipping once.
 */
export function clip(text: string, max = MAX_QUOTED): string {
  let out = '';
  // The longest prefix of `out` that leaves room for the marker.
  let fits = '';
  for (let i = 0; i < text.length; ) {
    // A whole pair, or a lone surrogate as itself.
    const c = text.codePointAt(i) as number;
    const width = c > 0xffff ? 2 : 1;
    const piece = unsafe(c) ? `\\u${c.toString(16).padStart(4, '0')}` : text.slice(i, i + width);
    if (out.length + piece.length > max) return `${fits}${CUT}`;
    out += piece;
    if (out.length <= max - CUT.length) fits = out;
    i += width;
  }
  return out;
}

/**
 * A prefix of `value`'s JSON text: the whole text, or one longer than `room` characters. It
 * never builds more than that, whatever the size of `value`; each level of nesting adds a
 * character, so it never recurses deeper than `room` either.
 */
function sketch(value: unknown, room: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > room ? value.slice(0, room + 1) : value);
    case 'number':
      // JSON.parse makes a number past the double range infinite; JSON.stringify would say null.
      return Number.isFinite(value) ? JSON.stringify(value) : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length && text.length <= room; i++) {
          text += `${i > 0 ? ',' : ''}${sketch(value[i], room - text.length)}`;
        }
        return text.length > room ? text : `${text}]`;
      }
      let text = '{';
      const record = value as Readonly<Record<string, unknown>>;
      for (const key in record) {
        if (text.length > room) break;
        text += `${text.length > 1 ? ',' : ''}${sketch(key, room - text.length)}:`;
        text += sketch(record[key], room - text.length);
      }
      return text.length > room ? text : `${text}}`;
    }
    default:
      return String(value);
  }
}

/** A value as the trace wrote it (its JSON), escaped and cut short for a one-line message. */
export const show = (value: unknown): string => clip(sketch(value, MAX_QUOTED));
