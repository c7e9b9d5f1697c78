/**
 * Kernel numbers, names and errnos: the spellings the format allows, the ranges of the C types,
 * and the tables the names come from.
 */
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  FieldError,
  NAME_FAMILIES,
  U64_MAX,
  errnoName,
  errnoNumber,
  isErrnoName,
  nameValue,
  parseEnum,
  parseFlags,
  parseKernelNumber,
} from '../../events/index.ts';

const problem = (run: () => unknown): string => {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(FieldError);
    return (e as FieldError).message;
  }
  throw new Error('nothing thrown');
};

describe('parseKernelNumber', () => {
  it('reads every spelling the format allows', () => {
    expect(parseKernelNumber(4096, 'u64')).toBe(4096n);
    expect(parseKernelNumber('4096', 'u64')).toBe(4096n);
    expect(parseKernelNumber('0x1000', 'u64')).toBe(4096n);
    expect(parseKernelNumber('0xABCdef', 'u32')).toBe(0xabcdefn);
    expect(parseKernelNumber('U64_MAX', 'u64')).toBe(U64_MAX);
    expect(parseKernelNumber('18446744073709551615', 'u64')).toBe(U64_MAX);
    expect(parseKernelNumber(Number.MAX_SAFE_INTEGER, 'u64')).toBe(2n ** 53n - 1n);
    expect(parseKernelNumber(-0, 'u32')).toBe(0n);
  });

  it('checks the range of each C type', () => {
    expect(parseKernelNumber(255, 'u8')).toBe(255n);
    expect(problem(() => parseKernelNumber(256, 'u8'))).toBe('256 is out of range for u8 (0 to 2^8 - 1)');
    expect(parseKernelNumber('0xffff', 'u16')).toBe(0xffffn);
    expect(problem(() => parseKernelNumber('0x10000', 'u16'))).toBe('"0x10000" is out of range for u16 (0 to 2^16 - 1)');
    expect(parseKernelNumber('0xffffffff', 'u32')).toBe(0xffffffffn);
    expect(problem(() => parseKernelNumber('0x100000000', 'u32'))).toBe('"0x100000000" is out of range for u32 (0 to 2^32 - 1)');
    expect(parseKernelNumber(-2147483648, 's32')).toBe(-2147483648n);
    expect(parseKernelNumber('2147483647', 's32')).toBe(2147483647n);
    expect(problem(() => parseKernelNumber(2147483648, 's32'))).toBe('2147483648 is out of range for s32 (-2^31 to 2^31 - 1)');
    expect(problem(() => parseKernelNumber('-2147483649', 's32'))).toBe('"-2147483649" is out of range for s32 (-2^31 to 2^31 - 1)');
    expect(parseKernelNumber('0xffffff', 'u8', 3)).toBe(0xffffffn);
    expect(problem(() => parseKernelNumber('0x1000000', 'u8', 3))).toBe('"0x1000000" is out of range for u8[3] (0 to 2^24 - 1)');
  });

  it('refuses what is not a kernel number', () => {
    expect(problem(() => parseKernelNumber(1.5, 'u64'))).toBe('1.5 is not an integer');
    expect(problem(() => parseKernelNumber(2 ** 53, 'u64'))).toBe('9007199254740992 is beyond 2^53 - 1: write it as a string');
    expect(problem(() => parseKernelNumber(-1, 'u64'))).toBe('-1 is out of range for u64 (0 to 2^64 - 1)');
    expect(problem(() => parseKernelNumber('-1', 'u64'))).toBe('"-1" is not a number');
    expect(problem(() => parseKernelNumber(Number.POSITIVE_INFINITY, 'u64'))).toBe('Infinity is out of range for u64 (0 to 2^64 - 1)');
    expect(problem(() => parseKernelNumber(Number.NEGATIVE_INFINITY, 's32'))).toBe('-Infinity is out of range for s32 (-2^31 to 2^31 - 1)');
    expect(problem(() => parseKernelNumber(2 ** 64, 'u64'))).toBe('18446744073709552000 is beyond 2^53 - 1: write it as a string');
    expect(problem(() => parseKernelNumber(2 ** 65, 'u64'))).toBe('36893488147419103000 is out of range for u64 (0 to 2^64 - 1)');
    expect(problem(() => parseKernelNumber(2 ** 53, 'u32'))).toBe('9007199254740992 is out of range for u32 (0 to 2^32 - 1)');
    expect(problem(() => parseKernelNumber(-(2 ** 53), 'u64'))).toBe('-9007199254740992 is out of range for u64 (0 to 2^64 - 1)');
    expect(problem(() => parseKernelNumber('1e3', 'u64'))).toBe('"1e3" is not a number');
    expect(problem(() => parseKernelNumber('0x', 'u64'))).toBe('"0x" is not a number');
    expect(problem(() => parseKernelNumber(' 1', 'u64'))).toBe('" 1" is not a number');
    expect(problem(() => parseKernelNumber('0X10', 'u64'))).toBe('"0X10" is not a number');
    expect(problem(() => parseKernelNumber(null, 'u64'))).toBe('null is not a number');
    expect(problem(() => parseKernelNumber([1], 'u64'))).toBe('[1] is not a number');
  });
});

describe('flags and enums', () => {
  it('ORs flag names, and takes numbers as they are', () => {
    expect(parseFlags(['FIXED_IOVA', 'WRITEABLE', 'READABLE'], 'u32', 'IOMMU_IOAS_MAP_')).toBe(7n);
    expect(parseFlags(['READ', 'READ'], 'u32', 'PROT_')).toBe(1n);
    expect(parseFlags('0x6', 'u32', 'IOMMU_IOAS_MAP_')).toBe(6n);
    expect(parseFlags(0x80, 'u32', 'IOMMU_IOAS_MAP_')).toBe(0x80n);
    expect(problem(() => parseFlags(['WRITEABLE', 'WRITABLE'], 'u32', 'IOMMU_IOAS_MAP_'))).toBe(
      '[1]: "WRITABLE" is not a flag of IOMMU_IOAS_MAP_',
    );
    expect(problem(() => parseFlags([4], 'u32', 'IOMMU_IOAS_MAP_'))).toBe('[0]: 4 is not a flag of IOMMU_IOAS_MAP_');
  });

  it('reads one enum name, or a number', () => {
    expect(parseEnum('RLIMIT_MODE', 'u32', 'IOMMU_OPTION_')).toBe(0n);
    expect(parseEnum('CLEAR', 'u16', 'IOMMU_VFIO_IOAS_')).toBe(2n);
    expect(parseEnum('SELFTEST', 'u32', 'IOMMU_VEVENTQ_TYPE_')).toBe(0xbeefbeefn);
    expect(parseEnum('0xdeadbeef', 'u32', 'IOMMU_VIOMMU_TYPE_')).toBe(0xdeadbeefn);
    expect(parseEnum(3, 'u32', 'IOMMU_OPTION_')).toBe(3n);
    expect(problem(() => parseEnum('SELFTEST', 'u16', 'IOMMU_HW_INFO_TYPE_'))).toBe('"SELFTEST" is out of range for u16 (0 to 2^16 - 1)');
    expect(problem(() => parseEnum(['GET'], 'u16', 'IOMMU_OPTION_OP_'))).toBe('["GET"] is not a number');
  });

  it('knows the families the format lists, with the uapi values', () => {
    expect(nameValue('IOMMU_IOAS_MAP_', 'FIXED_IOVA')).toBe(1n);
    expect(nameValue('IOMMU_HWPT_ALLOC_', 'FAULT_ID_VALID')).toBe(4n);
    expect(nameValue('IOMMU_HWPT_ALLOC_', 'PASID')).toBe(8n);
    expect(nameValue('IOMMU_HWPT_DATA_', 'SELFTEST')).toBe(0xdeadn);
    expect(nameValue('IOMMU_OPTION_', 'HUGE_PAGES')).toBe(1n);
    expect(nameValue('IOMMU_OPTION_OP_', 'GET')).toBe(1n);
    expect(nameValue('IOMMU_VFIO_IOAS_', 'SET')).toBe(1n);
    expect(nameValue('VFIO_DMA_MAP_FLAG_', 'VADDR')).toBe(4n);
    expect(nameValue('VFIO_DMA_UNMAP_FLAG_', 'ALL')).toBe(2n);
    expect(nameValue('MOCK_FLAGS_DEVICE_', 'NO_DIRTY')).toBe(1n);
    expect(nameValue('PROT_', 'EXEC')).toBe(4n);
    expect(nameValue('IOMMU_IOAS_MAP_', 'EXEC')).toBeUndefined();
    for (const [name, family] of NAME_FAMILIES) {
      expect(name).toMatch(/^[A-Z0-9_]+_$/);
      expect(family.size).toBeGreaterThan(0);
    }
  });
});

describe('errno', () => {
  it('agrees with the x86-64 numbers Node reports on Linux', () => {
    for (const [name, n] of Object.entries(constants.errno)) expect(errnoNumber(name), name).toBe(n);
  });

  it('maps names and numbers both ways, aliases to their canonical name', () => {
    expect(errnoNumber('EINVAL')).toBe(22);
    expect(errnoNumber('EOPNOTSUPP')).toBe(95);
    expect(errnoNumber('ENOTSUP')).toBe(95);
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(77)).toBe('EBADFD');
    expect(errnoName(41)).toBeUndefined();
    expect(isErrnoName('EMSGSIZE')).toBe(true);
    expect(isErrnoName('EADDRINUSE')).toBe(true);
    expect(isErrnoName('einval')).toBe(false);
    expect(isErrnoName('ENOTSUPP')).toBe(false);
  });
});
