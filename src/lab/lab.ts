/**
 * The Lab (SPEC §1): six CoAP resources, wire-compatible with the lab's Python servers. Pure —
 * request bytes in, reply out; the CoAP driver (`causeway lab serve`) does the I/O and prints the
 * log lines, which it gets from the reply or by subscribing to events.
 */
import { assertNever } from '../core/assert.js';
import type { ErrorCode } from '../core/errors.js';
import { parsePyJson, pyJsonDumps, type PyValue } from './py-json.js';
import {
  CausalResource,
  EventualResource,
  LamportResource,
  SequentialResource,
  StrongResource,
  VectorResource,
  type LabDecision,
  type LabResourceName,
  type PutOutcome,
} from './resources.js';
import { labSchemas, validate, type LabSchemas } from './schemas.js';

export const CONTENT_FORMAT_TEXT = 0;
export const CONTENT_FORMAT_JSON = 50;

export type LabCode = '2.04' | '2.05' | '4.00' | '4.05' | '4.13' | '4.15';

export interface LabReply {
  code: LabCode;
  payload: string;
  contentFormat?: number;
  /** whether the resource's state changed (the driver notifies observers when it did) */
  changed: boolean;
  /** one console line in the lab's style */
  logLine: string;
  decision?: LabDecision;
  /** for 4.xx: the stable error code and its detail */
  error?: { code: ErrorCode; detail: string };
}

export type LabEvent =
  | { type: 'applied'; resource: LabResourceName; decision: LabDecision; changed: boolean; logLine: string }
  | { type: 'read'; resource: LabResourceName; logLine: string }
  | { type: 'rejected'; resource: LabResourceName; code: LabCode; error: ErrorCode; detail: string; logLine: string };

export interface LabOptions {
  /** clock length for /vector and /causal (`--nodes`) */
  nodes: number;
  /** PUT bodies above this many bytes get 4.13 */
  maxBodyBytes: number;
  /** Content-Formats a PUT may declare (absent is always fine: the lab's client sends none) */
  acceptedContentFormats: readonly number[];
}

export const DEFAULT_LAB_OPTIONS: Readonly<LabOptions> = Object.freeze({
  nodes: 2,
  maxBodyBytes: 8192,
  acceptedContentFormats: Object.freeze([CONTENT_FORMAT_JSON]),
});

const PY_TYPE_NAMES: Record<string, string> = { string: 'str', boolean: 'bool', bigint: 'int', number: 'float' };
function pyTypeName(v: PyValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return PY_TYPE_NAMES[typeof v] ?? 'object';
}

export class Lab {
  readonly options: Readonly<LabOptions>;
  readonly #schemas: LabSchemas;
  readonly #lamport = new LamportResource();
  readonly #vector: VectorResource;
  readonly #eventual = new EventualResource();
  readonly #causal: CausalResource;
  readonly #sequential = new SequentialResource();
  readonly #strong = new StrongResource();
  readonly #listeners = new Set<(e: LabEvent) => void>();
  readonly #decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(options: Partial<LabOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_LAB_OPTIONS, ...options });
    const n = this.options.nodes;
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new RangeError(`nodes must be an integer from 1 to 1024, got ${n}`);
    this.#schemas = labSchemas(n);
    this.#vector = new VectorResource(n);
    this.#causal = new CausalResource(n);
  }

  /** Subscribe to every decision; returns the unsubscribe function. */
  subscribe(listener: (e: LabEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The resource's current state as JSON text (what GET returns). */
  stateJson(resource: LabResourceName): string {
    return pyJsonDumps(this.#resource(resource).state());
  }

  handle(resource: LabResourceName, method: string, payload: Uint8Array, contentFormat?: number): LabReply {
    const tag = `[${resource.toUpperCase()}]`;
    if (method === 'GET') {
      const body = this.stateJson(resource);
      const logLine = `${tag} GET -> ${body}`;
      this.#emit({ type: 'read', resource, logLine });
      return { code: '2.05', payload: body, contentFormat: CONTENT_FORMAT_JSON, changed: false, logLine };
    }
    if (method !== 'PUT') return this.#reject(resource, '4.05', 'method-not-allowed', `method ${method} not allowed; use GET or PUT`);
    if (contentFormat !== undefined && !this.options.acceptedContentFormats.includes(contentFormat)) {
      return this.#reject(resource, '4.15', 'unsupported-content-format', `Content-Format ${contentFormat} not supported; send application/json (50)`);
    }
    if (payload.byteLength > this.options.maxBodyBytes) {
      return this.#reject(resource, '4.13', 'too-large', `request body of ${payload.byteLength} bytes exceeds ${this.options.maxBodyBytes}`);
    }
    let text: string;
    try {
      text = this.#decoder.decode(payload);
    } catch {
      return this.#reject(resource, '4.00', 'invalid-json', 'Invalid JSON', 'body is not UTF-8');
    }
    const parsed = parsePyJson(text);
    if (!parsed.ok) return this.#reject(resource, '4.00', 'invalid-json', 'Invalid JSON', parsed.reason);
    const body = parsed.value;
    if (!(body instanceof Map)) {
      return this.#reject(resource, '4.00', 'bad-request', `request body must be a JSON object, got ${pyTypeName(body)}`);
    }
    const outcome = this.#put(resource, body);
    if (!outcome.ok) return this.#reject(resource, '4.00', 'bad-request', outcome.message);
    const o = outcome.value;
    this.#emit({ type: 'applied', resource, decision: o.decision, changed: o.changed, logLine: o.logLine });
    return {
      code: '2.04',
      payload: pyJsonDumps(o.response),
      contentFormat: CONTENT_FORMAT_JSON,
      changed: o.changed,
      logLine: o.logLine,
      decision: o.decision,
    };
  }

  #put(resource: LabResourceName, body: Map<string, PyValue>): { ok: true; value: PutOutcome } | { ok: false; message: string } {
    const s = this.#schemas;
    switch (resource) {
      case 'lamport': {
        const v = validate(s.lamport, body);
        return v.ok ? { ok: true, value: this.#lamport.put(v.data) } : v;
      }
      case 'vector': {
        const v = validate(s.vector, body);
        return v.ok ? { ok: true, value: this.#vector.put(v.data) } : v;
      }
      case 'eventual': {
        const v = validate(s.eventual, body);
        return v.ok ? { ok: true, value: this.#eventual.put(v.data) } : v;
      }
      case 'causal': {
        const v = validate(s.causal, body);
        return v.ok ? { ok: true, value: this.#causal.put(v.data) } : v;
      }
      case 'sequential': {
        const v = validate(s.sequential, body);
        return v.ok ? { ok: true, value: this.#sequential.put(v.data) } : v;
      }
      case 'strong': {
        const v = validate(s.strong, body);
        return v.ok ? { ok: true, value: this.#strong.put(v.data) } : v;
      }
      default:
        return assertNever(resource, 'lab resource');
    }
  }

  #resource(resource: LabResourceName) {
    switch (resource) {
      case 'lamport':
        return this.#lamport;
      case 'vector':
        return this.#vector;
      case 'eventual':
        return this.#eventual;
      case 'causal':
        return this.#causal;
      case 'sequential':
        return this.#sequential;
      case 'strong':
        return this.#strong;
      default:
        return assertNever(resource, 'lab resource');
    }
  }

  #reject(resource: LabResourceName, code: LabCode, error: ErrorCode, payload: string, why?: string): LabReply {
    const detail = why ?? payload;
    const logLine = `[${resource.toUpperCase()}] REJECT ${code}: ${why === undefined ? payload : `${payload} (${why})`}`;
    this.#emit({ type: 'rejected', resource, code, error, detail, logLine });
    return { code, payload, contentFormat: CONTENT_FORMAT_TEXT, changed: false, logLine, error: { code: error, detail } };
  }

  #emit(e: LabEvent): void {
    for (const l of this.#listeners) l(e);
  }
}
