/**
 * QEMU's trace events as calls: each event that stands for an ioctl (the iommufd backend's, the
 * cdev's, and with a legacy container the memory listener's) becomes the call it logs, with
 * its arguments by name as the trace-events format prints them; the others add to the log's
 * facts or are read and left out.
 */
import { hex } from '../../events/value-writer.ts';
import { type CallJoiner, IOAS_MAP_FLAGS, LEGACY_MAP_FLAGS, type QemuCall } from './qemu-calls.ts';
import type { LogFacts } from './qemu-facts.ts';
import { errnoOfReturn } from './strerror.ts';

type Args = { readonly [arg: string]: string };

const num = (s: string | undefined): number => Number(s);
/** A `%p` argument: `0x...`, or glibc's `(nil)`. */
const pointer = (s: string | undefined): bigint => (s === undefined || s === '(nil)' ? 0n : BigInt(s));
/** A `0x%llx` argument: the digits after the `0x` the format prints. */
const fromHex = (s: string | undefined): bigint => BigInt(`0x${s ?? '0'}`);

/** The result of a backend trace's `(%d)`: 0 succeeded; otherwise the errno comes from the lines after. */
const rawResult = (ret: string | undefined): NonNullable<QemuCall['result']> => (num(ret) === 0 ? {} : { errno: '*' });

/** A trace event: a call, or the facts of a line that stands for no ioctl of the format. */
export function traceCall(name: string, a: Args, line: number, facts: LogFacts, joiner: CallJoiner, backend: 'iommufd' | 'legacy'): void {
  const fd = (s: string | undefined) => ({ kind: 'fd', fd: num(s) }) as const;
  const add = (call: Omit<QemuCall, 'at' | 'open' | 'line'>, open: QemuCall['open'] = null) =>
    joiner.add({ ...call, line, open: call.result?.errno === '*' ? 'text' : open });
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
      // Its last argument is the errno itself (positive), not the raw return.
      add({
        op: 'HWPT_SET_DIRTY_TRACKING',
        target: fd(a['iommufd']),
        args: { hwpt_id: num(a['hwpt_id']), flags: num(a['start']) },
        result: num(a['ret']) === 0 ? {} : { errno: errnoOfReturn(-BigInt(num(a['ret']))) ?? '*' },
      });
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
