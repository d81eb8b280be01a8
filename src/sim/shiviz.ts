/**
 * A log ShiViz reads (https://bestchai.bitbucket.io/shiviz/): a file whose first line is the
 * parser regular expression, whose second line is the (empty) multiple-executions delimiter, and
 * then one event per two lines:
 *
 *     node2 {"node1":3,"node2":5}
 *     receive write from node1 (node1#2 key k3)
 *
 * The regex we emit is `(?<host>\S*) (?<clock>{.*})\n(?<event>.*)`. ShiViz requires each host's
 * own clock entry to start at 1 and grow by exactly one per event, so these are event-level vector
 * clocks kept by the simulator (every send, receive and local event counts), not the protocol's
 * write clocks. A message carries the sender's clock; its receive merges it.
 */
export const SHIVIZ_REGEX = '(?<host>\\S*) (?<clock>{.*})\\n(?<event>.*)';

export type ShivizClock = Record<string, number>;

export class ShivizLog {
  readonly #clocks = new Map<string, ShivizClock>();
  readonly #lines: string[] = [];

  #tick(host: string): ShivizClock {
    let c = this.#clocks.get(host);
    if (!c) this.#clocks.set(host, (c = {}));
    c[host] = (c[host] ?? 0) + 1;
    return c;
  }

  #emit(host: string, clock: ShivizClock, text: string): void {
    const keys = Object.keys(clock).sort();
    const json = `{${keys.map((k) => `${JSON.stringify(k)}:${clock[k] as number}`).join(',')}}`;
    this.#lines.push(`${host} ${json}`, text.replace(/[\r\n]+/g, ' '));
  }

  /** A local event (client operation, crash, restart, partition, ...). */
  local(host: string, text: string): void {
    this.#emit(host, this.#tick(host), text);
  }

  /** A send: logs it and returns the clock the message carries. */
  send(host: string, text: string): ShivizClock {
    const c = this.#tick(host);
    this.#emit(host, c, text);
    return { ...c };
  }

  /** A receive: merge the message's clock, then count the event. */
  receive(host: string, text: string, carried: ShivizClock): void {
    let c = this.#clocks.get(host);
    if (!c) this.#clocks.set(host, (c = {}));
    for (const k in carried) {
      if (k === host) continue;
      const v = carried[k] as number;
      if (v > (c[k] ?? 0)) c[k] = v;
    }
    this.#emit(host, this.#tick(host), text);
  }

  get events(): number {
    return this.#lines.length / 2;
  }

  toString(): string {
    return `${SHIVIZ_REGEX}\n\n${this.#lines.join('\n')}${this.#lines.length > 0 ? '\n' : ''}`;
  }
}
