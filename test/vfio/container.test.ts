/**
 * The native VFIO container (drivers/vfio/container.c): which drivers answer
 * VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU (env.vfio), and the container rules: one driver per
 * container, later groups joining it, the last group taking the driver and its pins with it,
 * the container file closed under a group releasing nothing. SPAPR TCE and no-IOMMU hosts too.
 */
import { describe, expect, it } from 'vitest';
import type { World } from '../../src/model/world.ts';
import { type Ran, errnos, failedAt, runTrace } from '../harness.ts';
import { CONTAINER, HOST, checkExtension, getInfo, host, mapDma, open, setContainer, setIommu, unmapDma } from './native-fixtures.ts';

const IOVA = 0x100000n;
const PAGE = 0x1000n;
const ret = (r: Ran | undefined) => r?.outcome.result?.ret;
const after = (prologue: readonly object[], events: readonly object[], header: object = HOST): Ran[] =>
  runTrace([...prologue, ...events], header).slice(prologue.length);
const lockedVm = (r: Ran | undefined): bigint | undefined => r?.outcome.world.processes.get(1)?.lockedVm;
const containers = (world: World | undefined) => [...(world?.vfio.containers.values() ?? [])];

describe('VFIO_GET_API_VERSION and VFIO_CHECK_EXTENSION (vfio_container_ioctl_check_extension)', () => {
  it('the API version is 0; before a driver, type1 offers TYPE1, TYPE1v2 and UNMAP_ALL only', () => {
    const ran = after([open('/dev/vfio/vfio')], [{ op: 'VFIO_GET_API_VERSION' }, ...[1, 3, 9, 10, 4, 8, 2, 7, 5, 6, 11].map((e) => checkExtension(e))]);
    expect(ran.map(ret)).toEqual([0n, 1n, 1n, 1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
  });
  it('once type1 is set its own answers: UPDATE_VADDR 1, DMA_CC 0 (no domain here enforces coherency)', () => {
    const ran = after(CONTAINER('TYPE1v2_IOMMU'), [checkExtension('UPDATE_VADDR'), checkExtension('DMA_CC_IOMMU'), checkExtension('SPAPR_TCE_IOMMU')]);
    expect(ran.map(ret)).toEqual([1n, 0n, 0n]);
  });
  it('a POWER host (a device of kind spapr) registers SPAPR TCE: its two types and EEH, not type1', () => {
    const spapr = host({ devices: [{ name: 'p', kind: 'spapr', group: 7 }] });
    const ran = after([open('/dev/vfio/vfio')], [2, 7, 5, 1, 3].map((e) => checkExtension(e)), spapr);
    expect(ran.map(ret)).toEqual([1n, 1n, 1n, 0n, 0n]);
  });
  it('NOIOMMU with the noiommu driver: 1 only with vfio.enable_unsafe_noiommu_mode', () => {
    const drivers = { vfio: { drivers: ['noiommu', 'type1'] } };
    const off = after([open('/dev/vfio/vfio')], [checkExtension('NOIOMMU_IOMMU')], host(drivers));
    const on = after([open('/dev/vfio/vfio')], [checkExtension('NOIOMMU_IOMMU')], host({ ...drivers, params: { 'vfio.enable_unsafe_noiommu_mode': true } }));
    expect([ret(off[0]), ret(on[0])]).toEqual([0n, 1n]);
  });
  it('no driver registered: every extension is 0', () => {
    const ran = after([open('/dev/vfio/vfio')], [checkExtension(1), checkExtension(3)], host({ vfio: { drivers: [] } }));
    expect(ran.map(ret)).toEqual([0n, 0n]);
  });
});

describe('VFIO_SET_IOMMU (vfio_ioctl_set_iommu)', () => {
  it('a container without a group → EINVAL', () => {
    failedAt(after([open('/dev/vfio/vfio')], [setIommu(3)])[0], 'EINVAL vfio_ioctl_set_iommu: the container has no group, or has a driver');
  });
  it('one driver per container: a second SET_IOMMU → EINVAL', () => {
    failedAt(after(CONTAINER(3), [setIommu(1)])[0], 'EINVAL vfio_ioctl_set_iommu: the container has no group, or has a driver');
  });
  it('a type no registered driver offers → ENODEV: SPAPR on x86, the retired nesting type, an unknown one', () => {
    const prologue = [open('/dev/vfio/vfio'), open('/dev/vfio/7'), setContainer(4, 3)];
    const ran = after(prologue, [setIommu('SPAPR_TCE_v2_IOMMU'), setIommu(6), setIommu(11), setIommu('TYPE1_IOMMU')]);
    expect(errnos(ran)).toEqual(['ENODEV', 'ENODEV', 'ENODEV', 'ok']);
    expect(ret(ran[3])).toBe(0n);
  });
  it('the driver takes every group of the container, and its error is the answer (here the MSI isolation EPERM)', () => {
    const devices = [
      { name: 'a', kind: 'k', group: 7 },
      { name: 'b', kind: 'k', group: 8, msi_isolated: false },
    ];
    const ran = after([open('/dev/vfio/vfio'), open('/dev/vfio/7'), open('/dev/vfio/8'), setContainer(4, 3), setContainer(5, 3)], [setIommu(3), getInfo(24)], host({ devices }));
    expect(errnos(ran)).toEqual(['EPERM', 'EINVAL']);
  });
  it('a SPAPR TCE host opens its driver, whose container maps nothing before it is enabled (test/vfio/spapr-*.test.ts)', () => {
    const spapr = host({ devices: [{ name: 'p', kind: 'spapr', group: 7 }] });
    const ran = after(CONTAINER('SPAPR_TCE_v2_IOMMU'), [mapDma(IOVA, PAGE), checkExtension(7), setIommu(2)], spapr);
    expect(errnos(ran)).toEqual(['EPERM', 'ok', 'EINVAL']);
    expect(runTrace(CONTAINER('TYPE1_IOMMU'), spapr)[3]?.errno).toBe('ENODEV');
  });
});

describe('groups joining and leaving a container (vfio_container_attach_group, vfio_group_detach_container)', () => {
  it('a later group joins the driver at once, under its checks: a mapping its reserved region covers → EINVAL', () => {
    const devices = [
      { name: 'a', kind: 'k', group: 7 },
      { name: 'b', kind: 'k', group: 8, reserved: [{ start: '0x100000', last: '0x100fff' }] },
    ];
    const ran = after([...CONTAINER(3), mapDma(IOVA, PAGE), open('/dev/vfio/8')], [setContainer(5, 3), unmapDma(IOVA, PAGE), setContainer(5, 3)], host({ devices }));
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual(['EINVAL vfio_iommu_resv_conflict: a reserved region overlaps a mapping', 'ok', 'ok']);
  });
  it('a group behind the same IOMMU joins its domain; the IOVA ranges are the intersection of the apertures', () => {
    const devices = [
      { name: 'a', kind: 'k', group: 7, aperture: { start: '0', last: '0xffffffff' } },
      { name: 'b', kind: 'k', group: 8, aperture: { start: '0x10000', last: '0xffffffffff' } },
    ];
    const ran = after([...CONTAINER(3), open('/dev/vfio/8')], [setContainer(5, 3), getInfo(200)], host({ devices }));
    const driver = ran[0]?.outcome.world.vfio.containers.get(1)?.driver;
    expect(driver?.kind === 'type1' ? driver.iommu.domains.map((d) => d.groups) : null).toEqual([[8, 7]]);
    expect((ran[1]?.out['caps'] as readonly Record<string, unknown>[])[2]?.['iova_ranges']).toEqual([{ start: 0x10000n, end: 0xffffffffn }]);
  });
  it('a group whose aperture leaves out a mapping → EINVAL (vfio_iommu_aper_conflict)', () => {
    const devices = [
      { name: 'a', kind: 'k', group: 7 },
      { name: 'b', kind: 'other', group: 8, aperture: { start: '0x200000', last: '0xffffffff' } },
    ];
    const ran = after([...CONTAINER(3), mapDma(IOVA, PAGE), open('/dev/vfio/8')], [setContainer(5, 3)], host({ devices }));
    failedAt(ran[0], 'EINVAL vfio_iommu_aper_conflict: the aperture leaves out a mapping or every usable IOVA');
  });
  it('detaching the last group releases the driver and every pin; the container can take a driver again', () => {
    const ran = after([...CONTAINER(3), mapDma(IOVA, 4n * PAGE)], [
      { op: 'VFIO_GROUP_UNSET_CONTAINER', fd: 4 },
      getInfo(24),
      setContainer(4, 3),
      setIommu(1),
      mapDma(IOVA, PAGE),
    ]);
    expect(errnos(ran)).toEqual(['ok', 'EINVAL', 'ok', 'ok', 'ok']);
    expect(lockedVm(ran[0])).toBe(0n);
    expect(containers(ran[0]?.outcome.world)[0]?.driver).toBeNull();
  });
  it('a group leaving while another stays keeps the driver and the mappings', () => {
    const ran = after([...CONTAINER(3), open('/dev/vfio/8'), setContainer(5, 3), mapDma(IOVA, 4n * PAGE)], [{ op: 'VFIO_GROUP_UNSET_CONTAINER', fd: 4 }, getInfo(24)]);
    expect(errnos(ran)).toEqual(['ok', 'ok']);
    expect(lockedVm(ran[0])).toBe(4n);
  });
  it('closing the container fd while a group holds it releases nothing; closing the group then releases all', () => {
    const ran = after([...CONTAINER(3), mapDma(IOVA, 4n * PAGE)], [{ op: 'CLOSE', args: { fd: 3 } }, { op: 'CLOSE', args: { fd: 4 } }]);
    expect([lockedVm(ran[0]), containers(ran[0]?.outcome.world).length]).toEqual([4n, 1]);
    expect([lockedVm(ran[1]), containers(ran[1]?.outcome.world).length]).toEqual([0n, 0]);
  });
  it('a process exiting closes its fds: its container\'s pins go with the group fd', () => {
    const ran = after([...CONTAINER(3), mapDma(IOVA, 4n * PAGE), { op: 'FORK', expect: { out: { pid: 2 } } }], [{ op: 'EXIT', args: { pid: 1 } }, { op: 'EXIT', pid: 2, args: { pid: 2 } }]);
    expect(containers(ran[0]?.outcome.world).length).toBe(1);
    expect(containers(ran[1]?.outcome.world).length).toBe(0);
  });
  it('container ops without fd go to the lowest container fd, before an earlier /dev/iommu fd', () => {
    const ran = runTrace([open('/dev/iommu'), open('/dev/vfio/vfio'), open('/dev/vfio/7'), setContainer(5, 4), setIommu(3), { op: 'IOAS_ALLOC' }], HOST);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });
  it('an iommufd op on a container fd: EINVAL without a driver, ENOTTY with type1', () => {
    const ran = after(CONTAINER(3), [{ op: 'IOAS_ALLOC', fd: 3 }]);
    failedAt(ran[0], 'ENOTTY vfio_iommu_type1_ioctl: not an ioctl of the driver');
  });
  it('raw ioctl numbers on a container fd run the container ioctl the number names', () => {
    const ran = after(CONTAINER(3), [
      { op: 'IOCTL', fd: 3, args: { cmd: '0x3b65', arg: 3 } },
      { op: 'IOCTL', fd: 3, args: { cmd: '0x3b71' } },
      { op: 'IOCTL', fd: 3, args: { cmd: '0x3b73' } },
    ]);
    expect(ran.map((r) => r.outcome.result?.check ?? ret(r))).toEqual([
      1n,
      'EINVAL vfio_iommu_type1_map_dma: argsz below minsz or flags has unknown bits',
      'ENOTTY vfio_iommu_type1_ioctl: not an ioctl of the driver',
    ]);
  });
});

describe('no-IOMMU mode (vfio_noiommu_ops, CONFIG_VFIO_NOIOMMU)', () => {
  const noiommu = (params: object, caps: string[] = ['CAP_SYS_RAWIO']) =>
    host(
      {
        vfio: { drivers: ['noiommu', 'type1'] },
        params,
        devices: [
          { name: 'real', kind: 'k', group: 7 },
          { name: 'bare', kind: 'noiommu', group: 9 },
        ],
      },
      [{ pid: 1, uid: 0, rlimit_memlock: 'unlimited', caps }],
    );
  const ON = { 'vfio.enable_unsafe_noiommu_mode': 1 };
  const NOIOMMU = [open('/dev/vfio/vfio'), open('/dev/vfio/noiommu-9'), setContainer(4, 3)];
  it('the group node exists only with enable_unsafe_noiommu_mode, under its own name', () => {
    expect(errnos(runTrace([open('/dev/vfio/noiommu-9')], noiommu({})))).toEqual(['ENOENT']);
    expect(errnos(runTrace([open('/dev/vfio/9'), open('/dev/vfio/noiommu-9')], noiommu(ON)))).toEqual(['ENOENT', 'ok']);
  });
  it('opening the group needs CAP_SYS_RAWIO (EPERM)', () => {
    failedAt(runTrace([open('/dev/vfio/noiommu-9')], noiommu(ON, []))[0], 'EPERM vfio_group_fops_open: a no-IOMMU group needs CAP_SYS_RAWIO');
  });
  it('a no-IOMMU container takes only the no-IOMMU driver, which needs CAP_SYS_RAWIO to open; it maps nothing', () => {
    const ran = after(NOIOMMU, [setIommu('TYPE1v2_IOMMU'), { op: 'SET_CAPS', args: { caps: [] } }, setIommu('NOIOMMU_IOMMU'), { op: 'SET_CAPS', args: { caps: ['CAP_SYS_RAWIO'] } }, setIommu('NOIOMMU_IOMMU'), checkExtension('NOIOMMU_IOMMU'), checkExtension('TYPE1v2_IOMMU'), mapDma(IOVA, PAGE)], noiommu(ON));
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual([
      'ENODEV vfio_ioctl_set_iommu: no registered driver takes this type',
      'ok',
      'EPERM vfio_noiommu_open: no CAP_SYS_RAWIO',
      'ok',
      'ok',
      'ok',
      'ok',
      'ENOTTY vfio_noiommu_ioctl: not an ioctl of the driver',
    ]);
    expect([ret(ran[5]), ret(ran[6])]).toEqual([1n, 0n]);
  });
  it('groups with and without an IOMMU do not mix in a container (EPERM)', () => {
    const ran = after([...NOIOMMU, open('/dev/vfio/7')], [setContainer(5, 3)], noiommu(ON));
    failedAt(ran[0], 'EPERM vfio_container_attach_group: groups with and without an IOMMU do not mix');
  });
});
