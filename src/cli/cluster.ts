import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CausewayError, isCausewayError } from '../core/errors.js';
import { lockOwner } from '../storage/dir-lock.js';
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

/**
 * The cluster config for a local cluster, written to the data dir. An existing one is reused (same
 * secret; the ports given now), and checked first, before anything is written:
 * - a cluster of another size is refused: a node added later would never receive the writes its
 *   peers had already compacted out of their logs (there is no state transfer), and a node left
 *   out would hold writes nobody else has;
 * - a config that does not parse is refused rather than replaced (with it would go the secret);
 * - a data dir whose nodes are running (their LOCK held) is refused: a second `causeway cluster`
 *   would otherwise rewrite the running cluster's config before its nodes failed.
 * Throws a CausewayError naming the problem.
 */
export function localClusterConfig(o: ClusterCliOptions): { config: ClusterConfig; path: string } {
  const dataDir = resolve(o.data);
  const path = join(dataDir, 'cluster.json');
  let secret = randomBytes(24).toString('base64url');
  if (existsSync(path)) {
    let old: ClusterConfig;
    try {
      old = parseClusterConfig(JSON.parse(readFileSync(path, 'utf8')), path);
    } catch (e) {
      const why = isCausewayError(e) ? e.detail : (e as Error).message;
      throw new CausewayError('bad-request', `${path} is not a valid cluster config (${why}): fix it, or remove it to start a new cluster`);
    }
    if (old.nodes.length !== o.nodes) {
      throw new CausewayError(
        'conflict',
        `${dataDir} holds a ${old.nodes.length}-node cluster: use --nodes ${old.nodes.length}, or a new --data directory for a cluster of ${o.nodes} (a cluster does not grow or shrink: a new node would never get the writes already compacted away)`,
      );
    }
    for (const n of old.nodes) {
      const owner = lockOwner(join(dataDir, n.id)); // where the nodes will run now (the directory may have moved)
      if (owner !== null) throw new CausewayError('conflict', `a cluster is already running from ${dataDir} (${n.id} is process ${owner}): stop it first`);
    }
    secret = old.secret;
  }
  const nodes = Array.from({ length: o.nodes }, (_, i) => ({
    id: `node${i + 1}`,
    host: o.host,
    httpPort: o.httpPort + i,
    coapPort: o.coapPort + i,
    peerPort: o.peerPort + i,
  }));
  const config = parseClusterConfig({ model: o.model, secret, dataDir, nodes }, path);
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    throw new CausewayError('conflict', `cannot write ${path}: ${(e as Error).message}`);
  }
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
  let local: { config: ClusterConfig; path: string };
  try {
    local = localClusterConfig(o);
  } catch (e) {
    if (!isCausewayError(e)) throw e;
    console.error(`causeway cluster: ${e.detail}`);
    return 2;
  }
  const { config, path } = local;
  const width = Math.max(...config.nodes.map((n) => n.id.length));
  console.log(`causeway cluster: ${config.nodes.length} nodes, model ${config.model}, data under ${config.dataDir}`);
  for (const n of config.nodes) {
    console.log(`  ${n.id.padEnd(width)}  http://${n.host}:${n.httpPort}  coap://${n.host}:${n.coapPort}  peer ${n.host}:${n.peerPort}`);
  }
  console.log('Ctrl-C stops every node; data stays on disk and the next run resumes from it.');
  const children = config.nodes.map((n, i) => {
    // The IPC channel ties each node to this process: if it dies (even by kill -9), the channel
    // closes and the node stops (node.ts), instead of running on without anyone to stop it.
    const child = spawn(process.execPath, [...NODE_PROCESS_FLAGS, MAIN, 'node', '--id', n.id, '--config', path], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
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
