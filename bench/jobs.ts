/**
 * The corpus replayed by the package's command at `--jobs 1` and `--jobs 2`: wall time, since
 * the point of threads is to take less of it (CPU time would only add theirs up). Beside them,
 * the same corpus split in two halves (every other file) replayed by two `--jobs 1` processes
 * at once: what splitting the work gains on this machine at the same moments, with no thread
 * machinery, so the most `--jobs 2` could gain while other work takes cores. The three run in
 * turn, so that a busy machine slows them alike; medians.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './clock.ts';

export interface JobsTimes {
  /** Median wall seconds: `--jobs 1`, `--jobs 2`, two `--jobs 1` processes on halves at once. */
  readonly one: number;
  readonly two: number;
  readonly halves: number;
}

function run(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`node ${args.slice(0, 3).join(' ')} ... exited ${code}: ${stderr.trim().slice(0, 200)}`))));
  });
}

async function wallSeconds(...commands: (readonly string[])[]): Promise<number> {
  const t0 = performance.now();
  await Promise.all(commands.map(run));
  return (performance.now() - t0) / 1000;
}

/** `root` holds package.json; its `bin` is what users run. */
export async function replayJobs(root: string, files: readonly string[], runs: number): Promise<JobsTimes> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const bin = join(root, Object.values(pkg.bin)[0] as string);
  const replay = (jobs: number, some: readonly string[]) => [bin, 'replay', '--jobs', String(jobs), ...some];
  const half = (parity: number) => files.filter((_, i) => i % 2 === parity);
  const one: number[] = [];
  const two: number[] = [];
  const halves: number[] = [];
  for (let i = 0; i < runs; i++) {
    one.push(await wallSeconds(replay(1, files)));
    two.push(await wallSeconds(replay(2, files)));
    halves.push(await wallSeconds(replay(1, half(0)), replay(1, half(1))));
  }
  return { one: median(one), two: median(two), halves: median(halves) };
}
