/**
 * Node.js flags every node process is started with (by `causeway cluster`, the benchmarks and the
 * Dockerfile). Both bound the pauses of V8's garbage collector, which set a node's tail latency:
 * a node holds every replicated write for a while (log, key state, batches waiting for the disk),
 * so a large share of the young generation survives each scavenge and is copied.
 *
 * - `--single-threaded-gc`: collect on the node's own thread instead of handing work to helper
 *   threads. A node usually shares a few cores with its peers (a local cluster, a small board);
 *   there, parallel helpers compete with the other nodes' event loops, and a collection waits for
 *   helpers that are not running.
 * - `--max-semi-space-size=2` (MiB): a young generation of at most 2 × 2 MiB instead of V8's
 *   2 × 16 MiB. A scavenge copies what survives, so a smaller one pauses for less time, more often.
 *
 * Measured on a 2-core machine with three nodes at 1,650 puts/s (steady state, --trace-gc):
 * scavenge pauses p50 10 ms, max 21 ms with V8's defaults; p50 1 ms, p99 5 ms with both flags,
 * for about 1.5 times the total scavenge time. Replication lag p99 (lag-only benchmark runs,
 * alternating, machine otherwise idle): median 24 ms with neither flag, 8-10 ms with the first,
 * 7.3 ms with both; puts/s at 16 and 64 clients within run-to-run noise of the first alone
 * (a 1 MiB young generation gave similar lag but lower throughput at 64 clients).
 */
export const NODE_PROCESS_FLAGS: readonly string[] = Object.freeze(['--single-threaded-gc', '--max-semi-space-size=2']);
