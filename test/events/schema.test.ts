/**
 * The JSON Schema of the trace format (docs/trace-format.schema.json): generated from the
 * reader's tables, committed as generated, and in agreement with the reader. Validation goes
 * through ajv, a validator of its own, on the committed file.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TraceError, parseTraceText } from '../../events/index.ts';
import { traceJsonSchemaText } from '../../events/schema.ts';
import { isIgnorable } from '../../events/trace-line.ts';
import { conformanceTraces } from '../conformance/corpus.ts';
import { rawEvent, rawHeader } from './arbitraries.ts';
import { HEADER, lines, parseOne } from './helpers.ts';

const SCHEMA_FILE = resolve(import.meta.dirname, '../../docs/trace-format.schema.json');
const committed = readFileSync(SCHEMA_FILE, 'utf8');

const ajv = new Ajv2020({ strict: true, discriminator: true });
ajv.addSchema(JSON.parse(committed), 'trace');

function validator(ref: string): ValidateFunction {
  const validate = ajv.getSchema(ref);
  if (validate === undefined) throw new Error(`no ${ref} in the schema`);
  return validate;
}

const validateLine = validator('trace');
const validateHeader = validator('trace#/$defs/header');
const validateEvent = validator('trace#/$defs/event');

/** Why `validate` rejects `value`, or null when it accepts it. */
function problems(validate: ValidateFunction, value: unknown): string | null {
  return validate(value) ? null : ajv.errorsText(validate.errors);
}

/** The reader's one-line report for a trace of `header` and `events`, or null when it reads it. */
function readerProblem(header: unknown, ...events: unknown[]): string | null {
  try {
    parseTraceText(lines(...[header, ...events].map((line) => JSON.stringify(line))), 't.jsonl');
    return null;
  } catch (e) {
    if (e instanceof TraceError) return e.message;
    throw e;
  }
}

describe('docs/trace-format.schema.json', () => {
  it('is what the tables generate', () => {
    expect(committed, 'docs/trace-format.schema.json is out of date: run `npm run schema`').toBe(traceJsonSchemaText());
  });

  it('validates every line of the conformance corpus', () => {
    const failures: string[] = [];
    let checked = 0;
    for (const file of conformanceTraces()) {
      let validate = validateHeader;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((text, i) => {
          if (isIgnorable(text)) return;
          const problem = problems(validate, JSON.parse(text));
          if (problem !== null) failures.push(`${file}:${i + 1}: ${problem}`);
          validate = validateEvent;
          checked++;
        });
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(188_000);
  });

  it('accepts every line the reader reads, in every spelling the format allows', () => {
    fc.assert(
      fc.property(rawEvent, (event) => {
        parseOne(event);
        expect(problems(validateEvent, event)).toBeNull();
        expect(problems(validateLine, event)).toBeNull();
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(rawHeader, (header) => {
        expect(readerProblem(header)).toBeNull();
        expect(problems(validateHeader, header)).toBeNull();
        expect(problems(validateLine, header)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('accepts top-level keys of its own on the header, its env and events, as the reader does', () => {
    const header = { trace: 'iommufd', version: '1.1', env: { swap: 'off' }, source: { test: 'x' }, description: 'd' };
    const event = { op: 'OPEN', note: 'x', ts: 1.5, tid: [1], source: null };
    expect(readerProblem(header, event)).toBeNull();
    expect(problems(validateHeader, header)).toBeNull();
    expect(problems(validateEvent, event)).toBeNull();
  });

  it.each([
    ['an unknown op', { op: 'IOMMU_IOAS_MAP' }, ''],
    ['an op that is not a string', { op: 7 }, ''],
    ['no op', { seq: 1 }, ''],
    ['an unknown args key', { op: 'IOAS_MAP', args: { lenght: 1 } }, '/args'],
    ['an args key of another op', { op: 'OPEN', args: { flags: 2 } }, '/args'],
    ['an unknown member of a nested struct', { op: 'TEST_DEV_CHECK_CACHE', args: { check_dev_cache: { value: 1 } } }, '/args'],
    ['an unknown field of an inline array element', { op: 'IOAS_ALLOW_IOVAS', args: { allowed_iovas: [{ start: 0, end: 1 }] } }, '/args'],
    ['a boolean for a number', { op: 'IOAS_MAP', args: { ioas_id: true } }, '/args'],
    ['a u32 out of range', { op: 'IOAS_MAP', args: { ioas_id: 4294967296 } }, '/args'],
    ['a negative unsigned', { op: 'IOAS_MAP', args: { ioas_id: -1 } }, '/args'],
    ['a fraction', { op: 'IOAS_MAP', args: { length: 0.5 } }, '/args'],
    ['a JSON number beyond 2^53', { op: 'IOAS_MAP', args: { length: 2 ** 60 } }, '/args'],
    ['U64_MAX for a u32', { op: 'IOAS_MAP', args: { ioas_id: 'U64_MAX' } }, '/args'],
    ['a string that is no number', { op: 'IOAS_MAP', args: { length: '0xzz' } }, '/args'],
    ['a flag of another family', { op: 'IOAS_MAP', args: { flags: ['FIXED_IOVA', 'EXEC'] } }, '/args'],
    ['one flag name not in an array', { op: 'IOAS_MAP', args: { flags: 'READABLE' } }, '/args'],
    ['an unknown enum name', { op: 'OPTION', args: { option_id: 'HUGE' } }, '/args'],
    ['odd hex digits in __trailing', { op: 'DESTROY', args: { size: 9, __trailing: '0xfff' } }, '/args'],
    ['a number for a string', { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 3 } }, '/args'],
    ['a name not allowed', { op: 'SET_CAPS', args: { caps: ['CAP_NET_ADMIN'] } }, '/args'],
    ['null for a plain number', { op: 'VFIO_GET_API_VERSION', args: { arg: null } }, '/args'],
    ['a fraction in driver data', { op: 'HWPT_ALLOC', args: { data: { iotlb: 1.5 } } }, '/args'],
    ['an unknown errno', { op: 'OPEN', expect: { errno: 'ENOTREAL' } }, '/expect'],
    ['an errno number', { op: 'OPEN', expect: { errno: 22 } }, '/expect'],
    ['an unknown key in expect', { op: 'OPEN', expect: { ret: 0 } }, '/expect'],
    ['an input given as an output', { op: 'IOAS_MAP', expect: { out: { user_va: '0x1000' } } }, '/expect'],
    ['an output buffer that is not an array', { op: 'IOAS_IOVA_RANGES', expect: { out: { allowed_iovas: '0x1000' } } }, '/expect'],
    ['an inferred name that is no output', { op: 'IOAS_MAP', inferred: ['length'] }, '/inferred'],
    ['fail_nth 0', { op: 'OPEN', fail_nth: 0 }, '/fail_nth'],
    ['unsure not a boolean', { op: 'OPEN', unsure: 1 }, '/unsure'],
  ])('rejects %s, as the reader does', (_, event, path) => {
    expect(readerProblem(JSON.parse(HEADER), event)).toMatch(/^t\.jsonl:2: /);
    expect(validateEvent(event)).toBe(false);
    expect(validateEvent.errors?.map((e) => e.instancePath)).toContainEqual(expect.stringMatching(`^${path}`));
    expect(validateLine(event)).toBe(false);
  });

  it.each([
    ['no trace', { version: 1 }],
    ['another trace kind', { trace: 'vfio', version: 1 }],
    ['version 2', { trace: 'iommufd', version: 2 }],
    ['version "1.2"', { trace: 'iommufd', version: '1.2' }],
    ['version 1.5', { trace: 'iommufd', version: 1.5 }],
    ['version "x"', { trace: 'iommufd', version: 'x' }],
    ['no version', { trace: 'iommufd', env: {} }],
    ['an unknown process property', { trace: 'iommufd', version: 1, env: { processes: [{ pid: 1, name: 'x' }] } }],
    ['no process', { trace: 'iommufd', version: 1, env: { processes: [] } }],
    ['an unknown memory mode', { trace: 'iommufd', version: 1, env: { memory: 'some' } }],
    ['an unknown MMAP argument in mappings', { trace: 'iommufd', version: 1, env: { mappings: [{ size: 1 }] } }],
    ['a device without a name', { trace: 'iommufd', version: 1, env: { devices: [{ kind: 'mock' }] } }],
  ])('rejects a header with %s, as the reader does', (_, header) => {
    expect(readerProblem(header)).toMatch(/^t\.jsonl:1: header /);
    expect(validateHeader(header)).toBe(false);
  });
});

describe('versions', () => {
  it.each([1, '1', 1.1, '1.1'])('reads a trace declaring version %j', (version) => {
    const header = { trace: 'iommufd', version };
    expect(readerProblem(header, { op: 'OPEN' })).toBeNull();
    expect(problems(validateHeader, header)).toBeNull();
  });

  it('reads the events of a version 1 trace as those of a 1.1 trace', () => {
    const underVersion = (version: unknown, event: object) =>
      parseTraceText(lines(JSON.stringify({ trace: 'iommufd', version }), JSON.stringify(event))).events;
    fc.assert(
      fc.property(rawEvent, (event) => {
        expect(underVersion(1, event)).toEqual(underVersion('1.1', event));
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects a version it does not know at the header line, whatever the lines before it', () => {
    expect(readerProblem({ trace: 'iommufd', version: 2 }, { op: 'OPEN' })).toBe(
      't.jsonl:1: header version: 2 is not a version this reader knows (1, 1.1)',
    );
    expect(() => parseTraceText(lines('# a capture', '', '{"trace":"iommufd","version":"1.2"}'), 'c.jsonl')).toThrow(
      new TraceError('c.jsonl', 3, 'header version: "1.2" is not a version this reader knows (1, 1.1)'),
    );
  });
});
