import { CausewayError, isCausewayError } from '../core/errors.js';
import type { VectorClock } from '../clocks/vector.js';
import type { KvReply } from '../protocols/kv-types.js';
import type { KvService } from '../replica/kv-service.js';
import type { CoapReply, CoapRequest, CoapServer } from './coap/server.js';
import { decodeContext, encodeContext } from './context-token.js';
import { COAP_CODE } from './kv-coap-errors.js';
import { checkKey, checkValue } from './kv-input.js';
import { WriteBudget, writeCost } from './write-budget.js';

export interface KvCoapOptions {
  readonly maxKeyBytes: number;
  /** How long a key's watch stays after a GET with Observe, observed or not (see mountKvCoap). */
  readonly watchGraceMs: number;
  /** Client writes held at once, in bytes (shared with the node's other faces; see write-budget.ts). */
  readonly writeBudget?: WriteBudget;
}
export const KV_COAP_DEFAULTS: KvCoapOptions = Object.freeze({ maxKeyBytes: 256, watchGraceMs: 30_000 });

const JSON_CF = 50;
/** Unobserved watches a node keeps before it sweeps them (see mountKvCoap). */
const SWEEP_SLACK = 64;

function json(code: string, body: unknown): CoapReply {
  return { code, payload: JSON.stringify(body), contentFormat: JSON_CF };
}

function errorReply(err: unknown): CoapReply {
  if (isCausewayError(err)) return json(COAP_CODE[err.code], { error: err.code, detail: err.detail });
  return json('5.00', { error: 'internal', detail: 'internal error' });
}

function queryParam(req: CoapRequest, name: string): string | undefined {
  for (const q of req.query) if (q.startsWith(`${name}=`)) return q.slice(name.length + 1);
  return undefined;
}

/** A query value as sent, percent-decoded where the client encoded it. */
function decodeQuery(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new CausewayError('bad-request', 'query "ctx" has a malformed percent-encoding');
  }
}

function unwrap(r: KvReply): Extract<KvReply, { ok: true }> {
  if (r.ok) return r;
  throw new CausewayError(r.reason === 'context-timeout' ? 'unavailable' : r.reason === 'not-leader' ? 'not-leader' : 'unavailable', r.detail);
}

/**
 * The CoAP face of a node (SPEC §2 "CoAP API"): coap://node/kv/{key} with GET (Observe is a
 * watch on the key), PUT (JSON value), DELETE; the causal context token travels as query `ctx`
 * and comes back in each response body as "ctx".
 */
export function mountKvCoap(server: CoapServer, service: KvService, options: Partial<KvCoapOptions> = {}): () => void {
  const opts = { ...KV_COAP_DEFAULTS, ...options };
  const budget = opts.writeBudget ?? new WriteBudget();
  /**
   * One watch per observed key. A watch outlives its observers for a while (they come and go),
   * but not forever: once no observer is left it ends at the key's next change, or at a sweep,
   * which a new watch starts once watches outnumber twice the observers plus some slack (and
   * twice what the last sweep left). A registration the server refuses (a GET answered 4.04, the
   * observer limit) leaves an unobserved watch too; so watches stay within a bound however many keys clients probe. A watch
   * is kept for `watchGraceMs` after its last GET with Observe whatever the count: the server
   * registers the observer only once the handler has answered, which may wait for a context.
   */
  const watches = new Map<string, { stop: () => void; lastGet: number }>();
  const unobserved = (key: string): boolean =>
    server.observerCount(`kv/${key}`) === 0 && performance.now() - (watches.get(key)?.lastGet ?? 0) > opts.watchGraceMs;
  const unwatch = (key: string): void => {
    watches.get(key)?.stop();
    watches.delete(key);
  };
  // The next sweep waits until watches double again (a burst of probes within the grace period
  // leaves nothing to sweep: sweeping on each of them would cost O(n) per request).
  let sweepAt = SWEEP_SLACK;
  const sweep = (): void => {
    for (const key of [...watches.keys()]) if (unobserved(key)) unwatch(key);
    sweepAt = Math.max(2 * server.observerCount() + SWEEP_SLACK, 2 * watches.size);
  };

  const handle = async (req: CoapRequest): Promise<CoapReply> => {
    try {
      const path = req.path.slice(1).join('/');
      if (path.length === 0) throw new CausewayError('bad-request', 'missing key: use /kv/{key}');
      const key = checkKey(path, opts.maxKeyBytes);
      const token = queryParam(req, 'ctx');
      const ctx: VectorClock | undefined = token === undefined ? undefined : decodeContext(decodeQuery(token));
      switch (req.method) {
        case 'GET': {
          if (req.observe === 0) {
            const w = watches.get(key);
            if (w) w.lastGet = performance.now();
            else {
              if (watches.size >= Math.max(sweepAt, 2 * server.observerCount() + SWEEP_SLACK)) sweep();
              const stop = service.watch(key, () => {
                if (unobserved(key)) unwatch(key);
                else server.notifyObservers(`kv/${key}`);
              });
              watches.set(key, { stop, lastGet: performance.now() });
            }
          }
          const r = unwrap(await service.submit({ kind: 'get', key, ctx }));
          if (r.kind !== 'get') throw new Error('protocol answered a get with ' + r.kind);
          if (!r.found) return json('4.04', { error: 'not-found', detail: `key "${key}" not found`, key, ctx: encodeContext(r.context) });
          return json('2.05', { key, value: r.value, clock: r.clock, conflict: r.conflict, ...(r.conflict && r.siblings ? { siblings: r.siblings } : {}), ctx: encodeContext(r.context) });
        }
        case 'PUT': {
          if (req.contentFormat !== undefined && req.contentFormat !== JSON_CF && req.contentFormat !== 0) {
            throw new CausewayError('unsupported-content-format', `Content-Format ${req.contentFormat} is not JSON (50)`);
          }
          let value: unknown;
          try {
            value = JSON.parse(req.payload.toString('utf8'));
          } catch {
            throw new CausewayError('invalid-json', 'payload is not valid JSON');
          }
          const r = await budget.run(writeCost(req.payload.length, checkValue(value)), async () => unwrap(await service.submit({ kind: 'put', key, value, ctx })));
          if (r.kind !== 'put') throw new Error('protocol answered a put with ' + r.kind);
          return json('2.04', { key, clock: r.clock, ctx: encodeContext(r.context) });
        }
        case 'DELETE': {
          const r = unwrap(await service.submit({ kind: 'delete', key, ctx }));
          if (r.kind !== 'delete') throw new Error('protocol answered a delete with ' + r.kind);
          return json('2.02', { key, deleted: true, clock: r.clock, ctx: encodeContext(r.context) });
        }
        default:
          throw new CausewayError('method-not-allowed', `${req.method} is not allowed on /kv/{key}: use GET, PUT or DELETE`);
      }
    } catch (err) {
      return errorReply(err);
    }
  };

  server.addResource({ path: 'kv/*', title: 'Causeway key-value store', rt: 'causeway.kv', ct: [JSON_CF], observable: true, handle });
  return () => {
    for (const key of [...watches.keys()]) unwatch(key);
  };
}
