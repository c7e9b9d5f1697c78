/**
 * Format 1.1 keys for imported events: `source_line`, `unknown_args` (arguments the capture does
 * not record) and `args_one_of` (arguments it does not record, with the values they may have
 * had); read, checked and written back.
 */
import { describe, expect, it } from 'vitest';
import { formatEvent, parseTraceText } from '../../events/index.ts';
import { HEADER, lines, parseOne } from './helpers.ts';

const rewrite = (raw: object): unknown => JSON.parse(formatEvent(parseOne(raw)));

/** The one-line error of a trace whose only event is `raw`. */
const errorOf = (raw: object): string => {
  try {
    parseTraceText(lines(HEADER, JSON.stringify(raw)), 't.jsonl');
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

describe('source_line', () => {
  it('is read as the capture line and written back', () => {
    expect(parseOne({ op: 'IOAS_ALLOC', source_line: 9 }).sourceLine).toBe(9);
    expect(rewrite({ op: 'IOAS_ALLOC', source_line: '0x10' })).toEqual({ op: 'IOAS_ALLOC', source_line: 16 });
  });
  it('counts from 1', () => {
    expect(errorOf({ op: 'IOAS_ALLOC', source_line: 0 })).toBe('t.jsonl:2: IOAS_ALLOC source_line: 0 is out of range for source_line (1 to 2^53 - 1)');
  });
});

describe('unknown_args', () => {
  it('true: no argument recorded; args then give none', () => {
    const event = parseOne({ op: 'VFIO_IOMMU_MAP_DMA', unknown_args: true, expect: {} });
    expect(event.unknownArgs).toBe(true);
    expect(rewrite({ op: 'VFIO_IOMMU_MAP_DMA', unknown_args: true, expect: {} })).toEqual({ op: 'VFIO_IOMMU_MAP_DMA', unknown_args: true, expect: {} });
    expect(errorOf({ op: 'VFIO_IOMMU_MAP_DMA', unknown_args: true, args: { iova: 0 } })).toBe(
      't.jsonl:2: VFIO_IOMMU_MAP_DMA unknown_args: true (no argument recorded), but args or args_one_of give some',
    );
  });
  it('a list: the arguments not recorded, each an argument of the op, none given in args', () => {
    expect(rewrite({ op: 'GET_HW_INFO', args: { dev_id: 1 }, unknown_args: ['data_len', 'data_uptr'] })).toEqual({
      op: 'GET_HW_INFO',
      args: { dev_id: 1 },
      unknown_args: ['data_len', 'data_uptr'],
    });
    expect(errorOf({ op: 'GET_HW_INFO', unknown_args: ['nope'] })).toBe('t.jsonl:2: GET_HW_INFO unknown_args[0]: "nope" is not an argument of GET_HW_INFO');
    expect(errorOf({ op: 'GET_HW_INFO', unknown_args: ['__trailing'] })).toBe('t.jsonl:2: GET_HW_INFO unknown_args[0]: "__trailing" is not an argument of GET_HW_INFO');
    expect(errorOf({ op: 'GET_HW_INFO', args: { dev_id: 1 }, unknown_args: ['dev_id'] })).toBe('t.jsonl:2: GET_HW_INFO unknown_args: "dev_id" is also given in args');
    expect(errorOf({ op: 'GET_HW_INFO', unknown_args: ['dev_id', 'dev_id'] })).toBe('t.jsonl:2: GET_HW_INFO unknown_args[1]: "dev_id" is listed twice');
    expect(errorOf({ op: 'GET_HW_INFO', unknown_args: [] })).toBe('t.jsonl:2: GET_HW_INFO unknown_args: [] is not true or a non-empty list of argument names');
  });
});

describe('args_one_of', () => {
  it('each value is read as the argument is, and written back the same way', () => {
    const raw = { op: 'VFIO_IOMMU_MAP_DMA', args: { iova: '0x1000', size: '0x1000' }, args_one_of: { flags: [['READ', 'WRITE'], ['READ']] } };
    expect(parseOne(raw).argsOneOf).toEqual({ flags: [3n, 1n] });
    expect(rewrite(raw)).toEqual({ op: 'VFIO_IOMMU_MAP_DMA', args: { iova: '0x1000', size: '0x1000' }, args_one_of: { flags: [3, 1] } });
  });
  it('a value the argument does not take is malformed', () => {
    expect(errorOf({ op: 'VFIO_IOMMU_MAP_DMA', args_one_of: { flags: [['READ'], ['BOGUS']] } })).toBe('t.jsonl:2: VFIO_IOMMU_MAP_DMA args_one_of.flags[1]: "BOGUS" is not a flag of VFIO_DMA_MAP_FLAG_');
  });
  it('no argument twice: not in args, not in unknown_args; at most 64 combinations', () => {
    expect(errorOf({ op: 'VFIO_IOMMU_MAP_DMA', args: { flags: 1 }, args_one_of: { flags: [1, 3] } })).toBe('t.jsonl:2: VFIO_IOMMU_MAP_DMA args_one_of: "flags" is also given in args');
    expect(errorOf({ op: 'VFIO_IOMMU_MAP_DMA', unknown_args: ['flags'], args_one_of: { flags: [1, 3] } })).toBe('t.jsonl:2: VFIO_IOMMU_MAP_DMA unknown_args: "flags" is also given in args_one_of');
    const many = Array.from({ length: 9 }, (_, i) => i);
    expect(errorOf({ op: 'VFIO_IOMMU_MAP_DMA', args_one_of: { flags: many, iova: many } })).toBe('t.jsonl:2: VFIO_IOMMU_MAP_DMA args_one_of: 81 combinations, more than 64');
    expect(errorOf({ op: 'VFIO_IOMMU_MAP_DMA', args_one_of: { flags: [] } })).toBe('t.jsonl:2: VFIO_IOMMU_MAP_DMA args_one_of.flags: [] is not a non-empty list of values');
  });
});
