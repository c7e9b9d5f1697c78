/**
 * Hosts and event builders for the native VFIO tests: an x86 host with VT-d, two IOMMU groups
 * (group 7 with two functions, group 8 with one), the MSI window reserved as the kernel
 * reports it, and QEMU's order of legacy container ioctls (spec-history §E.3). Also what the
 * VFIO and SPAPR test files share: the one-line error of the CLI for bad input, and the clean
 * replay of a folder of scenarios.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';
import { HEADER } from '../harness.ts';

export const BUF = 0x7f0000000000n;
export const hex = (v: bigint): string => `0x${v.toString(16)}`;

const VTD = {
  kind: 'intel-vtd',
  aperture: { start: '0', last: '0xffffffffffff' },
  pgsize_bitmap: '0x40201000',
  reserved: [{ start: '0xfee00000', last: '0xfeefffff', type: 'MSI' }],
};

export const DEVICES = [
  { name: '0000:01:00.0', group: 7, ...VTD },
  { name: '0000:01:00.1', group: 7, ...VTD },
  { name: '0000:02:00.0', group: 8, ...VTD },
];

/** A host header with the devices above and `more` env keys (`vfio`, `params`, ...). */
export const host = (more: object = {}, processes: readonly object[] = HEADER.env.processes) => ({
  ...HEADER,
  env: { ...HEADER.env, processes, devices: DEVICES, ...more },
});

export const HOST = host();

export const open = (path: string) => ({ op: 'OPEN', args: { path } });
export const setContainer = (group: number, container: number) => ({ op: 'VFIO_GROUP_SET_CONTAINER', fd: group, args: { container_fd: container } });
export const setIommu = (type: number | string, fd?: number) => ({ op: 'VFIO_SET_IOMMU', ...(fd === undefined ? {} : { fd }), args: { arg: type } });
export const checkExtension = (ext: number | string, fd?: number) => ({ op: 'VFIO_CHECK_EXTENSION', ...(fd === undefined ? {} : { fd }), args: { arg: ext } });
export const getInfo = (argsz: number, fd?: number) => ({ op: 'VFIO_IOMMU_GET_INFO', ...(fd === undefined ? {} : { fd }), args: { argsz } });

/** A map of `size` bytes at `iova` from the buffer at `BUF + offset`. */
export const mapDma = (iova: bigint, size: bigint, extra: object = {}, offset = 0n) => ({
  op: 'VFIO_IOMMU_MAP_DMA',
  args: { flags: ['READ', 'WRITE'], vaddr: hex(BUF + offset), iova: hex(iova), size: hex(size), ...extra },
});
export const unmapDma = (iova: bigint, size: bigint, extra: object = {}) => ({
  op: 'VFIO_IOMMU_UNMAP_DMA',
  args: { iova: hex(iova), size: hex(size), ...extra },
});

/** /dev/vfio/vfio as fd 3, group 7 as fd 4 in it, the IOMMU type `type` set. */
export const CONTAINER = (type: number | string) => [open('/dev/vfio/vfio'), open('/dev/vfio/7'), setContainer(4, 3), setIommu(type)];

/** A format 1.1 header line with `env` and more top-level keys. */
export const headerLine = (env: object, extra: object = {}): string => JSON.stringify({ trace: 'iommufd', version: '1.1', env, ...extra });

const ROOT = resolve(import.meta.dirname, '../..');

/** Each case's lines, replayed by the CLI: exit 2, one line on stderr naming the file and line, no stack trace. */
export function cliRefusesInOneLine(cases: readonly (readonly [string, readonly string[]])[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'iommufd-model-vfio-'));
  it.each(cases)('%s: exit 2, one line naming the file and line', (_what, lines) => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'replay', file], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d: .+\\n$`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
}

/**
 * The scenarios of folder `dir` are `names`, and each replays clean, adopting the recorded
 * choices and with its own, with every invariant checked after every event.
 */
export function scenariosReplayClean(dir: string, names: readonly string[], what: string): void {
  const traces = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  it(what, () => {
    expect(traces).toEqual(names);
  });
  it.each(traces.flatMap((name) => [[name, false] as const, [name, true] as const]))('%s replays clean (own choices: %s)', async (name, ownChoices) => {
    const r = await replayFile(join(dir, name), { ownChoices, invariants: true });
    expect(r.error).toBeUndefined();
    expect(r.divergences).toEqual([]);
    expect(r.unsupported).toBe(0);
    expect(r.ran).toBe(0);
    expect(r.violations).toEqual([]);
  });
}
