/**
 * Runs a job's units on worker threads, or in this thread when one thread would do (one unit,
 * or `--jobs 1`: no worker is started). Results come back in the order of the units whichever
 * thread made them, so a report is the same at any number of threads. A result may end the
 * job (a campaign ends at its first failing run): no unit after it is started, those under way
 * are abandoned, and the results stop there, as they would have one after the other.
 */
import type { Worker } from 'node:worker_threads';
import { type Job, type UnitResult, unitMaker } from './job.ts';

export interface PoolOptions<R> {
  /** Threads, at most. */
  readonly jobs: number;
  /** The worker thread's entry (the built dist/src/worker.js). */
  readonly worker: URL;
  /** Called as each fuzz run ends (shrinking runs included). */
  readonly onTick?: () => void;
  /** Whether no unit after this result is needed. */
  readonly ends?: (result: R) => boolean;
}

/** To a worker: the unit to make next. */
export interface ToWorker {
  readonly unit: number;
}

/** From a worker: a fuzz run ended, or the unit's result, or why it could not be made. */
export type FromWorker = { readonly tick: true } | { readonly result: unknown } | { readonly error: string };

/** The results of `units` in order, up to the first that ends the job. */
export async function runUnits<J extends Job>(job: J, units: readonly number[], options: PoolOptions<UnitResult<J>>): Promise<UnitResult<J>[]> {
  const threads = Math.min(options.jobs, units.length);
  return threads <= 1 ? inThisThread(job, units, options) : onWorkers(job, units, threads, options);
}

async function inThisThread<J extends Job>(job: J, units: readonly number[], options: PoolOptions<UnitResult<J>>): Promise<UnitResult<J>[]> {
  const make = await unitMaker(job);
  const tick = options.onTick ?? (() => undefined);
  const results: UnitResult<J>[] = [];
  for (const unit of units) {
    const result = await make(unit, tick);
    results.push(result);
    if (options.ends?.(result) === true) break;
  }
  return results;
}

async function onWorkers<J extends Job>(job: J, units: readonly number[], threads: number, options: PoolOptions<UnitResult<J>>): Promise<UnitResult<J>[]> {
  const { Worker } = await import('node:worker_threads');
  return new Promise((resolve, reject) => {
    const results: UnitResult<J>[] = [];
    /** Units at positions below are needed. */
    let needed = units.length;
    let next = 0;
    /** The position each busy worker is making. */
    const busy = new Map<Worker, number>();
    const workers: Worker[] = [];
    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.terminate();
      if (error === null) resolve(results.slice(0, needed));
      else reject(error);
    };
    const feed = (w: Worker): void => {
      if (next < needed) {
        busy.set(w, next);
        w.postMessage({ unit: units[next] as number } satisfies ToWorker);
        next++;
      } else {
        busy.delete(w);
      }
      if (next >= needed && [...busy.values()].every((p) => p >= needed)) settle(null);
    };
    for (let i = 0; i < threads; i++) {
      const w = new Worker(options.worker, { workerData: job });
      workers.push(w);
      w.on('message', (m: FromWorker) => {
        const position = busy.get(w) ?? Infinity;
        if ('tick' in m) {
          if (position < needed) options.onTick?.();
          return;
        }
        if ('error' in m) {
          settle(new Error(m.error));
          return;
        }
        const result = m.result as UnitResult<J>;
        results[position] = result;
        if (position < needed && options.ends?.(result) === true) needed = position + 1;
        feed(w);
      });
      w.on('error', (e) => settle(e));
      w.on('messageerror', (e) => settle(e));
      w.on('exit', (code) => settle(new Error(`a worker thread stopped with exit code ${code}`)));
      feed(w);
    }
  });
}
