import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CausewayError, isCausewayError } from '../../core/errors.js';
import type { VectorClock } from '../../clocks/vector.js';
import type { KvReply } from '../../protocols/kv-types.js';
import type { KvRequest, KvService } from '../../replica/kv-service.js';
import { CONTEXT_HEADER, decodeContext, encodeContext } from '../context-token.js';
import { HTTP_STATUS } from './error-table.js';
import { checkKey as checkKeyBytes, checkValue } from '../kv-input.js';
import { WriteBudget, writeCost } from '../write-budget.js';

export interface HttpApiOptions {
  /** Longest key in UTF-8 bytes. */
  readonly maxKeyBytes: number;
  /** Largest request body (a value plus its envelope) in bytes. */
  readonly maxBodyBytes: number;
  /** Most keys a list returns. */
  readonly maxListLimit: number;
  /** Keys the report's POST /write echoes back as "store". */
  readonly storeEchoLimit: number;
  /** Client writes held at once, in bytes (shared with the node's other faces; see write-budget.ts). */
  readonly writeBudget?: WriteBudget;
}

export const HTTP_API_DEFAULTS: HttpApiOptions = Object.freeze({
  maxKeyBytes: 256,
  maxBodyBytes: 64 * 1024,
  maxListLimit: 1000,
  storeEchoLimit: 1000,
});

const writeBody = z.object({ key: z.string(), value: z.unknown() }).strict();

function fail(code: ConstructorParameters<typeof CausewayError>[0], detail: string): never {
  throw new CausewayError(code, detail);
}

function contextOf(req: FastifyRequest): VectorClock | undefined {
  const h = req.headers[CONTEXT_HEADER];
  if (h === undefined) return undefined;
  return decodeContext(Array.isArray(h) ? (h[0] ?? '') : h);
}

/** Unwraps a protocol reply: expected failures become errors with stable codes. */
type OkReply<K extends string> = Extract<KvReply, { ok: true }> extends infer R ? (R extends { kind: infer RK } ? (K extends RK ? R : never) : never) : never;

function expectOk<K extends 'put' | 'delete' | 'get' | 'list'>(r: KvReply, kind: K): OkReply<K> {
  if (!r.ok) {
    if (r.reason === 'context-timeout') fail('unavailable', `causal context not reached in time: ${r.detail}`);
    if (r.reason === 'not-leader') fail('not-leader', r.detail);
    fail('unavailable', r.detail);
  }
  if (r.kind !== kind) throw new Error(`protocol answered ${r.kind} to a ${kind}`);
  return r as OkReply<K>;
}

/**
 * The HTTP API of one node (SPEC §2): the report's POST /write and GET /read, the versioned
 * /v1/kv API, /v1/status. Every response carries the causal context token; a request that
 * sends one back is served once the node has applied everything it names.
 */
export function createHttpApi(service: KvService, options: Partial<HttpApiOptions> = {}): FastifyInstance {
  const opts: HttpApiOptions = { ...HTTP_API_DEFAULTS, ...options };
  const checkKey = (key: unknown): string => checkKeyBytes(key, opts.maxKeyBytes);
  const budget = opts.writeBudget ?? new WriteBudget();
  /** A write's cost: its body's length (as sent) and the objects and arrays of its value. */
  const costOf = (req: FastifyRequest, containers: number): number => writeCost(Number(req.headers['content-length'] ?? 0) || opts.maxBodyBytes, containers);
  const app = Fastify({
    bodyLimit: opts.maxBodyBytes,
    logger: false,
    routerOptions: { maxParamLength: opts.maxKeyBytes * 4 },
    // Errors the router raises before any route runs get the same JSON shape as the others.
    frameworkErrors: (err, req, res) => {
      const path = req.url.split('?')[0];
      const reply = res as unknown as FastifyReply;
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        void reply.status(HTTP_STATUS['key-too-long']).send({ error: 'key-too-long', detail: `key is longer than ${opts.maxKeyBytes} bytes` });
      } else if (err.code === 'FST_ERR_BAD_URL') {
        void reply.status(400).send({ error: 'bad-request', detail: `path ${path} is not valid percent-encoded UTF-8` });
      } else {
        void reply.status(400).send({ error: 'bad-request', detail: err.message });
      }
    },
  });

  // Bodies are JSON whatever their declared type (curl sends form-urlencoded by default).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new CausewayError('invalid-json', 'request body is not valid JSON'), undefined);
    }
  });

  const submit = async (req: FastifyRequest, reply: FastifyReply, op: KvRequest): Promise<KvReply> => {
    const r = await service.submit(op);
    if (r.ok) reply.header(CONTEXT_HEADER, encodeContext(r.context));
    return r;
  };

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (isCausewayError(err)) {
      void reply.status(HTTP_STATUS[err.code]).send({ error: err.code, detail: err.detail });
      return;
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      void reply.status(413).send({ error: 'too-large', detail: `request body is larger than ${opts.maxBodyBytes} bytes` });
      return;
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      void reply.status(e.statusCode).send({ error: 'bad-request', detail: e.message ?? 'bad request' });
      return;
    }
    app.log.error(err);
    void reply.status(500).send({ error: 'internal', detail: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: 'not-found', detail: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  // The report's API.
  app.post('/write', async (req, reply) => {
    const parsed = writeBody.safeParse(req.body);
    if (!parsed.success) {
      if (req.body === undefined || typeof req.body !== 'object' || req.body === null) fail('bad-request', 'body must be a JSON object {"key": ..., "value": ...}');
      const issue = parsed.error.issues[0];
      fail('bad-request', issue?.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}` : `field "${String(issue?.path[0] ?? 'key')}" is missing or ill-typed`);
    }
    if (!('value' in (req.body as object))) fail('bad-request', 'field "value" is missing');
    const key = checkKey(parsed.data.key);
    const r = await budget.run(costOf(req, checkValue(parsed.data.value)), async () =>
      expectOk(await submit(req, reply, { kind: 'put', key, value: parsed.data.value, ctx: contextOf(req) }), 'put'),
    );
    const store = service.store(opts.storeEchoLimit);
    return { status: 'written', clock: r.context, store: store.entries, ...(store.truncated ? { store_truncated: true } : {}) };
  });

  app.get('/read', async (req, reply) => {
    const key = checkKey((req.query as Record<string, unknown>)['key']);
    const r = expectOk(await submit(req, reply, { kind: 'get', key, ctx: contextOf(req) }), 'get');
    if (!r.found) return reply.status(404).send({ error: 'not-found', detail: `key "${key}" not found`, key, clock: r.context });
    return { key, value: r.value, clock: r.clock };
  });

  // Versioned API.
  const keyParam = (req: FastifyRequest): string => checkKey((req.params as Record<string, string>)['*']);

  app.put('/v1/kv/*', async (req, reply) => {
    const key = keyParam(req);
    if (req.body === undefined) fail('bad-request', 'request body must be the JSON value to store');
    const r = await budget.run(costOf(req, checkValue(req.body)), async () => expectOk(await submit(req, reply, { kind: 'put', key, value: req.body, ctx: contextOf(req) }), 'put'));
    return { key, clock: r.clock };
  });

  app.get('/v1/kv/*', async (req, reply) => {
    const key = keyParam(req);
    const r = expectOk(await submit(req, reply, { kind: 'get', key, ctx: contextOf(req) }), 'get');
    if (!r.found) return reply.status(404).send({ error: 'not-found', detail: `key "${key}" not found`, key, conflict: r.conflict });
    return { key, value: r.value, clock: r.clock, conflict: r.conflict, ...(r.conflict && r.siblings ? { siblings: r.siblings } : {}) };
  });

  app.delete('/v1/kv/*', async (req, reply) => {
    const key = keyParam(req);
    const r = expectOk(await submit(req, reply, { kind: 'delete', key, ctx: contextOf(req) }), 'delete');
    return { key, deleted: true, clock: r.clock };
  });

  const listQuery = z.object({
    prefix: z.string().default(''),
    limit: z.coerce.number().int().min(1).max(opts.maxListLimit).default(100),
  });
  app.get('/v1/kv', async (req, reply) => {
    const q = listQuery.safeParse(req.query ?? {});
    if (!q.success) fail('bad-request', `query "${String(q.error.issues[0]?.path[0] ?? 'limit')}": ${q.error.issues[0]?.message ?? 'invalid'} (limit is 1..${opts.maxListLimit})`);
    // One key more than asked for tells whether the list was cut short.
    const r = expectOk(await submit(req, reply, { kind: 'list', prefix: q.data.prefix, limit: q.data.limit + 1, ctx: contextOf(req) }), 'list');
    return r.keys.length > q.data.limit ? { keys: r.keys.slice(0, q.data.limit), truncated: true } : { keys: r.keys };
  });

  app.get('/v1/status', async () => service.status());

  return app;
}
