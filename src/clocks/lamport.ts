/** Lamport's logical clock: tick before each local event, max(local, received) + 1 on receive. */
export class LamportClock {
  #time: number;
  constructor(start = 0) {
    this.#time = start;
  }
  get time(): number {
    return this.#time;
  }
  /** A local event or a send: the clock moves forward by one and the new time is returned. */
  tick(): number {
    this.#time += 1;
    return this.#time;
  }
  /** Receive rule: L = max(L, received) + 1. */
  receive(received: number): number {
    this.#time = lamportReceive(this.#time, received);
    return this.#time;
  }
}

/** The receive rule as a pure function: max(local, received) + 1. */
export function lamportReceive(local: number, received: number): number {
  return Math.max(local, received) + 1;
}
