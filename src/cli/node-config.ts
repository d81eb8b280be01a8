import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CausewayError } from '../core/errors.js';

export const MODELS = ['eventual', 'causal', 'sequential', 'strong'] as const;
export type Model = (typeof MODELS)[number];
/** The models a node can run today (the others are the simulator's and checkers' for now). */
export const CLUSTER_MODELS: readonly Model[] = ['causal'];

const port = z.number().int().min(0).max(65535);
const nodeSpec = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'node id: 1-64 of A-Z a-z 0-9 _ . -'),
  host: z.string().min(1),
  httpPort: port,
  coapPort: port,
  peerPort: port,
});
export const clusterConfigSchema = z.object({
  model: z.enum(MODELS).default('causal'),
  secret: z.string().min(16, 'secret: at least 16 characters'),
  dataDir: z.string().default('./data'),
  /** Address each node binds (defaults to its own host). */
  bind: z.string().optional(),
  /**
   * Acknowledge writes once they are in the operating system's page cache, without waiting for an
   * fsync (as etcd's --unsafe-no-fsync). A killed process still loses nothing; a power cut or an OS
   * crash can lose acknowledged writes. For slow flash storage in labs and for measuring what the
   * disk costs; never for data that must survive.
   */
  unsafeNoFsync: z.boolean().default(false),
  nodes: z.array(nodeSpec).min(1),
});
export type ClusterConfig = z.infer<typeof clusterConfigSchema>;
export type NodeSpec = z.infer<typeof nodeSpec>;

export interface NodeConfig {
  readonly id: string;
  readonly model: Model;
  readonly secret: string;
  readonly dataDir: string;
  readonly bind: string;
  /** See clusterConfigSchema.unsafeNoFsync. */
  readonly unsafeNoFsync: boolean;
  readonly self: NodeSpec;
  readonly nodes: readonly NodeSpec[];
}

export function parseClusterConfig(raw: unknown, source: string): ClusterConfig {
  const r = clusterConfigSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new CausewayError('bad-request', `${source}: ${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'}`);
  }
  const ids = new Set<string>();
  for (const n of r.data.nodes) {
    if (ids.has(n.id)) throw new CausewayError('bad-request', `${source}: node id "${n.id}" appears twice`);
    ids.add(n.id);
  }
  return r.data;
}

export function loadClusterConfig(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CausewayError('not-found', `cannot read config ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CausewayError('invalid-json', `config ${path} is not valid JSON`);
  }
  return parseClusterConfig(raw, path);
}

/**
 * Configuration from the environment (Docker): CAUSEWAY_ID, CAUSEWAY_NODES
 * ("node1=host1,node2=host2,..."), CAUSEWAY_SECRET, and optionally CAUSEWAY_MODEL,
 * CAUSEWAY_DATA, CAUSEWAY_HTTP_PORT (5000), CAUSEWAY_COAP_PORT (5683), CAUSEWAY_PEER_PORT (7000),
 * CAUSEWAY_BIND (0.0.0.0), CAUSEWAY_UNSAFE_NO_FSYNC (1 or true; see unsafeNoFsync). Every node
 * uses the same ports on its own host.
 */
export function clusterConfigFromEnv(env: NodeJS.ProcessEnv): ClusterConfig | undefined {
  if (!env['CAUSEWAY_NODES']) return undefined;
  const num = (name: string, dflt: number): number => {
    const v = env[name];
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new CausewayError('bad-request', `${name} must be an integer port, got "${v}"`);
    return n;
  };
  const flag = (name: string): boolean => {
    const v = (env[name] ?? '').toLowerCase();
    if (v === '' || v === '0' || v === 'false') return false;
    if (v === '1' || v === 'true') return true;
    throw new CausewayError('bad-request', `${name} must be 1, true, 0 or false, got "${env[name] ?? ''}"`);
  };
  const nodes = env['CAUSEWAY_NODES'].split(',').filter(Boolean).map((item) => {
    const [id, host] = item.split('=');
    return { id: id ?? '', host: host ?? id ?? '', httpPort: num('CAUSEWAY_HTTP_PORT', 5000), coapPort: num('CAUSEWAY_COAP_PORT', 5683), peerPort: num('CAUSEWAY_PEER_PORT', 7000) };
  });
  return parseClusterConfig(
    { model: env['CAUSEWAY_MODEL'] ?? 'causal', secret: env['CAUSEWAY_SECRET'] ?? '', dataDir: env['CAUSEWAY_DATA'] ?? './data', bind: env['CAUSEWAY_BIND'] ?? '0.0.0.0', unsafeNoFsync: flag('CAUSEWAY_UNSAFE_NO_FSYNC'), nodes },
    'environment',
  );
}

export function nodeConfig(cluster: ClusterConfig, id: string): NodeConfig {
  const self = cluster.nodes.find((n) => n.id === id);
  if (!self) throw new CausewayError('bad-request', `node "${id}" is not in the cluster config (nodes: ${cluster.nodes.map((n) => n.id).join(', ')})`);
  return { id, model: cluster.model, secret: cluster.secret, dataDir: cluster.dataDir, bind: cluster.bind ?? self.host, unsafeNoFsync: cluster.unsafeNoFsync, self, nodes: cluster.nodes };
}
