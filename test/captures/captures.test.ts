/**
 * Every vendored capture (this folder, README.md, PROVENANCE.md) either imports, and replays
 * with the model's verdict, or is refused with its one-line reason; the counts are pinned here.
 * docs/captures.md explains each divergence left, and the ioctl calls whose result the
 * captures record: how many replay ok, per format.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPS } from '../../events/ops.ts';
import type { TraceEvent } from '../../events/types.ts';
import type { World } from '../../src/model/world.ts';
import { type CaptureFormat, importCapture } from '../../replay/import/import.ts';
import { type Counts, type Outcome, Replayer } from '../../replay/replayer.ts';
import { captureFile } from '../import/capture-files.ts';

const DIR = import.meta.dirname;

/** The format a capture's name gives (README.md: `qemu-log.*`, `strace.*`, `syz.*`; kernel-side logs are offered as QEMU logs). */
const formatOf = (file: string): CaptureFormat => (file.startsWith('strace.') ? 'strace' : file.startsWith('syz.') ? 'syz' : 'qemu');

const CAPTURES = readdirSync(DIR)
  .filter((f) => /\.(txt|syz|c)$/.test(f))
  .sort();

type Pinned = { readonly refused: string } | (Omit<Counts, 'events'> & { readonly events: number; readonly unread: number });

/** What each capture comes to: `unread` lines, then the replay's counts. */
const PINNED: { readonly [file: string]: Pinned } = {
  'ftrace.qemu-devel-goncharuk-iommu-map-20200113.txt': {
    refused: 'an ftrace log (/sys/kernel/debug/tracing/trace): the kernel side of a run, with no QEMU log to join it to; import the QEMU log',
  },
  'kernel-log.kvm-yiliu-iommufd-rfc-iopt-unmap-20220413.txt': {
    refused: 'a kernel log (dmesg): the kernel side of a run, with no QEMU log to join it to; import the QEMU log',
  },
  'qemu-log.kvm-kolothum-iommufd-hotunplug-20230314.txt': { unread: 0, events: 6, ok: 4, diverged: 2, ran: 0, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.kvm-yiliu-iommufd-rfc-vtd-eaddrinuse-20220413.txt': { unread: 1, events: 6, ok: 5, diverged: 1, ran: 0, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.lkml-bonaccorso-zeropage-regression-enomem-20250415.txt': { unread: 0, events: 5, ok: 2, diverged: 0, ran: 2, unknown: 1, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.lkml-xueshuai-iommufd-dmabuf-20251113.txt': { unread: 0, events: 10, ok: 9, diverged: 0, ran: 1, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.martins3-blog-vfio-map-dma-errors.txt': { unread: 10, events: 25, ok: 4, diverged: 6, ran: 4, unknown: 11, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.qemu-devel-clg-uefi-ioas-map-einval-20231117.txt': { unread: 0, events: 4, ok: 2, diverged: 2, ran: 0, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.qemu-devel-clg-vfio-ap-20240722.txt': { unread: 0, events: 11, ok: 9, diverged: 0, ran: 1, unknown: 1, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.qemu-devel-duan-ioas-unmap-enoent-20230601.txt': { unread: 0, events: 4, ok: 4, diverged: 0, ran: 0, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.qemu-devel-goncharuk-syslog-20200113.txt': { unread: 0, events: 9, ok: 2, diverged: 0, ran: 7, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.qemu-devel-horon-postcopy-efault-20230828.txt': { unread: 0, events: 5, ok: 2, diverged: 1, ran: 2, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.qemu-devel-makatos-overlap-20210507.txt': { unread: 0, events: 10, ok: 2, diverged: 1, ran: 7, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.qemu-devel-sistare-mtty-20240910.txt': { unread: 0, events: 9, ok: 8, diverged: 0, ran: 0, unknown: 1, unsupported: 0, unsure_diverged: 0 },
  'qemu-log.unknown-blog-rx7900-vfio-map-dma-enomem.txt': { unread: 0, events: 5, ok: 2, diverged: 1, ran: 2, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'strace.cpaelzer-blog-vfio-slow-startup-ppc64.txt': { unread: 0, events: 5, ok: 2, diverged: 1, ran: 1, unknown: 1, unsupported: 0, unsure_diverged: 0 },
  'strace.cpaelzer-blog-vfio-slow-startup-x86.txt': { unread: 0, events: 5, ok: 1, diverged: 0, ran: 0, unknown: 4, unsupported: 0, unsure_diverged: 0 },
  'strace.qemu-devel-duan-intel-iommu-unmap-20230601.txt': { unread: 0, events: 4, ok: 2, diverged: 0, ran: 1, unknown: 1, unsupported: 0, unsure_diverged: 0 },
  'strace.qemu-devel-duan-intel-iommu-unmap-raw-20230525.txt': { unread: 0, events: 4, ok: 2, diverged: 0, ran: 1, unknown: 1, unsupported: 0, unsure_diverged: 0 },
  'syz.syzkaller-csource-testdata-1.expected.c': { refused: 'not a C reproducer: no main() or execute_one()' },
  'syz.syzkaller-csource-testdata-1.syz': { unread: 0, events: 5, ok: 0, diverged: 0, ran: 5, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230224-iommufd_test.c': { unread: 0, events: 2, ok: 0, diverged: 0, ran: 2, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230314-iopt_area_unfill_domain.c': { unread: 0, events: 24, ok: 2, diverged: 0, ran: 22, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230314-pfn_reader_user_pin.syz': { unread: 0, events: 9, ok: 0, diverged: 0, ran: 9, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230328-pfn_reader_user_pin-min.c': { unread: 0, events: 9, ok: 0, diverged: 0, ran: 9, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230328-pfn_reader_user_pin-min.syz': { unread: 0, events: 9, ok: 0, diverged: 0, ran: 9, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230614-iopt_remove_access.c': { unread: 0, events: 338, ok: 2, diverged: 0, ran: 336, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230614-iopt_remove_access.syz': { unread: 0, events: 338, ok: 2, diverged: 0, ran: 336, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230801-iommu_device_unlink.c': { unread: 0, events: 2, ok: 0, diverged: 0, ran: 2, unknown: 0, unsupported: 0, unsure_diverged: 0 },
  'syz.xupengfe-230801-iommu_device_unlink.syz': { unread: 0, events: 2, ok: 0, diverged: 0, ran: 2, unknown: 0, unsupported: 0, unsure_diverged: 0 },
};

/** The capture imported and replayed, each event with how it came out; or why it was refused. */
function outcome(file: string, header?: object) {
  const headerFile = header === undefined ? undefined : captureFile([JSON.stringify(header)], `${file}.header.json`);
  let imported;
  try {
    imported = importCapture(formatOf(file), join(DIR, file), headerFile === undefined ? {} : { header: headerFile });
  } catch (e) {
    return { refused: (e as Error).message.replace(`${join(DIR, file)}: `, '') };
  }
  const r = new Replayer(imported.trace.header, { ownChoices: false });
  const events: { event: TraceEvent; outcome: Outcome }[] = imported.trace.events.map((event) => ({ event, outcome: r.feed(event).outcome }));
  return { counts: { unread: imported.issues.length, ...r.counts }, events, divergences: r.divergences };
}

/** An ioctl call whose result the capture records: not added by the importer, not an environment op, with a result not inferred. */
const recorded = (e: TraceEvent): boolean =>
  e.expect !== undefined && e.inferred !== true && OPS.get(e.op)?.family !== 'env' && !(typeof e.extra['note'] === 'string' && e.extra['note'].startsWith('added:'));

describe('the vendored captures', () => {
  it('are the ones pinned here', () => {
    expect(CAPTURES).toEqual(Object.keys(PINNED).sort());
  });
  for (const file of CAPTURES) {
    it(file, () => {
      const got = outcome(file);
      const pinned = PINNED[file] as Pinned;
      if ('refused' in pinned) expect(got).toEqual({ refused: pinned.refused });
      else expect('counts' in got ? got.counts : got).toEqual(pinned);
    });
  }
});

describe('ioctl calls whose result the captures record (docs/captures.md)', () => {
  const calls = (format: CaptureFormat) =>
    CAPTURES.filter((f) => formatOf(f) === format).flatMap((f) => {
      const got = outcome(f);
      return 'events' in got ? got.events.filter((e) => recorded(e.event)).map((e) => `${f}:${e.event.sourceLine} ${e.event.op} ${e.outcome}`) : [];
    });
  const tally = (list: readonly string[]) => ({ calls: list.length, ok: list.filter((c) => c.endsWith(' ok')).length });
  it('QEMU logs: 24 of 52 ok', () => {
    expect(tally(calls('qemu'))).toEqual({ calls: 52, ok: 24 });
  });
  it('strace: 0 of 8 ok (6 with unknown arguments; the ppc64 container set up before the capture began)', () => {
    expect(tally(calls('strace'))).toEqual({ calls: 8, ok: 0 });
  });
  it('syzkaller programs record no results', () => {
    expect(tally(calls('syz'))).toEqual({ calls: 0, ok: 0 });
  });
});

describe('the mdev captures: emulated devices (vfio_iommufd_emulated_bind)', () => {
  /** The pages the world's pages objects hold pinned, summed. */
  const pinnedPages = (w: World): bigint => {
    let n = 0n;
    for (const c of w.contexts.values()) for (const p of c.pages.values()) for (const r of p.pins) n += r.last - r.first + 1n;
    return n;
  };
  /** The capture replayed: the most pages held pinned after any event, and the result the model gives each event it can run. */
  const replayed = (file: string) => {
    const { trace } = importCapture('qemu', join(DIR, file), {});
    const r = new Replayer(trace.header, { ownChoices: false });
    let peak = 0n;
    const results: string[] = [];
    for (const event of trace.events) {
      // GET_HW_INFO's data_len and data_uptr are not logged: run it with an empty buffer, which the kernel never reads here.
      const { unknownArgs: _unknown, ...known } = event;
      const run: TraceEvent = event.op === 'GET_HW_INFO' && event.args !== null ? { ...known, args: { ...event.args, fields: { ...event.args.fields, data_len: 0n, data_uptr: 0n } } } : event;
      const { result } = r.feed(run);
      if (result !== null) results.push(`${event.op} ${result.errno ?? 0}`);
      const p = pinnedPages(r.world);
      if (p > peak) peak = p;
    }
    return { peak, results };
  };
  it('vfio-ap: the 8 GiB IOAS_MAP pins nothing, and GET_HW_INFO of the access id is ENOENT as the log shows', () => {
    const got = replayed('qemu-log.qemu-devel-clg-vfio-ap-20240722.txt');
    expect(got.peak).toBe(0n);
    expect(got.results).toContain('IOAS_MAP 0');
    expect(got.results).toContain('GET_HW_INFO ENOENT');
  });
  it('mtty: nothing is pinned, and GET_HW_INFO is ENOENT', () => {
    const got = replayed('qemu-log.qemu-devel-sistare-mtty-20240910.txt');
    expect(got.peak).toBe(0n);
    expect(got.results).toContain('GET_HW_INFO ENOENT');
  });
});

describe('what --header says changes the verdict where the capture cannot say', () => {
  it('a memlock limit: the RX 7900 map of 2 GiB of guest RAM fails with ENOMEM as the capture shows', () => {
    const got = outcome('qemu-log.unknown-blog-rx7900-vfio-map-dma-enomem.txt', { env: { processes: [{ pid: 1, uid: 1000, rlimit_memlock: '0x4000000', caps: [] }] } });
    expect('counts' in got && got.counts).toMatchObject({ ok: 3, diverged: 0 });
  });
  it("a device per container, the second with a 39-bit aperture: the maps at 0x380000000000 fail with EINVAL", () => {
    const devices = [
      { name: 'nvme', kind: 'smmu', group: 3 },
      { name: 'gpu', kind: 'vtd', group: 4, aperture: { start: 0, last: '0x7fffffffff' } },
    ];
    const got = outcome('qemu-log.martins3-blog-vfio-map-dma-errors.txt', { env: { devices } });
    expect('counts' in got && got.counts).toMatchObject({ ok: 10, diverged: 0, unknown: 11 });
  });
  it('a POWER host: VFIO_SET_IOMMU(SPAPR_TCE_v2) succeeds on a container with a spapr group', () => {
    const got = outcome('strace.cpaelzer-blog-vfio-slow-startup-ppc64.txt', { env: { devices: [{ name: 'pe0', kind: 'spapr', group: 1 }] } });
    expect('counts' in got && got.counts).toMatchObject({ ok: 3, diverged: 0, unknown: 1 });
  });
});
