/** `npm run import-tables`: regenerates the importers' tables from test/captures/formats/ (tables.ts). */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { qemuFormatsSource, syzDescriptionsSource } from './tables.ts';

const FORMATS = resolve(import.meta.dirname, '../../test/captures/formats');
const read = (name: string) => ({ name, text: readFileSync(resolve(FORMATS, name), 'utf8') });

const outputs = [
  ['qemu-formats.ts', qemuFormatsSource([read('qemu.backends.trace-events'), read('qemu.hw-vfio.trace-events')])],
  ['syz-descriptions.ts', syzDescriptionsSource(read('syzkaller.dev_iommu.txt'))],
] as const;
for (const [name, source] of outputs) {
  const path = resolve(import.meta.dirname, name);
  writeFileSync(path, source);
  console.log(`wrote ${path}`);
}
