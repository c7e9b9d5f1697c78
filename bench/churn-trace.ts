/**
 * A deterministic vIOMMU-style churn on one IOAS: map `live` 4 KiB areas at fixed IOVAs, then
 * `churn` times unmap a random live area and map a new one at a random free slot, then unmap
 * everything and close. With `device`, a mock domain is attached first, so every map pins.
 * Every event carries the result the kernel gives (all succeed). The slots span twice `live`
 * pages from the mock domain's aperture start, so the layout is ragged, as a guest's is.
 */
import { PythonRandom } from './python-random.ts';
import { type TraceLine, hex, writeLines } from './trace-lines.ts';

export interface ChurnOptions {
  readonly live: number;
  readonly churn: number;
  readonly device: boolean;
}

export const PAGE = 0x1000;
export const BASE_VA = 0x7f0000000000;
/** The selftest's `MOCK_APERTURE_START`. */
export const IOVA0 = 0x1000000;

export function* churnTrace({ live, churn, device }: ChurnOptions): Generator<TraceLine> {
  const rnd = new PythonRandom(20261125);
  const python = device ? 'True' : 'False';
  yield { trace: 'iommufd', version: 1, env: { memory: 'any' }, description: `churn live=${live} churn=${churn} device=${python}` };
  let seq = 0;
  const ev = (op: string, args: object | undefined, expect: object = {}): TraceLine => ({
    seq: ++seq,
    op,
    ...(args === undefined ? {} : { args }),
    expect,
  });
  const map = (slot: number): TraceLine =>
    ev('IOAS_MAP', {
      ioas_id: 1,
      flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'],
      user_va: hex(BASE_VA + slot * PAGE),
      length: hex(PAGE),
      iova: hex(IOVA0 + slot * PAGE),
    });
  yield ev('OPEN', undefined, { out: { fd: 3 } });
  yield ev('IOAS_ALLOC', undefined, { out: { out_ioas_id: 1 } });
  if (device) yield ev('TEST_MOCK_DOMAIN', { id: 1 }, { out: { out_stdev_id: 2, out_idev_id: 3, out_hwpt_id: 4 } });
  const free = Array.from({ length: live * 2 }, (_, i) => i);
  rnd.shuffle(free);
  const used: number[] = [];
  for (let n = 0; n < live; n++) {
    const slot = free.pop() as number;
    used.push(slot);
    yield map(slot);
  }
  for (let n = 0; n < churn; n++) {
    const i = rnd.randrange(used.length);
    const gone = used[i] as number;
    used[i] = used[used.length - 1] as number;
    used.pop();
    yield ev('IOAS_UNMAP', { ioas_id: 1, iova: hex(IOVA0 + gone * PAGE), length: hex(PAGE) }, { out: { length: hex(PAGE) } });
    free.push(gone);
    const j = rnd.randrange(free.length);
    [free[j], free[free.length - 1]] = [free[free.length - 1] as number, free[j] as number];
    const slot = free.pop() as number;
    used.push(slot);
    yield map(slot);
  }
  yield ev('IOAS_UNMAP', { ioas_id: 1, iova: 0, length: 'U64_MAX' }, { out: { length: hex(live * PAGE) } });
  yield ev('CLOSE', { fd: 3 });
}

export function writeChurnTrace(path: string, options: ChurnOptions): void {
  writeLines(path, churnTrace(options));
}
