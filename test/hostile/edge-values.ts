/**
 * The values tried at each place: null, empty, the minimum and maximum of every width and a step
 * past them, the same written every way the number syntax allows and a few it does not, the
 * wrong type, and text a report must not print as it is. A place adds its own (its flag and enum
 * names, its strings) to these.
 */
import { Raw, type Json } from './json-text.ts';
import type { Hint } from './places.ts';

const GENERIC: readonly Json[] = [
  null,
  '',
  [],
  {},
  0,
  -1,
  '-1',
  '0',
  '0x0',
  1,
  'U64_MAX',
  '0xffffffffffffffff',
  '18446744073709551615',
  '18446744073709551616',
  '0x10000000000000000',
  `0x${'f'.repeat(40)}`,
  new Raw('18446744073709551615'),
  new Raw('9007199254740993'),
  '9007199254740993',
  9007199254740991,
  2147483647,
  2147483648,
  -2147483648,
  -2147483649,
  4294967295,
  4294967296,
  '0xffffffff',
  '0x100000000',
  true,
  false,
  'x',
  1.5,
  new Raw('1e400'),
  new Raw('-1e400'),
  new Raw('1e-400'),
  new Raw('-0'),
  new Raw('1E2'),
  new Raw('1.0'),
  '0x',
  '0X10',
  ' 1',
  '1 ',
  '+1',
  '01',
  '-0',
  '0x-1',
  '1e3',
  'Infinity',
  [1],
  [null],
  { a: 1 },
  [[]],
  '\u0000',
  '\ud800',
  '\u202e\n',
  'x'.repeat(300),
];

/** Addresses and lengths at the edges of the address space and of the memory a VM has. */
export const BIG: readonly string[] = [
  '0x1000',
  '0x200000',
  '0x40000000',
  '0x10000000000',
  '0x7f0000000000',
  '0x7fffffffffff',
  '0x800000000000',
  '0x8000000000000000',
  '0xfffffffffffff000',
  '0xffffffffffffffff',
];

function ownValues(hint: Hint): Json[] {
  const names = hint.names ?? [];
  const first = names[0] ?? 'X';
  switch (hint.kind) {
    case 'int': {
      const bits = hint.bits ?? 64;
      const max = bits === 53 ? Number.MAX_SAFE_INTEGER : `0x${((1n << BigInt(bits)) - 1n).toString(16)}`;
      return [max, `0x${(1n << BigInt(bits)).toString(16)}`, ...names, ...(bits === 64 ? BIG : [])];
    }
    case 'flags':
      return [names, [first], first, ['NO_SUCH_FLAG'], [first, first], [0], [first.toLowerCase()]];
    case 'enum':
      return [...names.slice(0, 4), 'NO_SUCH_NAME', first.toLowerCase(), [first]];
    case 'string':
      return [...names, first.toLowerCase(), `${first}\u0000`, [first]];
    case 'strings':
      return [names, [first], [first, first], ['NO_SUCH'], [1], first];
    case 'bool':
      return ['true', 0, 1, 'Y'];
    case 'records':
      return [[{}], [{ a: 1 }], [[]], [null], [{ a: new Raw('1e400') }], Array.from({ length: 3 }, (_, i) => ({ i }))];
    case 'data':
      return ['0x00', '0x0', '0xzz', `0x${'00'.repeat(64)}`, [{}], { a: 1 }, [{ a: [1] }]];
    case 'trailing':
      return ['0x00', '0x01', `0x${'00'.repeat(8)}`, `0x${'ff'.repeat(4096)}`, '0x0'];
    case 'array':
      return [[{}], [{ start: 0, last: 'U64_MAX' }], [{ start: 1, last: 0 }], Array.from({ length: 65 }, () => [0, 1])];
    case 'any':
      return [];
  }
}

/** The values tried at a place of `hint`, in a fixed order. */
export const valuesFor = (hint: Hint): readonly Json[] => [...ownValues(hint), ...GENERIC];
