/**
 * The rows of the change table whose older behaviour the model keeps at one place: each a tiny
 * trace under the last release without the commit and under the first with it.
 */
import { describe, expect, it } from 'vitest';
import { HEADER, errnos, failedAt, refused, runTrace } from '../harness.ts';

const on = (kernel: string, header: { env: object } = HEADER) => ({ ...header, env: { ...header.env, kernel } });

/** fd 3, IOAS 1, mock device on it: stdev 2, device 3, automatic HWPT 4. */
const MOCK = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }];
const alloc = (args: object) => ({ op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, ...args } });

describe('IOAS_MAP and IOAS_COPY without a direction (996dc53ac289, 6.11)', () => {
  const map = { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA'], user_va: '0x7f0000000000', length: '0x1000', iova: '0x1000000' } };
  const copy = { op: 'IOAS_COPY', args: { dst_ioas_id: 1, src_ioas_id: 1, flags: ['FIXED_IOVA'], length: '0x1000', dst_iova: '0x2000000', src_iova: '0x1000000' } };
  const readable = { ...map, args: { ...map.args, flags: ['FIXED_IOVA', 'READABLE'] } };

  it('6.10 makes the areas, pinned into the mock domain like any other', () => {
    const ran = runTrace([...MOCK, map, copy], on('6.10')).slice(3);
    expect(errnos(ran)).toEqual(['ok', 'ok']);
    const ioas = ran[1]?.outcome.world.contexts.get(1)?.objects.get(1);
    expect(ioas?.type === 'ioas' ? ioas.iopt.areas.size : 0).toBe(2);
  });

  it('6.11 refuses both with EINVAL after the overflow checks', () => {
    const ran = runTrace([...MOCK, readable, copy, map], on('6.11')).slice(3);
    expect(errnos(ran)).toEqual(['ok', 'EINVAL', 'EINVAL']);
    failedAt(ran[1], 'EINVAL iommufd_ioas_copy: neither readable nor writeable');
    failedAt(ran[2], 'EINVAL iommufd_ioas_map: neither readable nor writeable');
  });
});

describe('HWPT_ALLOC with a data_type and no data (7adc0c1cfa77, 6.8)', () => {
  const typed = (dev_id: number) => alloc({ dev_id, data_type: 'SELFTEST' });

  it('6.7 looks the device up and allocates a paging HWPT, the data_type unused', () => {
    expect(errnos(runTrace([...MOCK, typed(99), typed(3)], on('6.7')).slice(3))).toEqual(['ENOENT', 'ok']);
  });

  it('6.8 refuses it with EINVAL before the device lookup', () => {
    const ran = runTrace([...MOCK, typed(99)], on('6.8')).slice(3);
    failedAt(ran[0], 'EINVAL iommufd_hwpt_alloc: data_len disagrees with data_type');
  });
});

describe('a nesting parent with a fault object (1062d8108615, 6.15)', () => {
  const events = [...MOCK, { op: 'FAULT_QUEUE_ALLOC' }, alloc({ flags: ['NEST_PARENT', 'FAULT_ID_VALID'], fault_id: 5 })];

  it('6.14 allocates the parent holding the fault object', () => {
    const ran = runTrace(events, on('6.14')).slice(3);
    expect(errnos(ran)).toEqual(['ok', 'ok']);
    const hwpt = ran[1]?.outcome.world.contexts.get(1)?.objects.get(6);
    expect(hwpt).toMatchObject({ type: 'hwpt_paging', fault: 5 });
  });

  it('6.15 refuses the pair with EOPNOTSUPP', () => {
    failedAt(runTrace(events, on('6.15'))[4], 'EOPNOTSUPP iommufd_hwpt_paging_alloc: FAULT_ID_VALID with NEST_PARENT');
  });
});

describe('MOCK_FLAGS_DEVICE_PASID (9eb59204d519, 6.15)', () => {
  const pasidDev = { op: 'TEST_MOCK_DOMAIN_FLAGS', args: { id: 1, dev_flags: ['PASID'] } };

  it('6.14 does not know the bit: EINVAL from mock_dev_create(); 6.15 makes the device', () => {
    failedAt(runTrace([...MOCK.slice(0, 2), pasidDev], on('6.14'))[2], 'EINVAL mock_dev_create: dev_flags has unknown bits');
    expect(errnos(runTrace([...MOCK.slice(0, 2), pasidDev], on('6.15')).slice(2))).toEqual(['ok']);
  });
});

describe('VFIO_DEVICE_BIND_IOMMUFD with a VF token (86624ba3b522, 6.17; 2f03f21fe751, 6.19)', () => {
  const header = { ...HEADER, env: { ...HEADER.env, devices: [{ name: 'vf0', kind: 'vtd', cdev: 4, group: 7 }] } };
  const opened = [{ op: 'OPEN' }, { op: 'OPEN', args: { path: '/dev/vfio/devices/vfio4' } }];
  const bind = (args: object) => ({ op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 4, args: { iommufd: 3, ...args } });
  const token = bind({ flags: ['TOKEN'], token_uuid_ptr: '0x7f0000000000' });
  const last = (kernel: string, event: object) => runTrace([...opened, event], on(kernel, header))[2];

  it('6.16 knows no flag: EINVAL', () => {
    failedAt(last('6.16', bind({ flags: ['TOKEN'] })), 'EINVAL vfio_df_ioctl_bind_iommufd: negative iommufd or flags has unknown bits');
  });

  it('6.17 and 6.18 take the flag but copy 16 bytes: a token pointer is E2BIG', () => {
    for (const kernel of ['6.17', '6.18']) failedAt(last(kernel, token), 'E2BIG copy_struct_from_user: non-zero bytes past the kernel struct');
    refused(last('6.18', bind({ flags: ['TOKEN'] })), 'EINVAL');
  });

  it('6.19 reads the token, which a device without a VF token refuses', () => {
    failedAt(last('6.19', token), 'EINVAL vfio_df_check_token: a token for a device that takes none');
    expect(last('6.16', bind({}))?.errno).toBe('ok');
  });
});

describe('VFIO_DEVICE_FEATURE_DMA_BUF (5d74781ebc86, 6.19)', () => {
  const host = {
    trace: 'iommufd',
    version: '1.1',
    env: {
      memory: 'any',
      processes: [{ pid: 1, uid: 0, rlimit_memlock: 'unlimited', caps: [] }],
      devices: [{ name: 'gpu', kind: 'smmu', cdev: 0, group: 5, bars: ['0x4000000'] }],
    },
  };
  const bound = [
    { op: 'OPEN', args: { path: '/dev/vfio/devices/vfio0' } },
    { op: 'OPEN' },
    { op: 'VFIO_DEVICE_BIND_IOMMUFD', fd: 3, args: { iommufd: 4 } },
  ];
  const feature = (flags: string[], argsz?: number) => ({
    op: 'VFIO_DEVICE_FEATURE',
    fd: 3,
    args: { feature: 'DMA_BUF', flags, region_index: 0, open_flags: ['RDWR'], ranges: [{ offset: 0, length: '0x1000' }], ...(argsz === undefined ? {} : { argsz }) },
  });

  it('6.18 checks the header, then the PCI driver does not know the feature: ENOTTY', () => {
    const ran = runTrace([...bound, feature(['GET'], 4), feature(['GET']), feature(['PROBE', 'GET'])], on('6.18', host)).slice(3);
    expect(errnos(ran)).toEqual(['EINVAL', 'ENOTTY', 'ENOTTY']);
    failedAt(ran[1], 'ENOTTY vfio_pci_core_ioctl_feature: no DMA_BUF feature before 6.19');
  });

  it('6.19 exports the dma-buf', () => {
    expect(errnos(runTrace([...bound, feature(['GET'])], on('6.19', host)).slice(3))).toEqual(['ok']);
  });
});

describe('the mock page table (7db521e23fe9, 6.8; e93d5945ed5b, 6.19)', () => {
  const IOVA = '0x1000000';
  const header = {
    ...HEADER,
    env: { ...HEADER.env, mappings: [...HEADER.env.mappings, { addr: '0x7f0000400000', length: '0x200000', shared: true, hugepage: true }] },
  };
  /** A mock device with `devFlags` on IOAS 1 (device 3), 2 MiB of huge pages mapped, a tracking HWPT 5 with one dirty 2 KiB page. */
  const dirtied = (devFlags: string[]) => [
    { op: 'OPEN' },
    { op: 'IOAS_ALLOC' },
    { op: 'TEST_MOCK_DOMAIN_FLAGS', args: { id: 1, dev_flags: devFlags } },
    { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: '0x7f0000400000', length: '0x200000', iova: IOVA } },
    { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['DIRTY_TRACKING'] } },
    { op: 'HWPT_SET_DIRTY_TRACKING', args: { hwpt_id: 5, flags: ['ENABLE'] } },
    { op: 'TEST_DIRTY', args: { id: 5, iova: IOVA, length: '0x4000', page_size: 2048, data: '0x01' } },
    { op: 'HWPT_GET_DIRTY_BITMAP', args: { hwpt_id: 5, iova: IOVA, length: '0x200000', page_size: 2048, data: '0x7f00000f0000' } },
  ];
  const bitmap = (kernel: string, devFlags: string[]) => {
    const ran = runTrace(dirtied(devFlags), on(kernel, header));
    expect(errnos(ran)).toEqual(Array(ran.length).fill('ok'));
    return ran.at(-1)?.out['data'];
  };
  const ONE_MIB = `0x${'ff'.repeat(64)}${'00'.repeat(64)}`;

  it('6.18 maps 2 KiB entries: the dirty bit covers 2 KiB; a HUGE_IOVA device maps 1 MiB ones', () => {
    expect(bitmap('6.18', [])).toBe(`0x01${'00'.repeat(127)}`);
    expect(bitmap('6.18', ['HUGE_IOVA'])).toBe(ONE_MIB);
  });

  it('6.19 maps the largest page that fits, and HUGE_IOVA is gone; before 6.8 it did not exist', () => {
    expect(bitmap('6.19', [])).toBe(ONE_MIB);
    const flagged = (kernel: string) => runTrace(dirtied(['HUGE_IOVA']).slice(0, 3), on(kernel, header))[2];
    for (const kernel of ['6.7', '6.19']) failedAt(flagged(kernel), 'EINVAL mock_dev_create: dev_flags has unknown bits');
  });
});

describe('selftest data for a paging HWPT (e93d5945ed5b, 6.19)', () => {
  const paging = alloc({ data_type: 'SELFTEST', data_len: 8, data: { iotlb: 0, pagetable_type: 0 } });

  it('6.18 refuses any user data for a paging domain; 6.19 reads the page table type', () => {
    failedAt(runTrace([...MOCK, paging], on('6.18'))[3], 'EOPNOTSUPP mock_domain_alloc_paging_flags: user data for a paging domain');
    expect(errnos(runTrace([...MOCK, paging], on('6.19')).slice(3))).toEqual(['ok']);
  });
});
