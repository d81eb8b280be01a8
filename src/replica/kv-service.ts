import type { KvOp, KvReply } from '../protocols/kv-types.js';

/** A KvOp as a transport submits it: the runtime assigns the request id. */
export type KvRequest = KvOp extends infer T ? (T extends { reqId: number } ? Omit<T, 'reqId'> : never) : never;

/** What the HTTP and CoAP front ends need from a running node. */
export interface KvService {
  readonly nodeId: string;
  readonly model: string;
  readonly nodes: readonly string[];
  submit(op: KvRequest): Promise<KvReply>;
  status(): Record<string, unknown>;
  /** The node's current store (winning values), at most `limit` keys, for the report's /write response. */
  store(limit: number): { entries: Record<string, unknown>; truncated: boolean };
  /** Subscribe to applied changes of one key (CoAP Observe); returns the unsubscribe function. */
  watch(key: string, onChange: () => void): () => void;
}
