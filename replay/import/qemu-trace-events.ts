/**
 * QEMU's trace events as calls: each event that stands for an ioctl (the iommufd backend's, the
 * cdev's, and with a legacy container the memory listener's) becomes the call it logs, with
 * its arguments by name as the trace-events format prints them; the others add to the log's
 * facts or are read and left out.
 */
import { hex } from '../../events/value-writer.ts';
import { type CallJoiner, IOAS_MAP_FLAGS, LEGACY_MAP_FLAGS, type QemuCall } from './qemu-calls.ts';
import { type LogFacts, noteFact } from './qemu-facts.ts';
import { messageFacts } from './qemu-messages.ts';
import { errnoOfReturn } from './strerror.ts';

type Args = { readonly [arg: string]: string };

const num = (s: string | undefined): number => Number(s);
/** A `%p` argument: `0x...`, or glibc's `(nil)`. */
const pointer = (s: string | undefined): bigint => (s === undefined || s === '(nil)' ? 0n : BigInt(s));
/** A `0x%llx` argument: the digits after the `0x` the format prints. */
const fromHex = (s: string | undefined): bigint => BigInt(`0x${s ?? '0'}`);

/** The result of a backend trace's `(%d)`: 0 succeeded; otherwise the errno comes from the lines after. */
const rawResult = (ret: string | undefined): NonNullable<QemuCall['result']> => (num(ret) === 0 ? {} : { errno: '*' });

/**
 * A trace whose last argument is `ret ? errno : 0` (`sign` 1) or `ret ? -errno : 0` (`sign` -1):
 * the errno itself. A value of the other sign is a raw return (`-1`, as versions of the event
 * posted before the merged one print): a failure whose errno the lines after give.
 */
const errnoResult = (ret: string | undefined, sign: 1 | -1, out?: Json): NonNullable<QemuCall['result']> => {
  const n = num(ret) * sign;
  if (n === 0) return out === undefined ? {} : { out };
  return { errno: n > 0 ? (errnoOfReturn(-BigInt(n)) ?? '*') : '*' };
};

type Json = { [key: string]: unknown };

/** A trace event: a call, or the facts of a line that stands for no ioctl of the format. */
export function traceCall(name: string, a: Args, line: number, facts: LogFacts, joiner: CallJoiner, backend: 'iommufd' | 'legacy'): void {
  const fd = (s: string | undefined) => ({ kind: 'fd', fd: num(s) }) as const;
  const add = (call: Omit<QemuCall, 'at' | 'open' | 'line'>, open: QemuCall['open'] = null) =>
    // A failure's message follows its trace line, and may give the errno the trace does not.
    joiner.add({ ...call, line, open: call.result?.errno !== undefined ? 'text' : open });
  switch (name) {
    case 'iommufd_cdev_getfd': {
      const m = /^\/dev\/vfio\/devices\/(?:noiommu-)?vfio(\d+)$/.exec(a['dev'] ?? '');
      if (m !== null) facts.cdevOfFd.set(num(a['devfd']), Number(m[1]));
      add({ op: 'OPEN', target: { kind: 'process' }, args: { path: a['dev'] }, result: { out: { fd: num(a['devfd']) } } });
      return;
    }
    case 'iommufd_backend_connect':
      // iommufd_backend_connect(): QEMU opens /dev/iommu for its first user when it owns the backend.
      if (num(a['owned']) === 1 && num(a['users']) === 1) {
        add({ op: 'OPEN', target: { kind: 'process' }, args: { path: '/dev/iommu' }, result: { out: { fd: num(a['fd']) } } });
      }
      return;
    case 'iommufd_backend_disconnect':
      // iommufd_backend_disconnect(): the last user closes an owned fd, and the trace then prints fd=-1.
      if (num(a['users']) === 0 && num(a['fd']) === -1) add({ op: 'CLOSE', target: { kind: 'backend' }, args: {} });
      return;
    case 'iommufd_cdev_connect_and_bind': {
      const device = a['name'] as string;
      facts.deviceFd.set(device, num(a['devfd']));
      facts.devid.set(device, num(a['devid']));
      add({ op: 'VFIO_DEVICE_BIND_IOMMUFD', target: { kind: 'device', name: device }, args: { iommufd: num(a['iommufd']) }, result: { out: { out_devid: num(a['devid']) } } });
      return;
    }
    case 'iommufd_backend_alloc_ioas':
      add({ op: 'IOAS_ALLOC', target: fd(a['iommufd']), args: {}, result: { out: { out_ioas_id: num(a['ioas']) } } });
      return;
    case 'iommufd_cdev_attach_ioas_hwpt':
      facts.deviceFd.set(a['name'] as string, num(a['devfd']));
      add({ op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', target: { kind: 'device', name: a['name'] as string }, args: { pt_id: num(a['id']) }, result: {} });
      return;
    case 'iommufd_cdev_fail_attach_existing_container': {
      // iommufd_cdev_attach(): an attach to a container QEMU already has failed, and the trace prints its error, the message of the failed ioctl.
      const found = messageFacts(a['msg'] ?? '');
      if (found === null) facts.notImported.push(`${line}: ${name}: a message the importer does not read`);
      for (const fact of found ?? []) noteFact(fact, line, facts);
      for (const fact of found ?? []) joiner.fact(fact, line);
      return;
    }
    case 'iommufd_cdev_detach_ioas_hwpt':
      add({ op: 'VFIO_DEVICE_DETACH_IOMMUFD_PT', target: { kind: 'device', name: a['name'] as string }, args: {}, result: {} });
      return;
    case 'iommufd_cdev_device_info':
      facts.infoLine.set(a['name'] as string, line);
      facts.notImported.push(`${line}: ${name}: VFIO_DEVICE_GET_INFO succeeded; it is not an op of the trace format`);
      return;
    case 'vfio_mdev':
      if (num(a['is_mdev']) === 1) facts.mdev.add(a['name'] as string);
      return;
    case 'iommufd_backend_map_dma':
      add({
        op: 'IOAS_MAP',
        target: fd(a['iommufd']),
        args: { ioas_id: num(a['ioas']), flags: IOAS_MAP_FLAGS(num(a['readonly']) !== 0), user_va: hex(pointer(a['vaddr'])), length: hex(fromHex(a['size'])), iova: hex(fromHex(a['iova'])) },
        result: rawResult(a['ret']),
      });
      return;
    case 'iommufd_backend_map_file_dma':
      add({
        op: 'IOAS_MAP_FILE',
        target: fd(a['iommufd']),
        args: { ioas_id: num(a['ioas']), flags: IOAS_MAP_FLAGS(num(a['readonly']) !== 0), fd: num(a['fd']), start: hex(BigInt(a['start'] ?? '0')), length: hex(fromHex(a['size'])), iova: hex(fromHex(a['iova'])) },
        result: rawResult(a['ret']),
      });
      return;
    case 'iommufd_backend_unmap_dma':
    case 'iommufd_backend_unmap_dma_non_exist':
      add({
        op: 'IOAS_UNMAP',
        target: fd(a['iommufd']),
        args: { ioas_id: num(a['ioas']), iova: hex(fromHex(a['iova'])), length: hex(fromHex(a['size'])) },
        // iommufd_backend_unmap_dma(): QEMU logs an ENOENT under its own event and calls it success.
        result: name.endsWith('_non_exist') ? { errno: 'ENOENT' } : rawResult(a['ret']),
      });
      return;
    case 'iommufd_backend_free_id':
      add({ op: 'DESTROY', target: fd(a['iommufd']), args: { id: num(a['id']) }, result: rawResult(a['ret']) });
      return;
    case 'iommufd_backend_alloc_hwpt':
      add({
        op: 'HWPT_ALLOC',
        target: fd(a['iommufd']),
        args: { dev_id: num(a['dev_id']), pt_id: num(a['pt_id']), flags: num(a['flags']), data_type: num(a['hwpt_type']), data_len: num(a['len']), data_uptr: hex(fromHex(a['data_ptr'])) },
        result: num(a['ret']) === 0 ? { out: { out_hwpt_id: num(a['out_hwpt_id']) } } : { errno: '*' },
      });
      return;
    case 'iommufd_backend_set_dirty':
      // iommufd_backend_set_dirty_tracking(): `ret ? errno : 0`.
      add({ op: 'HWPT_SET_DIRTY_TRACKING', target: fd(a['iommufd']), args: { hwpt_id: num(a['hwpt_id']), flags: num(a['start']) }, result: errnoResult(a['ret'], 1) });
      return;
    case 'iommufd_backend_get_dirty_bitmap':
      // iommufd_backend_get_dirty_bitmap(): `ret ? errno : 0`; the bitmap's address is not printed.
      add({
        op: 'HWPT_GET_DIRTY_BITMAP',
        target: fd(a['iommufd']),
        args: { hwpt_id: num(a['hwpt_id']), flags: hex(fromHex(a['flags'])), iova: hex(fromHex(a['iova'])), length: hex(fromHex(a['size'])), page_size: hex(fromHex(a['page_size'])) },
        unknown: ['data'],
        result: errnoResult(a['ret'], 1),
      });
      return;
    case 'iommufd_backend_invalidate_cache':
      // iommufd_backend_invalidate_cache(): `ret ? errno : 0`, and the entries the kernel handled (written back to entry_num); the entries themselves are not printed, only where they were.
      add({
        op: 'HWPT_INVALIDATE',
        target: fd(a['iommufd']),
        args: { hwpt_id: num(a['id']), data_type: num(a['data_type']), entry_len: num(a['entry_len']), entry_num: num(a['entry_num']) },
        unknown: ['data_uptr'],
        result: errnoResult(a['ret'], 1, { entry_num: num(a['done_num']) }),
      });
      return;
    case 'iommufd_backend_alloc_viommu':
      // The trace-events format prints its second argument (dev_id) after `type=` and its third after `dev_id=`: read by position, each is the argument it is.
      add({
        op: 'VIOMMU_ALLOC',
        target: fd(a['iommufd']),
        args: { flags: 0, type: num(a['type']), dev_id: num(a['dev_id']), hwpt_id: num(a['hwpt_id']) },
        result: num(a['ret']) === 0 ? { out: { out_viommu_id: num(a['viommu_id']) } } : { errno: '*' },
      });
      return;
    case 'iommufd_backend_alloc_vdev':
      add({
        op: 'VDEVICE_ALLOC',
        target: fd(a['iommufd']),
        args: { viommu_id: num(a['viommu_id']), dev_id: num(a['dev_id']), virt_id: hex(fromHex(a['virt_id'])) },
        result: num(a['ret']) === 0 ? { out: { out_vdevice_id: num(a['vdev_id']) } } : { errno: '*' },
      });
      return;
    case 'vfio_spapr_create_window':
      // vfio_spapr_create_window(): printed only once VFIO_IOMMU_SPAPR_TCE_CREATE succeeded where QEMU asked (`offset` is the start_addr written back).
      facts.power ??= { line, event: name };
      add({
        op: 'VFIO_IOMMU_SPAPR_TCE_CREATE',
        target: { kind: 'container', container: null },
        args: { flags: 0, page_shift: num(`0x${a['ps']}`), window_size: hex(fromHex(a['ws'])), levels: num(a['levels']) },
        result: { out: { start_addr: hex(fromHex(a['off'])) } },
      });
      return;
    case 'vfio_spapr_remove_window':
      // vfio_spapr_remove_window(): printed only after VFIO_IOMMU_SPAPR_TCE_REMOVE succeeded.
      facts.power ??= { line, event: name };
      add({ op: 'VFIO_IOMMU_SPAPR_TCE_REMOVE', target: { kind: 'container', container: null }, args: { flags: 0, start_addr: hex(fromHex(a['off'])) }, result: {} });
      return;
    case 'vfio_prereg_register':
    case 'vfio_prereg_unregister':
      // vfio_prereg_listener_region_add(), _del(): `ret ? -errno : 0`.
      facts.power ??= { line, event: name };
      add({
        op: name === 'vfio_prereg_register' ? 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY' : 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY',
        target: { kind: 'container', container: null },
        args: { flags: 0, vaddr: hex(fromHex(a['va'])), size: hex(fromHex(a['size'])) },
        result: errnoResult(a['ret'], -1),
      });
      return;
    case 'vfio_spapr_group_attach':
      // KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE on the KVM VFIO device: no VFIO or iommufd ioctl, but a POWER host.
      facts.power ??= { line, event: name };
      facts.notImported.push(`${line}: ${name}: a KVM device ioctl, not one of the trace format`);
      return;
    case 'vfio_region_dmabuf': {
      // vfio_region_create_dma_buf(): a GET of DMA_BUF, O_RDWR, for the BAR QEMU names "<device> BAR <n>",
      // with a range per mmap of it; QEMU prints a line per range after the ioctl, and not its fd.
      const range = { offset: hex(fromHex(a['offset'])), length: hex(fromHex(a['size'])) };
      const bar = /BAR (\d+)$/.exec(a['name'] ?? '');
      const device = a['dev'] as string;
      const last = joiner.calls.at(-1);
      const region = bar === null ? undefined : num(bar[1]);
      if (region !== undefined && last?.op === 'VFIO_DEVICE_FEATURE' && last.target.kind === 'device' && last.target.name === device && last.args['region_index'] === region) {
        (last.args['ranges'] as object[]).push(range);
        return;
      }
      add({
        op: 'VFIO_DEVICE_FEATURE',
        target: { kind: 'device', name: device },
        args: { feature: 'DMA_BUF', flags: ['GET'], ...(region === undefined ? {} : { region_index: region }), open_flags: ['RDWR'], ranges: [range] },
        ...(region === undefined ? { unknown: ['region_index'] } : {}),
      });
      return;
    }
    case 'vfio_listener_region_add_ram':
      // With the iommufd backend, the backend's own event is the ioctl; the listener's is its twin.
      if (backend === 'legacy') {
        const start = fromHex(a['iova_start']);
        add(
          {
            op: 'VFIO_IOMMU_MAP_DMA',
            target: { kind: 'container', container: null },
            args: { vaddr: hex(pointer(a['vaddr'])), iova: hex(start), size: hex(fromHex(a['iova_end']) - start + 1n) },
            oneOf: { flags: LEGACY_MAP_FLAGS },
          },
          'text',
        );
      }
      return;
    case 'vfio_listener_region_del':
      if (backend === 'legacy') {
        const start = fromHex(a['start']);
        add({ op: 'VFIO_IOMMU_UNMAP_DMA', target: { kind: 'container', container: null }, args: { iova: hex(start), size: hex(fromHex(a['end']) - start + 1n) } }, 'text');
      }
      return;
    default:
      if (name.startsWith('iommufd_backend_') || name === 'iommufd_change_process' || name === 'iommufd_viommu_alloc_eventq') {
        facts.notImported.push(`${line}: ${name}: the importer does not read this event's ioctl yet`);
      }
  }
}
