/**
 * Hybrid logical clock (Kulkarni et al., 2014): a physical-time component `wall` and a logical
 * counter, so timestamps stay close to real time yet respect causality. The physical clock is
 * passed in, never read here.
 */
export interface Hlc {
  readonly wall: number;
  readonly logical: number;
}

export const hlcZero: Hlc = Object.freeze({ wall: 0, logical: 0 });

export function compareHlc(a: Hlc, b: Hlc): -1 | 0 | 1 {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return 0;
}

/** Local or send event at physical time `now`. */
export function hlcTick(last: Hlc, now: number): Hlc {
  if (now > last.wall) return { wall: now, logical: 0 };
  return { wall: last.wall, logical: last.logical + 1 };
}

/** Receive event: the result is after both `last` and `remote`. */
export function hlcReceive(last: Hlc, remote: Hlc, now: number): Hlc {
  const wall = Math.max(last.wall, remote.wall, now);
  if (wall === last.wall && wall === remote.wall) {
    return { wall, logical: Math.max(last.logical, remote.logical) + 1 };
  }
  if (wall === last.wall) return { wall, logical: last.logical + 1 };
  if (wall === remote.wall) return { wall, logical: remote.logical + 1 };
  return { wall, logical: 0 };
}

export class HybridClock {
  #last: Hlc;
  readonly #now: () => number;
  constructor(now: () => number, start: Hlc = hlcZero) {
    this.#now = now;
    this.#last = start;
  }
  get last(): Hlc {
    return this.#last;
  }
  tick(): Hlc {
    this.#last = hlcTick(this.#last, this.#now());
    return this.#last;
  }
  receive(remote: Hlc): Hlc {
    this.#last = hlcReceive(this.#last, remote, this.#now());
    return this.#last;
  }
}
