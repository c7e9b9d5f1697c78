/**
 * SPAPR TCE scenarios written from the kernel code (test/vfio/spapr-scenarios): v1 enable, v2
 * windows, pre-registration, the unregister quirk. Each replays clean, adopting the recorded
 * choices and with its own, with every invariant checked after every event.
 */
import { resolve } from 'node:path';
import { describe } from 'vitest';
import { scenariosReplayClean } from './native-fixtures.ts';

describe('SPAPR TCE scenarios', () => {
  scenariosReplayClean(
    resolve(import.meta.dirname, 'spapr-scenarios'),
    ['spapr-prereg.jsonl', 'spapr-unregister-quirk.jsonl', 'spapr-v1-enable.jsonl', 'spapr-v2-windows.jsonl'],
    'are v1 enable, v2 windows, pre-registration and the unregister quirk',
  );
});
