// An HTTP load generator: C concurrent keep-alive clients issuing requests for a fixed time,
// reporting requests/s and latency percentiles. Used by bench/cluster.ts against Causeway and etcd.
import { Agent, request } from 'node:http';

export interface HttpLoadOptions {
  /** Target base URLs; client i uses urls[i % urls.length]. */
  readonly urls: readonly string[];
  readonly concurrency: number;
  readonly durationMs: number;
  /** Builds request n: method, path and body. */
  readonly make: (n: number) => { method: string; path: string; body: string };
  /** Most requests per second over all clients (0: as fast as possible). */
  readonly rateLimit?: number;
  /** Called with the request number and its completion time (hrtime ns) after each 2xx. */
  readonly onOk?: (n: number, doneNs: bigint, responseBody: string) => void;
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export async function httpLoad(o: HttpLoadOptions): Promise<LoadResult> {
  const agents = o.urls.map(() => new Agent({ keepAlive: true, maxSockets: o.concurrency }));
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(o.durationMs) * 1_000_000n;
  const interval = o.rateLimit ? (1e9 * o.concurrency) / o.rateLimit : 0;

  const one = (client: number): Promise<void> =>
    new Promise((resolve) => {
      const id = n++;
      const req = o.make(id);
      const base = new URL(o.urls[client % o.urls.length] as string);
      const t0 = process.hrtime.bigint();
      const r = request(
        { host: base.hostname, port: base.port, method: req.method, path: req.path, agent: agents[client % agents.length], headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(req.body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const t1 = process.hrtime.bigint();
            if (res.statusCode !== undefined && res.statusCode < 300) {
              lat.push(Number(t1 - t0) / 1e6);
              o.onOk?.(id, t1, Buffer.concat(chunks).toString());
            } else errors++;
            resolve();
          });
        },
      );
      r.on('error', () => {
        errors++;
        resolve();
      });
      r.end(req.body);
    });

  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, client) => {
      let next = Number(start);
      while (process.hrtime.bigint() < end) {
        if (interval > 0) {
          next += interval;
          const wait = (next - Number(process.hrtime.bigint())) / 1e6;
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        await one(client);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  for (const a of agents) a.destroy();
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    errors,
    seconds,
    perSecond: lat.length / seconds,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat[lat.length - 1] ?? NaN,
  };
}
