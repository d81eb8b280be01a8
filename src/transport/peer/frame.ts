/**
 * Peer-link wire framing: every frame is
 *
 *   u32 big-endian length N | u8 type | N-1 bytes of body
 *
 * N counts the type byte and the body, so an empty-bodied frame has N = 1. A frame whose N is 0,
 * whose N exceeds the decoder's current limit, or whose type is unknown is a protocol error: the
 * decoder stops for good and the connection is closed by its owner.
 */

export const FRAME_HEADER_BYTES = 5;

/** Frame types. Handshake frames carry one msgpack map; DATA carries concatenated msgpack values. */
export const FrameType = {
  hello: 1, // dialer → acceptor: { v, from, to, nonce }
  challenge: 2, // acceptor → dialer: { from, nonce, mac }
  auth: 3, // dialer → acceptor: { mac }
  welcome: 4, // acceptor → dialer: {} — the link is open
  reject: 5, // acceptor → dialer: { reason } — then close
  data: 6, // a batch of application messages
  ping: 7, // keepalive, empty body
} as const;
export type FrameTypeName = keyof typeof FrameType;
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];

const CODE_TO_NAME: ReadonlyMap<number, FrameTypeName> = new Map(
  (Object.entries(FrameType) as [FrameTypeName, FrameTypeCode][]).map(([name, code]) => [code, name]),
);

export interface Frame {
  readonly type: FrameTypeName;
  readonly body: Buffer;
}

/** One frame's header, to be written before `body` (kept separate so bodies are never copied). */
export function frameHeader(type: FrameTypeName, bodyLength: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUInt32BE(bodyLength + 1, 0);
  h.writeUInt8(FrameType[type], 4);
  return h;
}

/** A whole frame in one buffer. */
export function encodeFrame(type: FrameTypeName, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([frameHeader(type, body.length), body]);
}

export type DecodeError =
  | { readonly kind: 'oversize'; readonly length: number; readonly limit: number }
  | { readonly kind: 'empty-frame' }
  | { readonly kind: 'unknown-type'; readonly code: number };

export type DecodeStep =
  | { readonly ok: true; readonly frame: Frame | null }
  | { readonly ok: false; readonly error: DecodeError };

/**
 * Incremental decoder. Chunks are collected without repeated concatenation, so a large frame that
 * arrives in many chunks costs one copy. Frames are taken one at a time with `next()`, so the size
 * limit can change between two frames of one chunk (the handshake uses a small limit, the open
 * link a large one); it is checked as soon as a header is complete, before any body is buffered.
 * After an error the decoder stays failed and holds nothing.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #limit: number;
  #failed: DecodeError | null = null;

  constructor(limit: number) {
    this.#limit = limit;
  }

  setLimit(limit: number): void {
    this.#limit = limit;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (this.#failed || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete frame (null: need more bytes), or the error that stopped the stream. */
  next(): DecodeStep {
    if (this.#failed) return { ok: false, error: this.#failed };
    if (this.#buffered < FRAME_HEADER_BYTES) return { ok: true, frame: null };
    const head = this.#peek(FRAME_HEADER_BYTES);
    const length = head.readUInt32BE(0);
    if (length === 0) return this.#fail({ kind: 'empty-frame' });
    if (length > this.#limit) return this.#fail({ kind: 'oversize', length, limit: this.#limit });
    const code = head.readUInt8(4);
    const type = CODE_TO_NAME.get(code);
    if (type === undefined) return this.#fail({ kind: 'unknown-type', code });
    const total = 4 + length;
    if (this.#buffered < total) return { ok: true, frame: null };
    const whole = this.#take(total);
    return { ok: true, frame: { type, body: whole.subarray(FRAME_HEADER_BYTES) } };
  }

  /** All complete frames currently buffered (convenience for tests and simple readers). */
  drain(): { frames: Frame[]; error: DecodeError | null } {
    const frames: Frame[] = [];
    for (;;) {
      const step = this.next();
      if (!step.ok) return { frames, error: step.error };
      if (step.frame === null) return { frames, error: null };
      frames.push(step.frame);
    }
  }

  #fail(error: DecodeError): DecodeStep {
    this.#failed = error;
    this.#chunks = [];
    this.#buffered = 0;
    return { ok: false, error };
  }

  /** The first n buffered bytes, without consuming them. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    this.#coalesce();
    return (this.#chunks[0] as Buffer).subarray(0, n);
  }

  /** Consumes and returns the first n buffered bytes. */
  #take(n: number): Buffer {
    let first = this.#chunks[0] as Buffer;
    if (first.length < n) {
      this.#coalesce();
      first = this.#chunks[0] as Buffer;
    }
    const out = first.subarray(0, n);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return out;
  }

  #coalesce(): void {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
  }
}
