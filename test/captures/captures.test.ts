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
import { type CaptureFormat, type ImportResult, importCapture } from '../../replay/import/import.ts';
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
    refused:
      'an ftrace log (/sys/kernel/debug/tracing/trace): the kernel side of a run, with no QEMU log to join it to; import the QEMU log with --join ftrace.qemu-devel-goncharuk-iommu-map-20200113.txt',
  },
  'kernel-log.kvm-yiliu-iommufd-rfc-iopt-unmap-20220413.txt': {
    refused:
      'a kernel log (dmesg): the kernel side of a run, with no QEMU log to join it to; import the QEMU log with --join kernel-log.kvm-yiliu-iommufd-rfc-iopt-unmap-20220413.txt',
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
  'strace.cpaelzer-blog-vfio-slow-startup-ppc64.txt': { unread: 0, events: 5, ok: 3, diverged: 0, ran: 1, unknown: 1, unsupported: 0, unsure_diverged: 0 },
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

/** The kernel-side logs of a QEMU log's run (README.md), which `--join` joins to it. */
const JOINS: { readonly [file: string]: readonly string[] } = {
  'qemu-log.qemu-devel-goncharuk-syslog-20200113.txt': ['ftrace.qemu-devel-goncharuk-iommu-map-20200113.txt'],
  'qemu-log.kvm-yiliu-iommufd-rfc-vtd-eaddrinuse-20220413.txt': ['kernel-log.kvm-yiliu-iommufd-rfc-iopt-unmap-20220413.txt'],
};

type Replayed =
  | { readonly refused: string }
  | {
      readonly counts: Counts & { readonly unread: number };
      readonly events: { event: TraceEvent; outcome: Outcome }[];
      readonly trace: ImportResult['trace'];
      /** The joined kernel-side logs' warnings. */
      readonly kernelSide: ImportResult['issues'];
    };

/** The capture imported (with `joined` kernel-side logs) and replayed, each event with how it came out; or why it was refused. */
function outcome(file: string, header?: object, joined: readonly string[] = []): Replayed {
  const headerFile = header === undefined ? undefined : captureFile([JSON.stringify(header)], `${file}.header.json`);
  let imported;
  try {
    const joinOption = joined.length === 0 ? {} : { join: joined.map((j) => join(DIR, j)) };
    imported = importCapture(formatOf(file), join(DIR, file), { ...joinOption, ...(headerFile === undefined ? {} : { header: headerFile }) });
  } catch (e) {
    return { refused: (e as Error).message.replace(`${join(DIR, file)}: `, '') };
  }
  const r = new Replayer(imported.trace.header, { ownChoices: false });
  const events: { event: TraceEvent; outcome: Outcome }[] = imported.trace.events.map((event) => ({ event, outcome: r.feed(event).outcome }));
  const unread = imported.issues.filter((i) => i.file === undefined).length;
  return { counts: { unread, ...r.counts }, events, trace: imported.trace, kernelSide: imported.issues.filter((i) => i.file !== undefined) };
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

/** What `--header` gives two captures that cannot say it (tested in the last block): it changes their verdict. */
const HEADERS: { readonly [file: string]: object } = {
  'qemu-log.unknown-blog-rx7900-vfio-map-dma-enomem.txt': { env: { processes: [{ pid: 1, uid: 1000, rlimit_memlock: '0x4000000', caps: [] }] } },
  'qemu-log.martins3-blog-vfio-map-dma-errors.txt': {
    env: {
      devices: [
        { name: 'nvme', kind: 'smmu', group: 3 },
        { name: 'gpu', kind: 'vtd', group: 4, aperture: { start: 0, last: '0x7fffffffff' } },
      ],
    },
  },
};

describe('ioctl calls whose result the captures record (docs/captures.md), the kernel-side logs joined', () => {
  const calls = (format: CaptureFormat, headers: boolean) =>
    CAPTURES.filter((f) => formatOf(f) === format).flatMap((f) => {
      const got = outcome(f, headers ? HEADERS[f] : undefined, JOINS[f]);
      return 'events' in got ? got.events.filter((e) => recorded(e.event)).map((e) => `${f}:${e.event.sourceLine} ${e.event.op} ${e.outcome}`) : [];
    });
  const tally = (list: readonly string[]) => ({ calls: list.length, ok: list.filter((c) => c.endsWith(' ok')).length });
  it('QEMU logs: 29 of 57 ok; 36 with the headers', () => {
    expect(tally(calls('qemu', false))).toEqual({ calls: 57, ok: 29 });
    expect(tally(calls('qemu', true))).toEqual({ calls: 57, ok: 36 });
  });
  it('strace: 1 of 8 ok (6 with unknown arguments; the ppc64 SET_IOMMU makes its stand-in group a POWER one)', () => {
    expect(tally(calls('strace', false))).toEqual({ calls: 8, ok: 1 });
  });
  it('syzkaller programs record no results', () => {
    expect(tally(calls('syz', false))).toEqual({ calls: 0, ok: 0 });
  });
});

describe('a QEMU log joined with the kernel-side logs of its run (--join)', () => {
  it("goncharuk: the host ftrace's iommu map events make the five region_add maps recorded successes, each naming its ftrace line", () => {
    const file = 'qemu-log.qemu-devel-goncharuk-syslog-20200113.txt';
    const got = outcome(file, undefined, JOINS[file]);
    if (!('counts' in got)) throw new Error(got.refused);
    expect(got.counts).toEqual({ unread: 0, events: 9, ok: 7, diverged: 0, ran: 2, unknown: 0, unsupported: 0, unsure_diverged: 0 });
    expect(got.kernelSide).toEqual([]);
    const maps = got.events.filter((e) => e.event.op === 'VFIO_IOMMU_MAP_DMA');
    expect(maps.map((e) => [e.event.sourceLine, e.outcome, e.event.extra['note']])).toEqual(
      [7, 8, 9, 10, 11].map((line, i) => [line, 'ok', `kernel side: ftrace.qemu-devel-goncharuk-iommu-map-20200113.txt:${i + 2}: the kernel mapped the whole range`]),
    );
    expect(got.trace.header.extra['note']).toContain('Joined with an ftrace log');
  });
  it('yiliu: the RFC kernel\'s debug printk()s are no upstream message; each is a warning with its line, and the QEMU log imports as alone', () => {
    const file = 'qemu-log.kvm-yiliu-iommufd-rfc-vtd-eaddrinuse-20220413.txt';
    const got = outcome(file, undefined, JOINS[file]);
    if (!('counts' in got)) throw new Error(got.refused);
    expect(got.counts).toEqual(PINNED[file]);
    expect(got.kernelSide.map((i) => i.line)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(got.kernelSide[5]?.reason).toBe(
      'a kernel message the join cannot match (no upstream message gives a VFIO or iommufd ioctl\'s range): "iommufd_ioas_unmap 253 iova: ff000000 length: 1000000, rc: -2"',
    );
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
    const file = 'qemu-log.unknown-blog-rx7900-vfio-map-dma-enomem.txt';
    const got = outcome(file, HEADERS[file]);
    expect('counts' in got && got.counts).toMatchObject({ ok: 3, diverged: 0 });
  });
  it("a device per container, the second with a 39-bit aperture: the maps at 0x380000000000 fail with EINVAL", () => {
    const file = 'qemu-log.martins3-blog-vfio-map-dma-errors.txt';
    const got = outcome(file, HEADERS[file]);
    expect('counts' in got && got.counts).toMatchObject({ ok: 10, diverged: 0, unknown: 11 });
  });
  it('the ppc64 host: its SET_IOMMU(SPAPR_TCE_v2) makes the stand-in group a POWER one (inferred); a header device of another kind says otherwise', () => {
    const file = 'strace.cpaelzer-blog-vfio-slow-startup-ppc64.txt';
    const alone = outcome(file);
    expect('trace' in alone && alone.trace.header.env.devices.map((d) => [d.kind, d.params['inferred']])).toEqual([['spapr', true]]);
    const got = outcome(file, { env: { devices: [{ name: 'pe0', kind: 'vtd', group: 1 }] } });
    expect('counts' in got && got.counts).toMatchObject({ ok: 2, diverged: 1, unknown: 1 });
  });
});
