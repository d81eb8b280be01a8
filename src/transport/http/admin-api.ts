/**
 * The admin API of one node: chaos on a live cluster (faults on peer links, crash, restart),
 * authenticated with the cluster secret.
 *
 *   POST /v1/admin/fault    {"peer": ID, "partition"?: bool, "oneway"?: "out"|"in"|null,
 *                            "delayMs"?: ms, "lossRate"?: 0..1}
 *                           merged over the link's current fault (absent fields keep their value;
 *                           false / null / 0 clear one); a fault with nothing left heals the link
 *   POST /v1/admin/heal     {"peer"?: ID}       heal one link, or every link
 *   POST /v1/admin/crash    {}                  engine torn down, in-memory state lost
 *   POST /v1/admin/restart  {}                  engine rebuilt from disk
 *   GET  /v1/admin/faults                       the faults now set
 *
 * Every call carries `Causeway-Admin: <unix-ms>.<hex HMAC-SHA256(secret, METHOD \n PATH \n
 * unix-ms \n BODY)>`, PATH being the request target as sent (path and query) and BODY the exact
 * request bytes (empty for GET). A stamp outside ±60 s, a bad MAC, or a MAC already used is
 * refused with 401 before anything is parsed or changed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CausewayError, isCausewayError } from '../../core/errors.js';
import type { PeerFault } from '../peer/peer-network.js';
import { HTTP_STATUS } from './error-table.js';

export const ADMIN_HEADER = 'causeway-admin';
export const ADMIN_PREFIX = '/v1/admin';

/** What the admin API drives: a node host (NodeHost fits this shape). */
export interface AdminTarget {
  readonly nodeId: string;
  readonly nodes: readonly string[];
  readonly running: boolean;
  /** The live peer network, null while crashed. */
  readonly network: { fault(peer: string): PeerFault | null } | null;
  setFault(peer: string, fault: PeerFault | null): void;
  healAll(): void;
  /** Resolves true if it crashed the node, false if it was crashed already. */
  crash(): Promise<boolean>;
  /** Resolves true if it restarted the node, false if it was running. */
  restart(): Promise<boolean>;
}

export interface AdminApiOptions {
  readonly secret: string | Buffer;
  /** Accepted distance between a request's stamp and this node's clock. */
  readonly windowMs: number;
  /** Milliseconds since the epoch (inject a fixed clock in tests). */
  readonly now: () => number;
  /** Largest admin request body. */
  readonly maxBodyBytes: number;
}

export const ADMIN_API_DEFAULTS: Omit<AdminApiOptions, 'secret'> = Object.freeze({
  windowMs: 60_000,
  now: () => Date.now(),
  maxBodyBytes: 4096,
});

/** The MAC of one admin request, hex. */
export function adminMac(secret: string | Buffer, method: string, path: string, stampMs: number, body: string): string {
  return createHmac('sha256', secret).update(`${method.toUpperCase()}\n${path}\n${stampMs}\n${body}`).digest('hex');
}

/** The `Causeway-Admin` header value for one request. */
export function signAdminRequest(secret: string | Buffer, method: string, path: string, body: string, nowMs: number): string {
  const stamp = Math.floor(nowMs);
  return `${stamp}.${adminMac(secret, method, path, stamp, body)}`;
}

export type AdminAuthResult = { readonly ok: true; readonly mac: string } | { readonly ok: false; readonly reason: string };

/** Checks a `Causeway-Admin` header (constant-time MAC comparison). */
export function verifyAdminHeader(
  secret: string | Buffer,
  header: string | undefined,
  method: string,
  path: string,
  body: string,
  nowMs: number,
  windowMs: number,
): AdminAuthResult {
  if (header === undefined || header === '') return { ok: false, reason: 'missing Causeway-Admin header' };
  const m = /^(\d{1,16})\.([0-9a-f]{64})$/.exec(header);
  if (!m) return { ok: false, reason: 'malformed Causeway-Admin header: expected <unix-ms>.<64 hex digits>' };
  const stamp = Number(m[1]);
  if (Math.abs(nowMs - stamp) > windowMs) {
    return { ok: false, reason: `stale Causeway-Admin stamp: ${stamp} is more than ${windowMs / 1000} s from this node's clock` };
  }
  const want = Buffer.from(adminMac(secret, method, path, stamp, body), 'hex');
  const got = Buffer.from(m[2] as string, 'hex');
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'bad Causeway-Admin signature (wrong cluster secret?)' };
  return { ok: true, mac: m[2] as string };
}

const peerField = z.string({ error: 'must be a node id (string)' }).min(1, 'must be a non-empty node id');

const faultBody = z
  .object({
    peer: peerField,
    partition: z.boolean({ error: 'must be true or false' }).optional(),
    oneway: z.enum(['out', 'in'], { error: 'must be "out", "in" or null' }).nullable().optional(),
    delayMs: z.number({ error: 'must be a number of milliseconds' }).finite().min(0, 'must be >= 0').max(60_000, 'must be at most 60000 ms').optional(),
    lossRate: z.number({ error: 'must be a number from 0 to 1' }).min(0, 'must be within [0, 1]').max(1, 'must be within [0, 1]').optional(),
  })
  .strict();
const healBody = z.object({ peer: peerField.optional() }).strict();
const emptyBody = z.object({}).strict();

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const raw = typeof body === 'string' ? body : '';
  let value: unknown = {};
  if (raw.trim() !== '') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new CausewayError('invalid-json', 'request body is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CausewayError('bad-request', 'request body must be a JSON object');
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue?.code === 'unrecognized_keys') throw new CausewayError('bad-request', `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`);
  throw new CausewayError('bad-request', `field "${String(issue?.path[0] ?? '(body)')}": ${issue?.message ?? 'invalid'}`);
}

function clean(f: PeerFault): PeerFault | null {
  const out: { partition?: boolean; oneway?: 'out' | 'in'; delayMs?: number; lossRate?: number } = {};
  if (f.partition) out.partition = true;
  if (f.oneway) out.oneway = f.oneway;
  if (f.delayMs) out.delayMs = f.delayMs;
  if (f.lossRate) out.lossRate = f.lossRate;
  return Object.keys(out).length === 0 ? null : out;
}

/**
 * Mounts the admin routes on a fastify app, in their own scope (raw bodies, so the MAC covers the
 * exact bytes). Call before `listen`.
 */
export function mountAdminApi(app: FastifyInstance, target: AdminTarget, options: Partial<AdminApiOptions> & Pick<AdminApiOptions, 'secret'>): void {
  const opts: AdminApiOptions = { ...ADMIN_API_DEFAULTS, ...options };
  // Faults as set through this API: the peer network forgets them while crashed, the host does not.
  const kept = new Map<string, PeerFault>();
  // MACs seen within the window: a captured request cannot be replayed.
  const seen = new Map<string, number>();

  const faults = (): Record<string, PeerFault> => {
    const out: Record<string, PeerFault> = {};
    const net = target.network;
    for (const peer of target.nodes) {
      if (peer === target.nodeId) continue;
      const f = net ? net.fault(peer) : (kept.get(peer) ?? null);
      if (f) out[peer] = { ...f };
    }
    return out;
  };
  const checkPeer = (peer: string): void => {
    if (peer === target.nodeId) throw new CausewayError('bad-request', `field "peer": "${peer}" is this node itself`);
    if (!target.nodes.includes(peer)) {
      throw new CausewayError('bad-request', `field "peer": unknown node "${peer}" (peers: ${target.nodes.filter((n) => n !== target.nodeId).join(', ')})`);
    }
  };
  const setFault = (peer: string, f: PeerFault | null): void => {
    target.setFault(peer, f);
    if (f) kept.set(peer, f);
    else kept.delete(peer);
  };

  const authenticate = (req: FastifyRequest): void => {
    const h = req.headers[ADMIN_HEADER];
    const header = Array.isArray(h) ? h[0] : h;
    const body = typeof req.body === 'string' ? req.body : '';
    const now = opts.now();
    const r = verifyAdminHeader(opts.secret, header, req.method, req.url, body, now, opts.windowMs);
    if (!r.ok) throw new CausewayError('unauthorized', r.reason);
    for (const [mac, expiry] of seen) if (expiry < now) seen.delete(mac);
    if (seen.has(r.mac)) throw new CausewayError('unauthorized', 'replayed Causeway-Admin signature: sign every request afresh');
    seen.set(r.mac, Number(header?.split('.')[0]) + opts.windowMs);
  };

  void app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, String(body)));
      scope.setErrorHandler((err: unknown, _req, reply) => {
        if (isCausewayError(err)) return reply.status(HTTP_STATUS[err.code]).send({ error: err.code, detail: err.detail });
        const e = err as { statusCode?: number; code?: string; message?: string };
        if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.status(413).send({ error: 'too-large', detail: `admin request body is larger than ${opts.maxBodyBytes} bytes` });
        if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
          return reply.status(e.statusCode).send({ error: 'bad-request', detail: e.message ?? 'bad request' });
        }
        return reply.status(500).send({ error: 'internal', detail: e.message ?? 'internal error' });
      });
      scope.addHook('preHandler', async (req) => authenticate(req));

      const state = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
        node: target.nodeId,
        running: target.running,
        ...extra,
        faults: faults(),
      });

      scope.get('/faults', async () => state());

      scope.post('/fault', async (req) => {
        const b = parseBody(faultBody, req.body);
        checkPeer(b.peer);
        const current = target.network?.fault(b.peer) ?? kept.get(b.peer) ?? {};
        const merged: PeerFault = {
          ...current,
          ...(b.partition === undefined ? {} : { partition: b.partition }),
          ...(b.oneway === undefined ? {} : b.oneway === null ? { oneway: undefined } : { oneway: b.oneway }),
          ...(b.delayMs === undefined ? {} : { delayMs: b.delayMs }),
          ...(b.lossRate === undefined ? {} : { lossRate: b.lossRate }),
        };
        setFault(b.peer, clean(merged));
        return state();
      });

      scope.post('/heal', async (req) => {
        const b = parseBody(healBody, req.body);
        if (b.peer === undefined) {
          target.healAll();
          kept.clear();
        } else {
          checkPeer(b.peer);
          setFault(b.peer, null);
        }
        return state();
      });

      scope.post('/crash', async (req) => {
        parseBody(emptyBody, req.body);
        const changed = await target.crash();
        return state({ changed });
      });

      scope.post('/restart', async (req) => {
        parseBody(emptyBody, req.body);
        const changed = await target.restart();
        return state({ changed });
      });
    },
    { prefix: ADMIN_PREFIX },
  );
}

export interface AdminCallOptions {
  readonly secret: string | Buffer;
  /** Per-request timeout. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export type AdminCallResult =
  | { readonly ok: true; readonly status: number; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: number | null; readonly error: string };

/** One signed admin request to a node at `baseUrl` (e.g. http://127.0.0.1:5001). Never throws. */
export async function callAdmin(baseUrl: string, method: 'GET' | 'POST', action: string, body: Record<string, unknown> | undefined, options: AdminCallOptions): Promise<AdminCallResult> {
  const path = `${ADMIN_PREFIX}/${action}`;
  const text = method === 'GET' || body === undefined ? '' : JSON.stringify(body);
  const header = signAdminRequest(options.secret, method, path, text, (options.now ?? Date.now)());
  try {
    const res = await fetch(new URL(path, baseUrl), {
      method,
      headers: { [ADMIN_HEADER]: header, ...(text ? { 'content-type': 'application/json' } : {}) },
      ...(text ? { body: text } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const raw = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = { detail: raw };
    }
    const obj = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    if (res.ok) return { ok: true, status: res.status, body: obj };
    return { ok: false, status: res.status, error: `${res.status} ${String(obj['error'] ?? 'error')}: ${String(obj['detail'] ?? raw)}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${options.timeoutMs ?? 10_000} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
    return { ok: false, status: null, error: `cannot reach ${baseUrl}: ${why}` };
  }
}
