/**
 * `inspect` of a mock domain as 6.2 and 6.3 made it (before 65c619ae0680): the selftest object
 * has no device and names the HWPT of its own; from 6.4 it names its device and no HWPT.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { inspectAt, inspectCommand } from '../../../replay/inspect/inspect-command.ts';
import { HEADER } from '../../harness.ts';
import { writeTrace } from './traces.ts';

const ajv = new Ajv2020({ strict: true });
const validate = ajv.compile(JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../docs/inspect.schema.json'), 'utf8')));

/** Line 4 is the mock domain. */
const mockDomainOn = (kernel: string) =>
  writeTrace(`mock-domain-${kernel}.jsonl`, [
    { ...HEADER, env: { ...HEADER.env, kernel } },
    { seq: 1, op: 'OPEN', args: { path: '/dev/iommu' } },
    { seq: 2, op: 'IOAS_ALLOC' },
    { seq: 3, op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
    { seq: 4, op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'WRITEABLE', 'READABLE'], user_va: '0x7f0000000000', length: '0x10000', iova: '0x1000000' } },
  ]);

async function objectsAtMockDomain(kernel: string) {
  const doc = await inspectAt(mockDomainOn(kernel), { line: 4 }, { ownChoices: false });
  expect(doc.at).toMatchObject({ seq: 3, op: 'TEST_MOCK_DOMAIN', errno: null });
  expect(validate(JSON.parse(JSON.stringify(doc))) ? null : ajv.errorsText(validate.errors)).toBeNull();
  if (!('state' in doc)) throw new Error('no state');
  return doc.state.contexts[0]?.objects ?? [];
}

describe('inspect: the selftest object of a mock domain', () => {
  it('6.3: no device, and the HWPT of its own, which mirrors the IOAS', async () => {
    const objects = await objectsAtMockDomain('6.3');
    expect(objects.find((o) => o.type === 'selftest')).toEqual({ type: 'selftest', id: 2, state: 'live', users: 1, device: null, own_hwpt: 3 });
    expect(objects.find((o) => o.id === 3)).toMatchObject({ type: 'hwpt_paging', ioas: 1, auto: false });
    expect(objects.some((o) => o.type === 'device')).toBe(false);
    const text = await inspectCommand(mockDomainOn('6.3'), '4', { ownChoices: false, json: false });
    expect(text).toMatch(/selftest 2 .*device - own hwpt 3$/m);
  });

  it('6.4: the device it bound, and no HWPT of its own', async () => {
    const objects = await objectsAtMockDomain('6.4');
    const stdev = objects.find((o) => o.type === 'selftest');
    expect(stdev).toEqual({ type: 'selftest', id: 2, state: 'live', users: 1, device: 3 });
    expect(objects.find((o) => o.id === 3)?.type).toBe('device');
    const text = await inspectCommand(mockDomainOn('6.4'), '4', { ownChoices: false, json: false });
    expect(text).toMatch(/selftest 2 .*device 3$/m);
  });
});
