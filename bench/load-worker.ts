// Worker thread for bench/cluster.ts's lag measurement: runs the background PUT load in its own
// isolate, so the load generator's allocations and event-loop work never delay the thread that
// times the probes. workerData: { urls, concurrency, durationMs, rateLimit, keys, value }.
import { parentPort, workerData } from 'node:worker_threads';
import { httpLoad } from './http-load.js';

interface LoadWorkerData {
  readonly urls: string[];
  readonly concurrency: number;
  readonly durationMs: number;
  readonly rateLimit: number;
  readonly keys: number;
  readonly value: string;
}

const d = workerData as LoadWorkerData;
const result = await httpLoad({
  urls: d.urls,
  concurrency: d.concurrency,
  durationMs: d.durationMs,
  rateLimit: d.rateLimit,
  make: (n) => ({ method: 'PUT', path: `/v1/kv/k${n % d.keys}`, body: d.value }),
});
parentPort?.postMessage(result);
