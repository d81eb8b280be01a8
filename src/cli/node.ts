import type { Command } from 'commander';
import { pino } from 'pino';
import { isCausewayError } from '../core/errors.js';
import { prettyDestination } from './log-format.js';
import { clusterConfigFromEnv, loadClusterConfig, nodeConfig } from './node-config.js';
import { NodeHost } from './node-host.js';

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
        const node = new NodeHost(nodeConfig(cluster, id), log.child({ node: id }));
        await node.start();
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
        // Started by `causeway cluster` (an IPC channel to it): when that process is gone, even
        // killed with -9, the channel closes and this node stops too, rather than run on with no
        // one to stop it and its output going nowhere (so output errors are ignored from then on).
        if (process.channel) {
          process.channel.unref();
          process.once('disconnect', () => {
            const ignore = (): void => undefined;
            process.stdout.on('error', ignore);
            process.stderr.on('error', ignore);
            shutdown('the causeway cluster process is gone');
          });
        }
      } catch (err) {
        const msg = isCausewayError(err) ? err.detail : err instanceof Error ? err.message : String(err);
        log.fatal(`cannot start node: ${msg}`);
        // Exit now: what did start (the peer links, when the HTTP or CoAP port is taken) would
        // otherwise keep a node running that clients cannot reach.
        process.exit(2);
      }
    });
}
