/**
 * Real node processes for end-to-end tests: a cluster config in a temp dir, one
 * `node <dist>/src/cli/main.js node --id ... --config ...` child per node (optionally behind a
 * wrapper such as `ip netns exec NS`), readiness and convergence polling, and a kill-everything
 * teardown for after hooks.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { eventually, MAIN as CLI_MAIN } from './cluster.js';

/** The compiled CLI beside the compiled tests, and free ports: shared with the plain cluster harness. */
export { MAIN as CLI_MAIN, freePort } from './cluster.js';
export interface ClusterNodeSpec {
  readonly id: string;
  readonly host: string;
  readonly httpPort: number;
  readonly coapPort: number;
  readonly peerPort: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function writeClusterConfig(dir: string, secret: string, nodes: readonly ClusterNodeSpec[]): string {
  const path = join(dir, 'cluster.json');
  writeFileSync(path, JSON.stringify({ model: 'causal', secret, dataDir: dir, nodes }, null, 2), { mode: 0o600 });
  return path;
}

export const urlOf = (n: ClusterNodeSpec): string => `http://${n.host}:${n.httpPort}`;

/** Runs the CLI (e.g. `chaos partition node1 node3 --config F`) as a child; resolves with its exit code and output. */
export function runCli(args: readonly string[], wrapper: readonly string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [...wrapper, process.execPath, CLI_MAIN, ...args];
  return new Promise((resolve) => {
    execFile(argv[0] as string, argv.slice(1), { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export class NodeProcesses {
  readonly #children = new Map<string, ChildProcess>();
  readonly #logs = new Map<string, string[]>();

  /** Starts one node; `wrapper` prefixes the command (e.g. ['ip', 'netns', 'exec', 'ns1']). */
  start(id: string, configPath: string, wrapper: readonly string[] = []): ChildProcess {
    const argv = [...wrapper, process.execPath, CLI_MAIN, 'node', '--id', id, '--config', configPath, '--log-format', 'json', '--log-level', 'info'];
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    this.#logs.set(id, log);
    const keep = (b: Buffer): void => {
      log.push(b.toString());
      if (log.length > 400) log.splice(0, log.length - 400);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#children.set(id, child);
    return child;
  }

  /** The last log output of a node, for failure messages. */
  log(id: string): string {
    return (this.#logs.get(id) ?? []).join('').slice(-4000);
  }

  /** SIGKILLs every child and waits for each to exit. */
  async killAll(): Promise<void> {
    await Promise.all(
      [...this.#children.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    this.#children.clear();
  }
}

export interface JsonResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function httpJson(url: string, init: RequestInit = {}, timeoutMs = 3000): Promise<JsonResponse | null> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { text };
    }
    return { status: res.status, body };
  } catch {
    return null;
  }
}

/** Polls until `check` returns true; fails with `what` and `detail()` after `timeoutMs`. */
export function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, detail: () => string = () => ''): Promise<void> {
  return eventually(check, timeoutMs, what, detail);
}

/** Every node answers /v1/status with every peer link connected. */
export async function allConnected(nodes: readonly ClusterNodeSpec[]): Promise<boolean> {
  for (const n of nodes) {
    const r = await httpJson(`${urlOf(n)}/v1/status`);
    if (!r || r.status !== 200) return false;
    const peers = r.body['peers'] as Record<string, { connected?: boolean }> | undefined;
    if (!peers || Object.values(peers).some((p) => !p.connected)) return false;
  }
  return true;
}

/** Every node answers /v1/status with the same vector clock. */
export async function sameClocks(nodes: readonly ClusterNodeSpec[]): Promise<boolean> {
  const clocks: string[] = [];
  for (const n of nodes) {
    const r = await httpJson(`${urlOf(n)}/v1/status`);
    if (!r || r.status !== 200) return false;
    clocks.push(JSON.stringify(r.body['clock'], Object.keys((r.body['clock'] ?? {}) as object).sort()));
  }
  return clocks.every((c) => c === clocks[0]);
}

/** The value of `key` on a node: the JSON value, null when not found, undefined on any other answer. */
export async function readKey(n: ClusterNodeSpec, key: string): Promise<unknown> {
  const r = await httpJson(`${urlOf(n)}/v1/kv/${encodeURIComponent(key)}`);
  if (!r) return undefined;
  if (r.status === 404) return null;
  return r.status === 200 ? r.body['value'] : undefined;
}
