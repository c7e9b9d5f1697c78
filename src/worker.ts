/**
 * A worker thread of the command (`--jobs`): makes units of the job it was started with, one
 * at a time, as the command sends them. Built beside the command as dist/src/worker.js.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type Job, unitMaker } from './parallel/job.ts';
import type { FromWorker, ToWorker } from './parallel/pool.ts';

const port = parentPort;
if (port === null) throw new Error('[iommufd-model] the worker entry runs only as a worker thread');
const post = (m: FromWorker): void => port.postMessage(m);
const make = await unitMaker(workerData as Job);
port.on('message', ({ unit }: ToWorker) => {
  make(unit, () => post({ tick: true })).then(
    (result) => post({ result }),
    (e: unknown) => post({ error: e instanceof Error ? e.message : String(e) }),
  );
});
