/**
 * The fuzzer's power, measured: each hand-made mutant of the model (src/model/mutants.ts) is run
 * against the property suite — the fuzzer's invariants, then the regression traces (the
 * kernel selftest corpus and the accounting scenarios) — and counts as killed when either
 * fails. At least 90% must die; the table of survivors is printed.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { replayFile } from '../../replay/replay-file.ts';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { MUTANTS, setMutant } from '../../src/model/mutants.ts';
import { conformanceTraces } from '../conformance/corpus.ts';

/** The corpus less its three 10k-event loops, which add time but no coverage here. */
const REGRESSION = [
  ...conformanceTraces().filter((f) => !/access_rw|fork_gone|ioas_iova_alloc/.test(f)),
  ...readdirSync(resolve(import.meta.dirname, '../replay/scenarios')).map((f) => join(resolve(import.meta.dirname, '../replay/scenarios'), f)),
];

async function killedBy(): Promise<string | null> {
  const found = fuzz({ seed: 20261125, runs: 2000, maxSteps: 60, shrink: false }).counterexample;
  if (found !== null) return `fuzzer: ${found.message}`;
  for (const file of REGRESSION) {
    const r = await replayFile(file, { ownChoices: false, invariants: true });
    if (r.diverged > 0 || (r.violations?.length ?? 0) > 0 || r.error !== undefined) return `trace ${file.split('/').pop()}`;
  }
  return null;
}

afterEach(() => setMutant(null));

describe('mutation testing', () => {
  it('the faithful model survives the whole suite', async () => {
    expect(await killedBy()).toBeNull();
  });

  it('at least 90% of the mutants are killed', async () => {
    const rows: string[] = [];
    let killed = 0;
    const names = Object.keys(MUTANTS);
    for (const name of names) {
      setMutant(name);
      const by = await killedBy();
      setMutant(null);
      if (by !== null) killed++;
      rows.push(`${by === null ? 'SURVIVED' : 'killed  '} ${name.padEnd(32)} ${by ?? MUTANTS[name]}`);
    }
    process.stdout.write(`mutants killed: ${killed}/${names.length}\n${rows.join('\n')}\n`);
    expect(names.length).toBeGreaterThanOrEqual(20);
    expect(killed / names.length).toBeGreaterThanOrEqual(0.9);
  }, 600_000);
});
