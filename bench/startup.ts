/**
 * Start-up: the wall time of the package's command replaying a one-event trace against that of
 * `node -e 0`, the two run alternately so that a busy machine slows both alike; medians.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './clock.ts';

export interface Startup {
  readonly command: string;
  readonly commandMs: number;
  readonly nodeMs: number;
}

function wallMs(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return ms;
}

/** `root` holds package.json; its `bin` is what users run. */
export function startup(root: string, dir: string, runs: number): Startup {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const bin = join(root, Object.values(pkg.bin)[0] as string);
  const trace = join(dir, 'one-event.jsonl');
  writeFileSync(trace, '{"trace":"iommufd","version":1,"env":{"memory":"any"}}\n{"seq":1,"op":"OPEN","expect":{"out":{"fd":3}}}\n');
  const command: number[] = [];
  const node: number[] = [];
  for (let i = 0; i < runs; i++) {
    node.push(wallMs(['-e', '0']));
    command.push(wallMs([bin, 'replay', trace]));
  }
  return { command: `node ${Object.values(pkg.bin)[0]} replay <1-event trace>`, commandMs: median(command), nodeMs: median(node) };
}
