/**
 * One ioctl number, two drivers' structs (VFIO_BASE + 12: VFIO_IOMMU_GET_INFO and
 * VFIO_IOMMU_SPAPR_TCE_GET_INFO): the driver that answers copies its own struct, and the caller
 * reads those bytes through its op's struct; the trace it writes replays as recorded.
 */
import { describe, expect, it } from 'vitest';
import { parseTraceText } from '../../events/index.ts';
import { formatEvent } from '../../events/trace-writer.ts';
import type { Fields, TraceEvent } from '../../events/types.ts';
import { Replayer } from '../../replay/replayer.ts';
import { runTrace } from '../harness.ts';
import { CONTAINER, HOST, host } from './native-fixtures.ts';

const spaprInfo = (argsz: number) => ({ op: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', args: { argsz } });
const type1Info = (argsz: number) => ({ op: 'VFIO_IOMMU_GET_INFO', args: { argsz } });
const POWER = host({ devices: [{ name: 'p', kind: 'spapr', group: 7 }] });

/** Runs `events` after a container of `type`, then replays the trace written from their answers. */
function recordAndReplay(type: string, events: readonly object[], header: object): Fields[] {
  const ran = runTrace([...CONTAINER(type), ...events], header);
  const lines = ran.map((r) => formatEvent({ ...r.event, expect: { ...r.event.expect, errno: r.outcome.result?.errno ?? undefined, out: r.out } } as TraceEvent));
  const parsed = parseTraceText([JSON.stringify(header), ...lines].join('\n'), 'recorded.jsonl');
  const replayer = new Replayer(parsed.header, { ownChoices: false });
  expect(parsed.events.map((e) => replayer.feed(e).outcome)).toEqual(parsed.events.map(() => 'ok'));
  return ran.slice(CONTAINER(type).length).map((r) => r.out);
}

const lo32 = (v: unknown): bigint => BigInt.asUintN(32, v as bigint);
const hi32 = (v: unknown): bigint => (v as bigint) >> 32n;

describe('SPAPR_TCE_GET_INFO on a type1 container: type1 answers, the caller reads struct vfio_iommu_type1_info as its own', () => {
  it('16 bytes copied: flags, then iova_pgsizes split into the 32-bit window start and size; argsz is not an output of the op', () => {
    const [spapr, type1] = recordAndReplay('TYPE1v2_IOMMU', [spaprInfo(16), type1Info(16)], HOST);
    expect(spapr).toEqual({ flags: type1?.['flags'], dma32_window_start: lo32(type1?.['iova_pgsizes']), dma32_window_size: hi32(type1?.['iova_pgsizes']) });
  });
  it('min(argsz, 24) bytes: cap_offset and the pad reach ddw.pgsizes, not the rest of ddw', () => {
    const [spapr, type1] = recordAndReplay('TYPE1v2_IOMMU', [spaprInfo(32), type1Info(32)], HOST);
    expect(type1?.['cap_offset']).toBe(0n);
    expect(spapr?.['ddw']).toEqual({ pgsizes: 0n });
  });
  it('with the capability chain copied, ddw reads cap_offset and the first capability header (MIGRATION, version 1, next at 24 + 32)', () => {
    const [spapr, type1] = recordAndReplay('TYPE1v2_IOMMU', [spaprInfo(200), type1Info(200)], HOST);
    const first = (type1?.['caps'] as Fields[])[0];
    expect(first?.['id']).toBe(2n);
    expect(spapr?.['ddw']).toEqual({ pgsizes: 24n, max_dynamic_windows_supported: 2n | (1n << 16n), levels: 56n });
  });
});

describe('VFIO_IOMMU_GET_INFO on a SPAPR TCE container: SPAPR answers, the caller reads struct vfio_iommu_spapr_tce_info as type1', () => {
  it('argsz back as given, flags, and the 32-bit window as iova_pgsizes; through ddw, its pgsizes low half is cap_offset', () => {
    const [type1Short, spaprShort, type1Long, spaprLong] = recordAndReplay('SPAPR_TCE_v2_IOMMU', [type1Info(16), spaprInfo(16), type1Info(32), spaprInfo(32)], POWER);
    const window = (s: Fields | undefined): bigint => (s?.['dma32_window_start'] as bigint) | ((s?.['dma32_window_size'] as bigint) << 32n);
    expect(type1Short).toEqual({ argsz: 16n, flags: spaprShort?.['flags'], iova_pgsizes: window(spaprShort) });
    const ddw = spaprLong?.['ddw'] as Fields;
    expect(type1Long).toEqual({ argsz: 32n, flags: spaprLong?.['flags'], iova_pgsizes: window(spaprLong), cap_offset: lo32(ddw['pgsizes']) });
  });
});
