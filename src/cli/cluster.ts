import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CLUSTER_MODELS, MODELS, parseClusterConfig, type ClusterConfig, type Model } from './node-config.js';
import { NODE_PROCESS_FLAGS } from './node-flags.js';

const COLORS = [36, 33, 35, 32, 34, 31, 96, 93, 95];
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface ClusterCliOptions {
  nodes: number;
  model: Model;
  data: string;
  host: string;
  httpPort: number;
  coapPort: number;
  peerPort: number;
}

/** The cluster config for a local cluster; an existing one under the data dir is reused (same secret, same ports). */
export function localClusterConfig(o: ClusterCliOptions): { config: ClusterConfig; path: string } {
  const dataDir = resolve(o.data);
  const path = join(dataDir, 'cluster.json');
  mkdirSync(dataDir, { recursive: true });
  let secret = randomBytes(24).toString('base64url');
  if (existsSync(path)) {
    try {
      const old = parseClusterConfig(JSON.parse(readFileSync(path, 'utf8')), path);
      secret = old.secret;
    } catch {
      // unreadable old config: write a new one
    }
  }
  const nodes = Array.from({ length: o.nodes }, (_, i) => ({
    id: `node${i + 1}`,
    host: o.host,
    httpPort: o.httpPort + i,
    coapPort: o.coapPort + i,
    peerPort: o.peerPort + i,
  }));
  const config = parseClusterConfig({ model: o.model, secret, dataDir, nodes }, path);
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  return { config, path };
}

function prefixLines(child: ChildProcess, name: string, width: number, color: number, tty: boolean): void {
  const label = tty ? `\x1b[${color}m${name.padEnd(width)} |\x1b[0m ` : `${name.padEnd(width)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(label + line + '\n'));
  }
}

export async function runCluster(o: ClusterCliOptions): Promise<number> {
  const { config, path } = localClusterConfig(o);
  const width = Math.max(...config.nodes.map((n) => n.id.length));
  console.log(`causeway cluster: ${config.nodes.length} nodes, model ${config.model}, data under ${config.dataDir}`);
  for (const n of config.nodes) {
    console.log(`  ${n.id.padEnd(width)}  http://${n.host}:${n.httpPort}  coap://${n.host}:${n.coapPort}  peer ${n.host}:${n.peerPort}`);
  }
  console.log('Ctrl-C stops every node; data stays on disk and the next run resumes from it.');
  const children = config.nodes.map((n, i) => {
    const child = spawn(process.execPath, [...NODE_PROCESS_FLAGS, MAIN, 'node', '--id', n.id, '--config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    prefixLines(child, n.id, width, COLORS[i % COLORS.length] as number, process.stdout.isTTY === true);
    return child;
  });
  let stopping = false;
  const exited = children.map((c, i) => new Promise<number>((res) => c.once('exit', (code, signal) => {
    const id = config.nodes[i]?.id ?? '?';
    if (!stopping) console.log(`${id.padEnd(width)} | exited (${signal ?? code}); stopping the cluster`);
    res(code ?? (signal ? 1 : 0));
    if (!stopping) stop();
  })));
  function stop(): void {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    setTimeout(() => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    }, 10_000).unref();
  }
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const codes = await Promise.all(exited);
  console.log('causeway cluster: every node stopped');
  return codes.some((c) => c !== 0) ? 1 : 0;
}

export function registerCluster(program: Command): void {
  program
    .command('cluster')
    .description('start a local cluster: one process per node, log lines prefixed with the node name')
    .option('--nodes <n>', 'number of nodes', '3')
    .option('--model <model>', `consistency model (${MODELS.join('|')})`, 'causal')
    .option('--data <dir>', 'data directory (one subdirectory per node)', './data')
    .option('--host <host>', 'address every node binds and advertises', '127.0.0.1')
    .option('--http-port <port>', 'HTTP port of node1 (node k gets port + k - 1)', '5001')
    .option('--coap-port <port>', 'CoAP port of node1', '5683')
    .option('--peer-port <port>', 'peer-link port of node1', '7001')
    .action(async (opts: Record<string, string>) => {
      const int = (name: string, min: number, max: number): number => {
        const v = Number(opts[name]);
        if (!Number.isInteger(v) || v < min || v > max) {
          console.error(`causeway cluster: --${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be an integer from ${min} to ${max}`);
          process.exit(2);
        }
        return v;
      };
      const model = opts['model'] as Model;
      if (!MODELS.includes(model)) {
        console.error(`causeway cluster: --model must be one of ${MODELS.join(', ')}`);
        process.exit(2);
      }
      if (!CLUSTER_MODELS.includes(model)) {
        console.error(`causeway cluster: model "${model}" is not available yet in a cluster: use --model ${CLUSTER_MODELS.join('|')}`);
        process.exit(2);
      }
      const code = await runCluster({
        nodes: int('nodes', 1, 64),
        model,
        data: opts['data'] ?? './data',
        host: opts['host'] ?? '127.0.0.1',
        httpPort: int('httpPort', 1, 65535),
        coapPort: int('coapPort', 1, 65535),
        peerPort: int('peerPort', 1, 65535),
      });
      process.exit(code);
    });
}
