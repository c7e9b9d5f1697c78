/**
 * SPAPR TCE v1 (tce_iommu_enable(), tce_iommu_disable(), tce_iommu_release()): ENABLE charges
 * the whole 32-bit window to locked_vm up front, DISABLE and the release give it back.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, afterPrologue, errnos, failedAt, runTrace } from '../harness.ts';
import { spaprOf } from '../../src/vfio/store.ts';
import { PE, POWER, RAM, V1, V2, disable, enable, map, power } from './spapr-fixtures.ts';

const lockedVm = (r: Ran | undefined): bigint | undefined => r?.outcome.world.processes.get(1)?.lockedVm;

describe('VFIO_IOMMU_ENABLE and VFIO_IOMMU_DISABLE (v1)', () => {
  it("ENABLE charges tce32_size >> PAGE_SHIFT pages, whatever will be mapped; a second ENABLE is EBUSY", () => {
    const ran = afterPrologue(V1, [enable(), enable()], POWER);
    expect(lockedVm(ran[0])).toBe(0x80000000n / 0x10000n);
    failedAt(ran[1], 'EBUSY tce_iommu_enable: the container is enabled already');
  });
  it('the charge meets RLIMIT_MEMLOCK (ENOMEM, the mm bound all the same) but for CAP_IPC_LOCK', () => {
    const limited = afterPrologue(V1, [enable()], power(undefined, '0x40000000'));
    expect(limited[0]?.outcome.result?.check).toBe('ENOMEM __account_locked_vm: locked_vm would pass RLIMIT_MEMLOCK');
    expect(limited[0] && spaprOf(limited[0].outcome.world, 1).mm).toBe(1);
    expect(afterPrologue(V1, [enable()], power(undefined, '0x40000000', ['CAP_IPC_LOCK']))[0]?.errno).toBe('ok');
  });
  it('a PE without a 32-bit window cannot be enabled (EPERM)', () => {
    failedAt(afterPrologue(V1, [enable()], power([PE(1, { tce32_size: 0 })]))[0], 'EPERM tce_iommu_enable: the PE has no 32-bit window');
  });
  it("DISABLE gives ENABLE's charge back and answers 0 when not enabled; MAP is EPERM again", () => {
    const ran = afterPrologue(V1, [disable(), enable(), disable(), map(0n, RAM, 0x1000n)], POWER);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'EPERM']);
    expect(ran.map(lockedVm)).toEqual([0n, 32768n, 0n, 0n]);
  });
  it('v2 has neither (ENOTTY)', () => {
    expect(errnos(afterPrologue(V2, [enable(), disable()], POWER))).toEqual(['ENOTTY', 'ENOTTY']);
  });
  it('the release of an enabled container gives back the window and the table the first MAP charged', () => {
    const ran = runTrace([...V1, enable(), map(0n, RAM, 0x10000n), { op: 'CLOSE', args: { fd: 4 } }], POWER);
    expect(ran.slice(4).map(lockedVm)).toEqual([32768n, 32768n + 128n, 0n]);
  });
});
