/**
 * A multi-host network lab on one machine for tests: N Linux network namespaces ("hosts"), each
 * with an `eth0` holding SUBNET.i/24, plugged through veth pairs into a bridge that lives in a
 * namespace of its own (so the root namespace's firewall and br_netfilter never see lab frames).
 *
 * Safety: the lab subnet is routed to `unreachable` in the root namespace, so nothing addressed to
 * it can leave the machine. The root namespace (where the test runs) reaches the hosts through one
 * more veth into the bridge, with SUBNET.254/32 on its end and a /32 route per host: more specific
 * than the unreachable /24, and local to the machine.
 *
 * Faults are iptables rules in the hosts' own namespaces (deleted with them), always on the
 * RECEIVING side's INPUT chain, so a sender sees a real network's silence, never an EPERM:
 * partitions in chain CW_PART, random loss (`-m statistic --mode random`) in chain CW_LOSS.
 *
 * Names carry the owning process id (prefix `cwl<pid base36>-`), so leftovers of a run that died are
 * recognised and removed by the next one ({@link NetnsLab.sweepLeftovers}); each run also records
 * its subnet in a state file so the unreachable route is removed too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FAMILY = 'cwl';
const STATE_DIR = join(tmpdir(), 'causeway-netns');
const PART = 'CW_PART';
const LOSS = 'CW_LOSS';

export type LabAvailability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

function which(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, cmd))) return true;
  }
  return false;
}

/** Root, `ip` (iproute2) and `iptables` present, and a namespace can be made. */
export function netnsAvailability(): LabAvailability {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { ok: false, reason: 'network namespaces need root' };
  for (const [cmd, pkg] of [['ip', 'iproute2'], ['iptables', 'iptables']] as const) {
    if (!which(cmd)) return { ok: false, reason: `'${cmd}' is missing (apt-get install -y ${pkg})` };
  }
  return { ok: true };
}

function run(args: readonly string[], allowFail = false): string {
  try {
    return execFileSync(args[0] as string, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    if (allowFail) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs the processes inside a namespace of ours (nodes a dead run left behind). */
function killInside(ns: string): void {
  for (const pid of run(['ip', 'netns', 'pids', ns], true).split('\n').map(Number).filter((p) => p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

interface LabState {
  readonly pid: number;
  readonly prefix: string;
  readonly subnet: string;
  readonly n: number;
}

export interface NetnsLabOptions {
  /** Hosts. */
  readonly n: number;
  /** Name prefix; ≤ 9 characters so interface names stay within 15. */
  readonly prefix: string;
  /** First three octets, e.g. "10.77.42". */
  readonly subnet: string;
}

export class NetnsLab {
  readonly n: number;
  readonly prefix: string;
  readonly subnet: string;
  #up = false;

  constructor(options: NetnsLabOptions) {
    if (!/^[a-z][a-z0-9-]{0,8}$/.test(options.prefix)) throw new Error(`bad lab prefix "${options.prefix}"`);
    if (!/^10\.\d{1,3}\.\d{1,3}$/.test(options.subnet)) throw new Error(`bad lab subnet "${options.subnet}" (want 10.x.y)`);
    this.n = options.n;
    this.prefix = options.prefix;
    this.subnet = options.subnet;
  }

  /** A lab named after this process, in 10.77.(20 + pid mod 200).0/24. */
  static forThisProcess(n: number): NetnsLab {
    return new NetnsLab({ n, prefix: `${FAMILY}${process.pid.toString(36)}-`, subnet: `10.77.${20 + (process.pid % 200)}` });
  }

  /** Removes what runs that no longer exist left behind (namespaces, links, routes of the `cwl` family). */
  static sweepLeftovers(): string[] {
    const removed: string[] = [];
    const deadPrefix = (name: string): string | null => {
      const m = new RegExp(`^(${FAMILY}([0-9a-z]+)-)`).exec(name);
      if (!m) return null;
      const pid = parseInt(m[2] as string, 36);
      return pid !== process.pid && !alive(pid) ? (m[1] as string) : null;
    };
    if (existsSync(STATE_DIR)) {
      for (const f of readdirSync(STATE_DIR)) {
        try {
          const s = JSON.parse(readFileSync(join(STATE_DIR, f), 'utf8')) as LabState;
          if (s.pid !== process.pid && !alive(s.pid)) {
            new NetnsLab({ n: s.n, prefix: s.prefix, subnet: s.subnet }).teardown();
            removed.push(s.prefix);
          }
        } catch {
          // unreadable state file: ignore
        }
      }
    }
    for (const line of run(['ip', 'netns', 'list'], true).split('\n')) {
      const name = line.split(' ')[0] ?? '';
      if (deadPrefix(name)) {
        killInside(name);
        run(['ip', 'netns', 'del', name], true);
        removed.push(name);
      }
    }
    for (const line of run(['ip', '-o', 'link', 'show'], true).split('\n')) {
      const name = (line.split(': ')[1] ?? '').split('@')[0] ?? '';
      if (deadPrefix(name)) {
        run(['ip', 'link', 'del', name], true);
        removed.push(name);
      }
    }
    return removed;
  }

  ns(i: number): string {
    return `${this.prefix}n${i}`;
  }
  get switchNs(): string {
    return `${this.prefix}sw`;
  }
  /** Host i's address. */
  addr(i: number): string {
    return `${this.subnet}.${i}`;
  }
  /** The root namespace's address on the lab. */
  get rootAddr(): string {
    return `${this.subnet}.254`;
  }
  /** Command prefix that runs a program inside host i. */
  exec(i: number): string[] {
    return ['ip', 'netns', 'exec', this.ns(i)];
  }
  #in(i: number, args: readonly string[], allowFail = false): string {
    return run([...this.exec(i), ...args], allowFail);
  }
  get #stateFile(): string {
    return join(STATE_DIR, `${this.prefix}.json`);
  }

  setup(): void {
    if (run(['ip', 'route', 'show', `${this.subnet}.0/24`], true).trim() !== '') {
      throw new Error(`lab subnet ${this.subnet}.0/24 already has a route in the root namespace: is another lab running?`);
    }
    mkdirSync(STATE_DIR, { recursive: true });
    writeFileSync(this.#stateFile, JSON.stringify({ pid: process.pid, prefix: this.prefix, subnet: this.subnet, n: this.n } satisfies LabState));
    this.#up = true;
    // Safety net first: the lab subnet never leaves the machine.
    run(['ip', 'route', 'replace', 'unreachable', `${this.subnet}.0/24`]);
    const sw = this.switchNs;
    const br = `${this.prefix}br`;
    run(['ip', 'netns', 'add', sw]);
    run(['ip', '-n', sw, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', sw, 'link', 'add', br, 'type', 'bridge']);
    run(['ip', '-n', sw, 'link', 'set', br, 'up']);
    for (let i = 1; i <= this.n; i++) {
      const ns = this.ns(i);
      const v = `${this.prefix}v${i}`;
      run(['ip', 'netns', 'add', ns]);
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      run(['ip', 'link', 'add', v, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      run(['ip', 'link', 'set', v, 'netns', sw]);
      run(['ip', '-n', sw, 'link', 'set', v, 'master', br]);
      run(['ip', '-n', sw, 'link', 'set', v, 'up']);
      run(['ip', '-n', ns, 'addr', 'add', `${this.addr(i)}/24`, 'dev', 'eth0']);
      run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      for (const chain of [PART, LOSS]) {
        this.#in(i, ['iptables', '-N', chain]);
        this.#in(i, ['iptables', '-I', 'INPUT', '-j', chain]);
      }
    }
    // The root namespace's way in: one veth into the bridge, a /32 address, a /32 route per host.
    const h = `${this.prefix}h`;
    run(['ip', 'link', 'add', h, 'type', 'veth', 'peer', 'name', `${this.prefix}hb`, 'netns', sw]);
    run(['ip', '-n', sw, 'link', 'set', `${this.prefix}hb`, 'master', br]);
    run(['ip', '-n', sw, 'link', 'set', `${this.prefix}hb`, 'up']);
    run(['ip', 'addr', 'add', `${this.rootAddr}/32`, 'dev', h]);
    run(['ip', 'link', 'set', h, 'up']);
    for (let i = 1; i <= this.n; i++) run(['ip', 'route', 'add', `${this.addr(i)}/32`, 'dev', h, 'src', this.rootAddr]);
  }

  /** Removes everything this lab made; idempotent, never throws. */
  teardown(): void {
    for (let i = 1; i <= this.n; i++) {
      const ns = this.ns(i);
      killInside(ns); // our own nodes, still inside, would keep the namespace alive
      run(['ip', 'netns', 'del', ns], true);
    }
    run(['ip', 'netns', 'del', this.switchNs], true);
    run(['ip', 'link', 'del', `${this.prefix}h`], true);
    for (let i = 1; i <= this.n; i++) run(['ip', 'link', 'del', `${this.prefix}v${i}`], true);
    run(['ip', 'route', 'del', 'unreachable', `${this.subnet}.0/24`], true);
    rmSync(this.#stateFile, { force: true });
    this.#up = false;
  }

  /** What of this lab still exists (empty after teardown). */
  leftovers(): string[] {
    const out: string[] = [];
    for (const line of run(['ip', 'netns', 'list'], true).split('\n')) if (line.startsWith(this.prefix)) out.push(`netns ${line}`);
    for (const line of run(['ip', '-o', 'link', 'show'], true).split('\n')) {
      const name = (line.split(': ')[1] ?? '').split('@')[0] ?? '';
      if (name.startsWith(this.prefix)) out.push(`link ${name}`);
    }
    const route = run(['ip', 'route', 'show', `${this.subnet}.0/24`], true).trim();
    if (route) out.push(`route ${route}`);
    if (existsSync(this.#stateFile)) out.push(`state ${this.#stateFile}`);
    return out;
  }

  /** `ip route get ADDR` in the root namespace: its first line, or "unreachable: ..." when the kernel refuses. */
  routeGet(addr: string): string {
    try {
      return (run(['ip', 'route', 'get', addr]).split('\n')[0] ?? '').trim();
    } catch (e) {
      const msg = (e as Error).message;
      return /No route to host|unreachable/i.test(msg) ? `unreachable: ${msg}` : `error: ${msg}`;
    }
  }

  get isUp(): boolean {
    return this.#up;
  }

  /** Drop everything host `from` sends to host `to` (at `to`'s INPUT). */
  partitionOneway(from: number, to: number): void {
    this.#in(to, ['iptables', '-A', PART, '-s', this.addr(from), '-j', 'DROP']);
  }
  partition(a: number, b: number): void {
    this.partitionOneway(a, b);
    this.partitionOneway(b, a);
  }
  /** Partition host i from every other host (the root namespace still reaches it). */
  isolate(i: number): void {
    for (let j = 1; j <= this.n; j++) if (j !== i) this.partition(i, j);
  }
  heal(): void {
    for (let i = 1; i <= this.n; i++) this.#in(i, ['iptables', '-F', PART], true);
  }
  /** Every other host drops packets from host i with probability p. */
  loss(i: number, p: number): void {
    if (!(p >= 0 && p <= 1)) throw new Error(`loss probability must be within [0, 1], got ${p}`);
    for (let j = 1; j <= this.n; j++) {
      if (j !== i) this.#in(j, ['iptables', '-A', LOSS, '-s', this.addr(i), '-m', 'statistic', '--mode', 'random', '--probability', String(p), '-j', 'DROP']);
    }
  }
  lossClear(): void {
    for (let i = 1; i <= this.n; i++) this.#in(i, ['iptables', '-F', LOSS], true);
  }
  /** Packets dropped so far by host i's rules in a chain (iptables counters). */
  dropped(i: number, chain: 'partition' | 'loss'): number {
    const out = this.#in(i, ['iptables', '-L', chain === 'partition' ? PART : LOSS, '-v', '-x', '-n'], true);
    let sum = 0;
    for (const line of out.split('\n').slice(2)) {
      const pkts = Number(line.trim().split(/\s+/)[0]);
      if (Number.isFinite(pkts)) sum += pkts;
    }
    return sum;
  }
}
