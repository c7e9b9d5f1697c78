/**
 * FAULT and VEVENTQ objects and their fds, one test per kernel check (eventq.c, driver.c's
 * iommufd_viommu_report_event(), selftest.c's TRIGGER_IOPF and TRIGGER_VEVENT, io-pgfault.c's
 * find_fault_handler()), with FD_READ / FD_WRITE on the fds.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, errnos, afterPrologue, failedAt, refused, VIOMMU_PROLOGUE } from '../../harness.ts';

/**
 * fd 3, IOAS 1, mock device (stdev 2, device 3, HWPT 4), FAULT 5 on fd 4, HWPT 6 reporting
 * faults to it, the device moved onto HWPT 6 (HWPT 4 goes with its last attachment).
 */
const FAULTY = [
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'FAULT_QUEUE_ALLOC' },
  { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['FAULT_ID_VALID'], fault_id: 5 } },
  { op: 'TEST_MOCK_DOMAIN_REPLACE', args: { id: 2, pt_id: 6 } },
];
const iopf = (args: object = {}) => ({ op: 'TEST_TRIGGER_IOPF', args: { dev_id: 3, grpid: 7, perm: ['READ'], addr: '0x1000', ...args } });
const read = (fd: number, count?: number) => ({ op: 'FD_READ', args: count === undefined ? { fd } : { fd, count } });
const respond = (cookie: number, code = 0) => ({ op: 'FD_WRITE', args: { fd: 4, records: [{ cookie, code }] } });
const record = (cookie: number, extra: object = {}) => ({
  flags: 2n,
  dev_id: 3n,
  pasid: 0n,
  grpid: 7n,
  perm: 1n,
  addr: 0x1000n,
  length: 0n,
  cookie: BigInt(cookie),
  ...extra,
});

const after = (events: readonly object[], prologue: readonly object[] = FAULTY): Ran[] => afterPrologue(prologue, events);

describe('IOMMU_FAULT_QUEUE_ALLOC (iommufd_fault_alloc)', () => {
  const PRE = [{ op: 'OPEN' }];
  it('flags → EOPNOTSUPP', () => {
    failedAt(after([{ op: 'FAULT_QUEUE_ALLOC', args: { flags: 1 } }], PRE)[0], 'EOPNOTSUPP iommufd_fault_alloc: flags is not zero');
  });
  it('takes the object id, then the fd; the fd holds the object (DESTROY EBUSY until it closes)', () => {
    const ran = after([{ op: 'FAULT_QUEUE_ALLOC' }, { op: 'DESTROY', args: { id: 1 } }, { op: 'CLOSE', args: { fd: 4 } }, { op: 'DESTROY', args: { id: 1 } }], PRE);
    expect(ran[0]?.out).toEqual({ out_fault_id: 1n, out_fault_fd: 4n });
    expect(errnos(ran.slice(1))).toEqual(['EBUSY', 'ok', 'ok']);
  });
  it('the fd keeps the context alive after /dev/iommu is closed', () => {
    const ran = after([{ op: 'FAULT_QUEUE_ALLOC' }, { op: 'CLOSE', args: { fd: 3 } }, read(4)], PRE);
    expect(ran[2]?.out).toEqual({ records: [] });
    expect(ran[2]?.outcome.world.contexts.size).toBe(1);
  });
});

describe('IOMMU_TEST_OP_TRIGGER_IOPF and the fault fd (iommufd_fault_fops_read/_write)', () => {
  it('dev_id not a device → ENOENT', () => {
    refused(after([iopf({ dev_id: 1 })])[0], 'ENOENT');
  });
  it('a device whose HWPT has no FAULT: answered by the core, nothing queued, still success', () => {
    const pre = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }, { op: 'FAULT_QUEUE_ALLOC' }];
    const ran = after([iopf(), read(4)], pre);
    expect(errnos(ran)).toEqual(['ok', 'ok']);
    expect(ran[1]?.out).toEqual({ records: [] });
  });
  it('queues a last-page request; a read gives it cookie 1, a write answers it', () => {
    const ran = after([iopf(), read(4), read(4), respond(1), respond(1)]);
    expect(ran[1]?.out).toEqual({ records: [record(1)] });
    expect(ran[2]?.out).toEqual({ records: [] });
    expect(errnos(ran.slice(3))).toEqual(['ok', 'EINVAL']);
    expect(ran[4]?.outcome.result?.check).toBe('EINVAL iommufd_fault_fops_write: no fault group with this cookie');
  });
  it('a PASID request with no attachment at that PASID and a paging RID goes to the core', () => {
    const ran = after([iopf({ pasid: 5 }), read(4)]);
    expect(ran[1]?.out).toEqual({ records: [] });
  });
  it('a read count not a multiple of the record size → ESPIPE', () => {
    failedAt(after([iopf(), read(4, 41)])[1], 'ESPIPE iommufd_fault_fops_read: count not a multiple of the record size');
  });
  it('reads only whole records that fit; the rest stays queued; cookies are the lowest free', () => {
    const ran = after([iopf(), iopf({ grpid: 8 }), read(4, 40), respond(1), read(4, 80)]);
    expect(ran[2]?.out).toEqual({ records: [record(1)] });
    expect(ran[4]?.out).toEqual({ records: [record(1, { grpid: 8n })] });
  });
  it('a response code other than SUCCESS or INVALID → EINVAL', () => {
    failedAt(after([iopf(), read(4), respond(1, 2)])[2], 'EINVAL iommufd_fault_fops_write: code is not SUCCESS or INVALID');
  });
  it('a write stops at a bad record but succeeds for what it consumed before it', () => {
    const ran = after([iopf(), read(4), { op: 'FD_WRITE', args: { fd: 4, records: [{ cookie: 1, code: 0 }, { cookie: 9, code: 0 }] } }, respond(1)]);
    expect(errnos(ran.slice(2))).toEqual(['ok', 'EINVAL']);
  });
  it('detaching the device answers what is pending through its handle', () => {
    const ran = after([iopf(), iopf(), read(4, 40), { op: 'DESTROY', args: { id: 2 } }, read(4), respond(1)]);
    expect(ran[4]?.out).toEqual({ records: [] });
    expect(ran[5]?.errno).toBe('EINVAL');
  });
  it('a /dev/iommu fd has no read → EINVAL', () => {
    failedAt(after([{ op: 'FD_READ', args: { fd: 3 } }])[0], 'EINVAL vfs_read: not a FAULT or vEVENTQ fd');
  });
  it('an fd that is not open → EBADF', () => {
    failedAt(after([{ op: 'FD_WRITE', args: { fd: 9, records: [] } }])[0], 'EBADF fdget_pos: the fd is not open in the process');
  });
});

/** fd 3, IOAS 1, mock device (2, 3, HWPT 4), NEST_PARENT 5, vIOMMU 6, nested HWPT 7, VDEVICE 8 (0x99). */
const VIOMMU = [
  ...VIOMMU_PROLOGUE,
  { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 6, data_type: 'SELFTEST', data_len: 8, data: { iotlb: 1 } } },
  { op: 'VDEVICE_ALLOC', args: { viommu_id: 6, dev_id: 3, virt_id: '0x99' } },
];
const veventq = (args: object = {}) => ({ op: 'VEVENTQ_ALLOC', args: { viommu_id: 6, type: 'SELFTEST', veventq_depth: 2, ...args } });
const ON_NESTED = { op: 'TEST_MOCK_DOMAIN_REPLACE', args: { id: 2, pt_id: 7 } };
const trigger = { op: 'TEST_TRIGGER_VEVENT', args: { dev_id: 3 } };
const event = (sequence: number) => ({ flags: 0n, sequence: BigInt(sequence), virt_id: 0x99n });

describe('IOMMU_VEVENTQ_ALLOC (iommufd_veventq_alloc)', () => {
  it('flags, __reserved or type DEFAULT → EOPNOTSUPP', () => {
    failedAt(after([veventq({ flags: 1 })], VIOMMU)[0], 'EOPNOTSUPP iommufd_veventq_alloc: flags or __reserved set, or default type');
    refused(after([veventq({ __reserved: 1 })], VIOMMU)[0], 'EOPNOTSUPP');
    refused(after([veventq({ type: 'DEFAULT' })], VIOMMU)[0], 'EOPNOTSUPP');
  });
  it('veventq_depth 0 → EINVAL', () => {
    failedAt(after([veventq({ veventq_depth: 0 })], VIOMMU)[0], 'EINVAL iommufd_veventq_alloc: veventq_depth is 0');
  });
  it('viommu_id not a vIOMMU → ENOENT', () => {
    refused(after([veventq({ viommu_id: 5 })], VIOMMU)[0], 'ENOENT');
  });
  it('a second queue of the same type on the vIOMMU → EEXIST', () => {
    const ran = after([veventq(), veventq()], VIOMMU);
    expect(ran[0]?.out).toEqual({ out_veventq_id: 9n, out_veventq_fd: 4n });
    failedAt(ran[1], 'EEXIST iommufd_veventq_alloc: the vIOMMU has a queue of this type');
  });
  it('holds its vIOMMU; its fd holds it', () => {
    const ran = after([veventq(), { op: 'DESTROY', args: { id: 9 } }, { op: 'CLOSE', args: { fd: 4 } }, { op: 'DESTROY', args: { id: 9 } }], VIOMMU);
    expect(errnos(ran.slice(1))).toEqual(['EBUSY', 'ok', 'ok']);
  });
});

describe('IOMMU_TEST_OP_TRIGGER_VEVENT and the vEVENTQ fd (iommufd_veventq_fops_read)', () => {
  it('dev_id not a device → ENOENT', () => {
    refused(after([veventq(), { op: 'TEST_TRIGGER_VEVENT', args: { dev_id: 1 } }], VIOMMU)[1], 'ENOENT');
  });
  it('a device not on a vIOMMU-owned nested domain → ENOENT', () => {
    failedAt(after([veventq(), trigger], VIOMMU)[1], 'ENOENT iommufd_test_trigger_vevent: the device has no vIOMMU or virtual id');
  });
  it('no queue of the mock type on the vIOMMU → EOPNOTSUPP', () => {
    failedAt(after([ON_NESTED, trigger], VIOMMU)[1], 'EOPNOTSUPP iommufd_viommu_report_event: no vEVENTQ of this type');
  });
  it('reports the virtual id with sequence numbers from 0', () => {
    const ran = after([veventq(), ON_NESTED, trigger, trigger, { op: 'FD_READ', args: { fd: 4 } }], VIOMMU);
    expect(ran[4]?.out).toEqual({ records: [event(0), event(1)] });
  });
  it('a full queue takes one lost-events header, replaced by the next event once there is room', () => {
    const ran = after(
      [veventq(), ON_NESTED, trigger, trigger, trigger, trigger, { op: 'FD_READ', args: { fd: 4, count: 12 } }, trigger, { op: 'FD_READ', args: { fd: 4 } }],
      VIOMMU,
    );
    expect(ran[6]?.out).toEqual({ records: [event(0)] });
    expect(ran[8]?.out).toEqual({ records: [event(1), event(4)] });
  });
  it('reading the lost-events header alone', () => {
    const ran = after([veventq({ veventq_depth: 1 }), ON_NESTED, trigger, trigger, { op: 'FD_READ', args: { fd: 4 } }], VIOMMU);
    expect(ran[4]?.out).toEqual({ records: [event(0), { flags: 1n, sequence: 1n }] });
  });
  it('a vEVENTQ fd has no write → EINVAL', () => {
    failedAt(after([veventq(), { op: 'FD_WRITE', args: { fd: 4, records: [] } }], VIOMMU)[1], 'EINVAL vfs_write: a vEVENTQ fd has no write');
  });
});
