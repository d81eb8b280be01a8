import { join } from 'node:path';
import type { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { isCausewayError } from '../core/errors.js';
import { CausalCore } from '../protocols/causal/core.js';
import { formatEvent } from '../protocols/causal/format.js';
import type { CausalEvent } from '../protocols/causal/types.js';
import { CausalService } from '../replica/causal-service.js';
import { Replica } from '../replica/replica.js';
import { LmdbStorage } from '../storage/lmdb-storage.js';
import { CoapServer } from '../transport/coap/server.js';
import { createHttpApi } from '../transport/http/http-api.js';
import { mountKvCoap } from '../transport/kv-coap.js';
import { PeerNetwork } from '../transport/peer/peer-network.js';
import { prettyDestination } from './log-format.js';
import { clusterConfigFromEnv, loadClusterConfig, nodeConfig, type NodeConfig } from './node-config.js';

export interface RunningNode {
  readonly config: NodeConfig;
  readonly ports: { http: number; coap: number; peer: number };
  stop(): Promise<void>;
}

/** Events worth a log line at info level; the rest go to debug. */
const INFO_EVENTS = new Set<CausalEvent['type']>(['buffer', 'conflict', 'sync', 'compact', 'backpressure', 'context-timeout']);

/** Starts one node: storage, protocol core, peer links, runtime, HTTP and CoAP front ends. */
export async function startNode(config: NodeConfig, log: Logger): Promise<RunningNode> {
  if (config.model !== 'causal') {
    throw new Error(`model "${config.model}" is not available yet in a cluster: use --model causal`);
  }
  const ids = config.nodes.map((n) => n.id);
  const storage = new LmdbStorage({ path: join(config.dataDir, config.id) });
  const core = CausalCore.restore(storage, { id: config.id, nodes: ids });
  const restored = core.status();
  log.info({ clock: restored.clock, keys: restored.keys, log: restored.logLength }, 'state restored from disk');

  const net = new PeerNetwork({
    selfId: config.id,
    listenHost: config.bind,
    listenPort: config.self.peerPort,
    peers: config.nodes.filter((n) => n.id !== config.id).map((n) => ({ id: n.id, host: n.host, port: n.peerPort })),
    secret: config.secret,
  });
  net.on('up', (peer) => log.info({ peer }, 'peer link up'));
  net.on('down', (peer, reason, detail) => log.info({ peer, reason, detail }, 'peer link down'));
  net.on('auth-failed', (f) => log.warn(f, 'peer authentication failed: connection refused'));
  net.on('error', (err) => log.error({ err }, 'peer network error'));

  const replica = new Replica(core, storage, net);
  replica.on('event', (e) => {
    if (INFO_EVENTS.has(e.type)) log.info({ event: e.type }, formatEvent(e));
    else if (log.isLevelEnabled('debug')) log.debug({ event: e.type }, formatEvent(e));
  });
  replica.on('error', (err) => {
    log.fatal({ err }, 'storage failure: the node stops acknowledging writes');
  });
  const service = new CausalService(replica, core, storage, ids, (peer) => ({ ...net.stats(peer) }));

  const peerInfo = await net.start();
  replica.start();

  const http = createHttpApi(service);
  await http.listen({ host: config.bind, port: config.self.httpPort });
  const httpAddr = http.server.address();
  const httpPort = typeof httpAddr === 'object' && httpAddr ? httpAddr.port : config.self.httpPort;

  const coap = new CoapServer({ host: config.bind, port: config.self.coapPort, maxBodyBytes: 64 * 1024 });
  coap.on('error', (err: unknown) => log.error({ err }, 'coap server error'));
  const unmount = mountKvCoap(coap, service);
  const coapInfo = await coap.listen();

  log.info(
    { http: `http://${config.self.host}:${httpPort}`, coap: `coap://${config.self.host}:${coapInfo.port}`, peer: peerInfo.port, nodes: ids },
    `${config.id} ready`,
  );

  let stopped: Promise<void> | undefined;
  return {
    config,
    ports: { http: httpPort, coap: coapInfo.port, peer: peerInfo.port },
    stop(): Promise<void> {
      stopped ??= (async () => {
        unmount();
        await coap.close();
        await http.close();
        await replica.stop();
        await net.close();
        await storage.close();
        log.info('stopped; data is on disk');
      })();
      return stopped;
    },
  };
}

export function registerNode(program: Command): void {
  program
    .command('node')
    .description('run one node of a cluster (config file, or CAUSEWAY_* environment variables)')
    .option('--id <id>', 'this node\'s id (or CAUSEWAY_ID)')
    .option('--config <file>', 'cluster config JSON (nodes, ports, secret, model, dataDir)')
    .option('--log-level <level>', 'trace|debug|info|warn|error', process.env['CAUSEWAY_LOG_LEVEL'] ?? 'info')
    .option('--log-format <format>', 'text|json', process.env['CAUSEWAY_LOG_FORMAT'] ?? 'text')
    .action(async (opts: { id?: string; config?: string; logLevel: string; logFormat: string }) => {
      const options = { level: opts.logLevel, base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
      const log = opts.logFormat === 'json' ? pino(options) : pino(options, prettyDestination());
      try {
        const cluster = opts.config ? loadClusterConfig(opts.config) : clusterConfigFromEnv(process.env);
        if (!cluster) throw new Error('no cluster config: pass --config FILE or set CAUSEWAY_NODES, CAUSEWAY_SECRET, CAUSEWAY_ID');
        const id = opts.id ?? process.env['CAUSEWAY_ID'];
        if (!id) throw new Error('no node id: pass --id or set CAUSEWAY_ID');
        const node = await startNode(nodeConfig(cluster, id), log.child({ node: id }));
        const shutdown = (signal: string): void => {
          log.info({ signal }, 'shutting down');
          node.stop().then(
            () => process.exit(0),
            (err: unknown) => {
              log.error({ err }, 'error while stopping');
              process.exit(1);
            },
          );
        };
        process.once('SIGINT', () => shutdown('SIGINT'));
        process.once('SIGTERM', () => shutdown('SIGTERM'));
      } catch (err) {
        const msg = isCausewayError(err) ? err.detail : err instanceof Error ? err.message : String(err);
        log.fatal(`cannot start node: ${msg}`);
        process.exitCode = 2;
      }
    });
}
