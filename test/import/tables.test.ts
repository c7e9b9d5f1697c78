/**
 * The importers' tables are generated from the vendored capture formats (test/captures/formats/)
 * and committed: regenerating them gives the committed files.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QEMU_TRACE_EVENTS } from '../../replay/import/qemu-formats.ts';
import { qemuFormatsSource, syzDescriptionsSource } from '../../replay/import/tables.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const format = (name: string) => ({ name, text: readFileSync(resolve(ROOT, 'test/captures/formats', name), 'utf8') });
const committed = (name: string) => readFileSync(resolve(ROOT, 'replay/import', name), 'utf8');

describe('generated import tables', () => {
  it('qemu-formats.ts is what the vendored trace-events files give (npm run import-tables)', () => {
    expect(qemuFormatsSource([format('qemu.backends.trace-events'), format('qemu.hw-vfio.trace-events')])).toBe(committed('qemu-formats.ts'));
  });
  it('syz-descriptions.ts is what the vendored dev_iommu.txt gives (npm run import-tables)', () => {
    expect(syzDescriptionsSource(format('syzkaller.dev_iommu.txt'))).toBe(committed('syz-descriptions.ts'));
  });
  it('a format keeps its string pieces and expands the PRI macros between them', () => {
    expect(QEMU_TRACE_EVENTS['iommufd_backend_map_dma']).toEqual({
      args: ['iommufd', 'ioas', 'iova', 'size', 'vaddr', 'readonly', 'ret'],
      format: ' iommufd=%d ioas=%d iova=0x%llx size=0x%llx addr=%p readonly=%d (%d)',
    });
    expect(QEMU_TRACE_EVENTS['vfio_pci_hot_reset_dep_devices']?.format).toBe('\t%04x:%02x:%02x.%x group %d');
  });
});
