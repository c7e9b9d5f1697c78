/**
 * Legacy VFIO scenarios written from the kernel code (test/vfio/scenarios): QEMU's legacy
 * backend on native type1 v1 and v2 containers, on iommufd's compatibility container, two
 * containers charging the same memory twice, and dma_entry_limit. Each replays clean, adopting
 * the recorded choices and with its own, with every invariant checked after every event.
 */
import { resolve } from 'node:path';
import { describe } from 'vitest';
import { scenariosReplayClean } from './native-fixtures.ts';

describe('legacy VFIO scenarios', () => {
  scenariosReplayClean(
    resolve(import.meta.dirname, 'scenarios'),
    ['compat-group.jsonl', 'dma-entry-limit.jsonl', 'double-charge.jsonl', 'native-v1.jsonl', 'native-v2.jsonl'],
    'are the five of the issue',
  );
});
