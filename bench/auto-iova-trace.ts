/**
 * The allocator's worst case at scale: `live` 4 KiB areas at fixed IOVAs on every other page
 * from the mock domain's aperture start, so every hole between them is one page; then `maps`
 * automatic-IOVA maps of 8 KiB from 8 KiB-aligned user addresses. No one-page hole fits such a
 * map, so first fit has to pass every area; iopt_alloc_iova() aligns it to the smaller of its
 * rounded-up length and the user address's alignment (8 KiB on a kernel with THP), so each lands
 * just after the previous one, at the IOVA its event records.
 */
import { BASE_VA, IOVA0, PAGE } from './churn-trace.ts';
import { type TraceLine, hex } from './trace-lines.ts';

export interface AutoIovaOptions {
  readonly live: number;
  readonly maps: number;
}

export function* autoIovaTrace({ live, maps }: AutoIovaOptions): Generator<TraceLine> {
  yield { trace: 'iommufd', version: 1, env: { memory: 'any' }, description: `automatic IOVA after live=${live} maps=${maps}` };
  let seq = 0;
  yield { seq: ++seq, op: 'OPEN', expect: { out: { fd: 3 } } };
  yield { seq: ++seq, op: 'IOAS_ALLOC', expect: { out: { out_ioas_id: 1 } } };
  yield { seq: ++seq, op: 'TEST_MOCK_DOMAIN', args: { id: 1 }, expect: { out: { out_stdev_id: 2, out_idev_id: 3, out_hwpt_id: 4 } } };
  for (let i = 0; i < live; i++) {
    const flags = ['FIXED_IOVA', 'READABLE', 'WRITEABLE'];
    const args = { ioas_id: 1, flags, user_va: hex(BASE_VA + 2 * i * PAGE), length: hex(PAGE), iova: hex(IOVA0 + 2 * i * PAGE) };
    yield { seq: ++seq, op: 'IOAS_MAP', args, expect: {} };
  }
  for (let k = 0; k < maps; k++) {
    const at = 2 * (live + k) * PAGE;
    const args = { ioas_id: 1, flags: ['READABLE', 'WRITEABLE'], user_va: hex(BASE_VA + at), length: hex(2 * PAGE) };
    yield { seq: ++seq, op: 'IOAS_MAP', args, expect: { out: { iova: hex(IOVA0 + at) } } };
  }
}
