/**
 * The fds of the dma-bufs a QEMU log creates (VFIO_DEVICE_FEATURE DMA_BUF) are on none of its
 * lines: the branch's trace event does not print them. QEMU creates them one after another as
 * it maps each BAR, and passes them to IOAS_MAP_FILE later, and the kernel hands out the lowest
 * free fd each time; so the k-th creation is taken to have returned the k-th lowest fd the
 * log's IOAS_MAP_FILE calls name that no line shows being opened. Such an fd is an inferred
 * free choice, which the replay adopts.
 */
import type { QemuCall } from './qemu-calls.ts';

export function inferDmabufFds(calls: readonly QemuCall[]): void {
  const opened = new Set(calls.map((c) => c.result?.out?.['fd']).filter((fd) => typeof fd === 'number'));
  const mapped = calls.filter((c) => c.op === 'IOAS_MAP_FILE').map((c) => c.args['fd']);
  const fds = [...new Set(mapped.filter((fd): fd is number => typeof fd === 'number' && !opened.has(fd)))].sort((a, b) => a - b);
  calls
    .filter((c) => c.op === 'VFIO_DEVICE_FEATURE')
    .forEach((c, k) => {
      const fd = fds[k];
      if (fd === undefined) return;
      c.result = { out: { ret: fd } };
      c.inferred = true;
      c.note = 'ret is not in the log: the dma-bufs are taken to return, in order, the fds IOAS_MAP_FILE maps that no line opens, lowest first';
    });
}
