/** Failure injection (fail_nth): the k-th injection point a command reaches fails, and says where. */
import { describe, expect, it } from 'vitest';
import { injected, withFailNth } from '../../src/model/fault-injection.ts';

describe('injected() under withFailNth()', () => {
  it('outside a plan no point fails', () => {
    expect(injected()).toBeNull();
  });
  it('only the nth point fails; the points reached are counted', () => {
    const run = withFailNth(2, () => [injected(), injected('ENOENT', 'iommufd_get_object'), injected()]);
    expect(run.value.map((f) => f?.check ?? null)).toEqual([null, 'ENOENT iommufd_get_object: fail_nth injection', null]);
    expect(run).toMatchObject({ fired: true, points: 3 });
  });
  it('a point that does not name its site is the generic should_fail, ENOMEM by default', () => {
    expect(withFailNth(1, () => injected()).value?.check).toBe('ENOMEM should_fail: fail_nth injection');
  });
  it('a plan past the last point fires nothing', () => {
    expect(withFailNth(5, () => injected())).toEqual({ value: null, fired: false, points: 1 });
  });
});
