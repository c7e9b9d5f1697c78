/** Small traces the inspect tests share, written to a temporary folder. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { traceHeader } from '../../fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-inspect-'));

export function writeTrace(name: string, lines: readonly (object | string)[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return file;
}

const MAP = { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: '0x7f0000000000', length: '0x10000', iova: '0x1000000' } };
/** Two contexts, each with an IOAS 1; the first with a mock domain, so its map pins. */
export const TWO_CONTEXTS = [
  traceHeader({ memory: 'any', processes: [{ pid: 1, uid: 1000, caps: [] }] }),
  { op: 'OPEN', seq: 1 },
  { op: 'IOAS_ALLOC', seq: 2 },
  '# a comment line',
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 }, seq: 3 },
  { ...MAP, seq: 4 },
  { op: 'OPEN', seq: 5 },
  { op: 'IOAS_ALLOC', fd: 4, seq: 6 },
  { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: '0x1000000', length: '0x10000' }, seq: 7 },
];

