/**
 * The invariants hold under every release's profile, apart from that release's kernel quirks
 * (reported as quirks, never as violations): a modest campaign per release, those before
 * iommufd included, all from one seed (FC_SEED, else the clock; printed).
 */
import { describe, expect, it } from 'vitest';
import { fuzz } from '../../src/fuzz/fuzz.ts';
import { ENVELOPE_RELEASES } from '../../replay/envelope.ts';

const seed = process.env['FC_SEED'] === undefined ? Date.now() % 2 ** 31 : Number(process.env['FC_SEED']);

describe('fuzz --kernel V, for every release', () => {
  it.each(ENVELOPE_RELEASES)(`finds no violation under %s (seed ${seed})`, (kernel) => {
    const found = fuzz({ seed, runs: 48, maxSteps: 100, kernel }).counterexample;
    const rerun = found === null ? null : `${found.message}\nrerun: iommufd-model fuzz --kernel ${kernel} --seed ${seed} --max-steps 100 --run ${found.run} --path ${found.path}\n${found.trace}`;
    expect(rerun).toBeNull();
  });
});
