/**
 * `npm run bench`: runs every benchmark, each in its own process one after another (so they do
 * not compete for the two cores), then writes bench/results/summary.md and SVG plots from the
 * JSON each benchmark wrote. `npm run bench -- coap cluster` runs a subset; `npm run bench --
 * --summary-only` only rewrites the summary and plots.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { barChart } from './plot.js';
import { clusterMarkdown, type ClusterBenchResult } from './cluster.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = 'bench/results';
// CPU-only benchmarks first: the cluster's leaves the kernel with dirty pages to write back and
// deleted files to release for a while after it ends, work that would share the cores with the
// next benchmark.
const ALL = ['sim', 'check', 'peer', 'coap', 'cluster'] as const;

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !(ALL as readonly string[]).includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; choose from ${ALL.join(', ')}`);
  process.exit(2);
}
// --summary-only: rebuild summary.md and the plots from the JSON already in bench/results
const selected = process.argv.includes('--summary-only') ? [] : wanted.length > 0 ? wanted : [...ALL];
mkdirSync(OUT, { recursive: true });
let failed = 0;
for (const name of selected) {
  console.log(`\n=== bench: ${name} ===`);
  const r = spawnSync(process.execPath, [join(HERE, `${name}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${name} failed (exit ${r.status ?? r.signal})`);
  }
}

function load(name: string): Record<string, unknown> | undefined {
  const p = join(OUT, `${name}.json`);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>) : undefined;
}

const md: string[] = ['# Benchmark results', '', `Machine: ${process.arch}, Node ${process.version}, written ${new Date().toISOString()}`, ''];
const cluster = load('cluster') as ClusterBenchResult | undefined;
if (cluster?.rows) {
  // the same table and lines (ratio to etcd, replication lag, CoAP PUT) the cluster bench prints
  md.push('## Cluster (durable PUT /v1/kv, three nodes)', '', clusterMarkdown(cluster), '', '![cluster](cluster.svg)', '');
  writeFileSync(
    join(OUT, 'cluster.svg'),
    barChart('Durable puts/s by concurrent clients', cluster.rows.map((r) => ({ group: `${r.clients} clients`, series: r.target, value: r.putsPerSecond }))),
  );
}
for (const name of ['coap', 'sim', 'sim.faults-none', 'check', 'peer']) {
  const j = load(name);
  if (j) md.push(`## ${name}`, '', '```json', JSON.stringify(j, null, 2).slice(0, 4000), '```', '');
}
writeFileSync(join(OUT, 'summary.md'), md.join('\n') + '\n');
console.log(`\nresults: ${OUT}/*.json, ${OUT}/summary.md, ${OUT}/*.svg`);
process.exit(failed > 0 ? 1 : 0);
