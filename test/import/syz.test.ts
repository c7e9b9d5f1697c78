/**
 * `import syz`: syzkaller programs and C reproducers, decoded from the memory they write by the
 * ioctl's number (and IOMMU_TEST_CMD's op number), `size` as written, resources from what the
 * model answers, data addresses moved to the run's data area, repetitions in child processes.
 */
import { describe, expect, it } from 'vitest';
import { captureFile, errorOf, imported } from './capture-files.ts';

const OPTIONS = (repeat: boolean) => `# {Threaded:false Repeat:${repeat} RepeatTimes:0 Procs:1 Slowdown:1 Sandbox: SandboxArg:0 Leak:false}`;

describe('.syz programs', () => {
  it('lays each struct out by its description; resources carry the ids and fds the model gives; no expect', () => {
    const { events, header } = imported('syz', [
      OPTIONS(false),
      'r0 = openat$iommufd(0xffffffffffffff9c, &(0x7f0000000000), 0x0, 0x0)',
      'ioctl$IOMMU_IOAS_ALLOC(r0, 0x3b81, &(0x7f00000003c0)={0xc, 0x0, <r1=>0x0})',
      'ioctl$IOMMU_IOAS_MAP$PAGES(r0, 0x3b85, &(0x7f0000000040)={0x28, 0x3, r1, 0x0, &(0x7f0000800000/0x800000)=nil, 0x800000, 0x1000})',
      'ioctl$IOMMU_VFIO_IOAS$SET(r0, 0x3b88, &(0x7f00000000c0)={0xc, r1})',
    ], { syzData: 0x20000000n }, 'p.syz');
    expect(events).toEqual([
      { source_line: 2, op: 'OPEN', args: { path: '/dev/iommu' } },
      { source_line: 3, fd: 3, op: 'IOAS_ALLOC' },
      { source_line: 4, fd: 3, op: 'IOAS_MAP', args: { flags: 3, ioas_id: 1, user_va: '0x20800000', length: '0x800000', iova: '0x1000' } },
      // The field the program leaves out gets its description's const: IOMMU_VFIO_IOAS_SET.
      { source_line: 5, fd: 3, op: 'VFIO_IOAS', args: { ioas_id: 1, op: 1 } },
    ]);
    expect(header.extra['note']).toContain('Data area at 0x20000000 (--syz-data).');
  });
  it('decodes IOMMU_TEST_CMD by the op number it carries, not by the call name; size stays as written', () => {
    const { events } = imported('syz', [
      'r0 = openat$iommufd(0xffffffffffffff9c, &(0x7f0000000000), 0x0, 0x0)',
      // Named ACCESS_PAGES, but op 0xb is IOMMU_TEST_OP_ACCESS_REPLACE_IOAS.
      'ioctl$IOMMU_TEST_OP_ACCESS_PAGES(r0, 0x3ba0, &(0x7f0000000000)={0x38, 0xb, 0x3, 0x0, 0x1})',
    ], {}, 'q.syz');
    expect(events[1]).toEqual({ source_line: 2, fd: 3, op: 'TEST_ACCESS_REPLACE_IOAS', args: { size: 56, id: 3, ioas_id: 1 } });
  });
  it('(rerun: N) runs a call N more times; Repeat runs the program --repeat times, each in a child', () => {
    const { events, header } = imported('syz', [OPTIONS(true), 'r0 = openat$iommufd(0xffffffffffffff9c, &(0x7f0000000000), 0x0, 0x0)', 'ioctl$IOMMU_IOAS_ALLOC(r0, 0x3b81, &(0x7f0000000000)={0xc}) (rerun: 2)'], { repeat: 3 }, 'r.syz');
    const child = ['FORK', 'OPEN', 'IOAS_ALLOC', 'IOAS_ALLOC', 'IOAS_ALLOC', 'EXIT'];
    expect(events.map((e) => e['op'])).toEqual([...child, ...child, ...child]);
    expect(events[0]).toMatchObject({ op: 'FORK', expect: { out: { pid: 2 } }, inferred: true });
    expect(events[1]).toMatchObject({ pid: 2 });
    expect(events[5]).toMatchObject({ op: 'EXIT', args: { pid: 2 } });
    expect(events[6]).toMatchObject({ expect: { out: { pid: 3 } } });
    expect(header.extra['note']).toContain('runs 3 times here (--repeat)');
  });
  it("a program's data area is its C twin's, when one lies beside it", () => {
    captureFile(['int main(void)', '{', '  syscall(__NR_mmap, 0x20000000ul, 0x1000000ul, 7ul, 0x32ul, -1, 0ul);', '  return 0;', '}'], 'twin.c');
    const { events } = imported('syz', ['ioctl$IOMMU_IOAS_MAP$PAGES(0x3, 0x3b85, &(0x7f0000000040)={0x28, 0x3, 0x1, 0x0, &(0x7f0000800000/0x800000)=nil, 0x800000, 0x0})'], {}, 'twin.syz');
    expect(events[0]?.['args']).toMatchObject({ user_va: '0x20800000' });
  });
});

describe('C reproducers', () => {
  const REPRO = [
    'uint64_t r[3] = {0xffffffffffffffff, 0x0, 0xffffffffffffffff};',
    'void execute_one(void)',
    '{',
    '  intptr_t res = 0;',
    '  memcpy((void*)0x20000040, "/dev/iommu\\000", 11);',
    '  res = syscall(__NR_openat, /*fd=*/0xffffffffffffff9cul, /*file=*/0x20000040ul, /*flags=*/0ul, /*mode=*/0ul);',
    '  if (res != -1)',
    '    r[0] = res;',
    '  *(uint32_t*)0x20000080 = 0xc;',
    '  *(uint32_t*)0x20000084 = 0;',
    '  res = syscall(__NR_ioctl, /*fd=*/r[0], /*cmd=*/0x3b81, /*arg=*/0x20000080ul);',
    '  {',
    '    int i;',
    '    for (i = 0; i < 2; i++) {',
    '      syscall(__NR_ioctl, /*fd=*/r[0], /*cmd=*/0x3b81, /*arg=*/0x20000080ul);',
    '    }',
    '  }',
    '  if (res != -1)',
    '    r[1] = *(uint32_t*)0x20000088;',
    '  *(uint32_t*)0x20000000 = 8;',
    '  *(uint32_t*)0x20000004 = r[1];',
    '  syscall(__NR_ioctl, r[0], 0x3b80, 0x20000000ul);',
    '}',
    'int main(void)',
    '{',
    '  syscall(__NR_mmap, 0x20000000ul, 0x1000000ul, 7ul, 0x32ul, -1, 0ul);',
    '  loop();',
    '  return 0;',
    '}',
  ];
  it('reads the calls of execute_one() in the forked loop, the writes before each, loops and r[] from memory', () => {
    const { events } = imported('syz', REPRO, { repeat: 1 }, 'repro.c');
    expect(events.map((e) => [e['op'], e['args']])).toEqual([
      ['FORK', undefined],
      ['OPEN', { path: '/dev/iommu' }],
      ['IOAS_ALLOC', undefined],
      ['IOAS_ALLOC', undefined],
      ['IOAS_ALLOC', undefined],
      // r[1] is read after the loop: the last IOAS the loop allocated.
      ['DESTROY', { id: 3 }],
      ['EXIT', { pid: 2 }],
    ]);
  });
  it('a fragment that never writes the memory its calls point at is refused', () => {
    expect(errorOf(() => imported('syz', ['int main(void)', '{', '  syscall(__NR_ioctl, 3, 0x3b81, 0x200000000040ul);', '}'], {}, 'frag.c'))).toMatch(
      /frag\.c: the reproducer never writes the memory its calls' arguments point at \(a fragment\?\)$/,
    );
    expect(errorOf(() => imported('syz', ['//  ioctl$IOMMU_IOAS_ALLOC arguments: [', 'syscall(__NR_ioctl, /*fd=*/r[0], /*cmd=*/0x3b81, /*arg=*/0x2000000003c0ul)'], {}, 'frag2.c'))).toMatch(
      /frag2\.c: not a C reproducer: no main\(\) or execute_one\(\)$/,
    );
  });
});
