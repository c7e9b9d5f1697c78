/**
 * fast-check settings shared by the property tests: the seed comes from FC_SEED when set (and
 * FC_PATH replays one shrunk case), so a failure printed by CI replays with
 * `FC_SEED=<seed> FC_PATH=<path> npx vitest run <file>`.
 */
import type { Parameters } from 'fast-check';

export function propertySettings<T>(numRuns: number): Parameters<T> {
  const seed = process.env['FC_SEED'] === undefined ? Date.now() ^ (process.pid << 8) : Number(process.env['FC_SEED']);
  const path = process.env['FC_PATH'];
  process.stdout.write(`fast-check seed=${seed}${path === undefined ? '' : ` path=${path}`}\n`);
  return { seed, numRuns, ...(path === undefined ? {} : { path, endOnFailure: true }) };
}
