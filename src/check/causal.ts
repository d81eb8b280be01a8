/**
 * Causal consistency for histories in which each put writes a value unique to its key
 * (Ahamad et al. 1995; session guarantees after Terry et al. 1994).
 *
 * Causal order →co = (session order ∪ reads-from)⁺. Session order links each process's operations
 * in order; reads-from links the unique put of a value to every read returning it. Rules:
 *  - causal-cycle: →co is acyclic (a read cannot precede the write it reads);
 *  - every read returns a write not overwritten in its causal past: if w →co w' →co r on the same
 *    key, r must not return w (a null read must be explainable by the initial state or a delete not
 *    overwritten in its causal past). Each such violation is named by the session guarantee it
 *    breaks when one applies — read-your-writes, monotonic-reads, monotonic-writes,
 *    writes-follow-reads — else overwritten-in-causal-past;
 *  - convergence: when the history ends with a final read of a key on every node, they agree.
 * An info write may not have happened: it joins the order only when some read observes it, and then
 * only after its process's earlier operations. Reads of unknown outcome are absent.
 */
import { formatOp, type History, type Operation } from './history.js';
import { unwrittenReads, valueKey, writersByValue } from './common.js';
import { convergenceViolations, finalReads } from './convergence.js';
import { invalid, type Verdict, type Violation } from './verdict.js';

export interface CausalOptions {
  /** At most this many violations are listed. */
  readonly maxViolations: number;
  /**
   * How →co is answered: 'clocks' gives each operation a vector of per-process session positions
   * (memory N × processes); 'matrix' keeps the transitive closure as bits (memory N² / 8);
   * 'auto' picks the smaller. Both give the same verdicts (tested).
   */
  readonly order: 'auto' | 'clocks' | 'matrix';
  /**
   * How each read is tested for a write overwritten in its causal past: 'chains' looks only at the
   * last write of the key on each process's session chain within the read's past (a binary search
   * per chain), and lists every overwriter only for a read that has one; 'scan' tests every write of
   * the key for every read (quadratic in the writes per key, cubic for null reads). Both give the
   * same verdicts (tested).
   */
  readonly reads: 'chains' | 'scan';
  /**
   * The most memory the causal order may take, in bytes: above it the answer is 'unknown' (saying
   * why) rather than an allocation the machine cannot make. Histories of many single-operation
   * processes reach it first: the order then costs N² / 8 bytes for N operations.
   */
  readonly maxOrderBytes: number;
}

export const CAUSAL_DEFAULTS: Readonly<CausalOptions> = Object.freeze({ maxViolations: 50, order: 'auto', reads: 'chains', maxOrderBytes: 4 * 1024 ** 3 });

type EdgeKind = 'so' | 'rf';

const RULE_TEXT: Readonly<Record<string, string>> = {
  'read-your-writes': 'read-your-writes: a read must see the writes of its own session',
  'monotonic-reads': 'monotonic-reads: a session must not read a value older than one it already read',
  'monotonic-writes': "monotonic-writes: a session's writes are seen in order — whoever sees a later write must see the earlier one",
  'writes-follow-reads': 'writes-follow-reads: a write made after reading a value is seen only together with that value',
  'overwritten-in-causal-past': 'every read returns a write not overwritten in its causal past',
};

export function checkCausal(history: History, options: Partial<CausalOptions> = {}): Verdict {
  const opts: CausalOptions = { ...CAUSAL_DEFAULTS, ...options };
  const phantom = unwrittenReads(history);
  if (phantom.length > 0) return invalid('causal', phantom.slice(0, opts.maxViolations));

  const writers = writersByValue(history.ops);
  const writerOf = new Map<number, Operation>(); // read id → the put it reads from
  const observed = new Set<number>();
  for (const r of history.ops) {
    if (r.f !== 'get' || r.value === null) continue;
    const ws = writers.get(valueKey(r)) as Operation[];
    if (ws.length > 1) {
      return {
        valid: 'unknown',
        model: 'causal',
        reason: `the causal checker needs unique written values per key; ${JSON.stringify(r.value)} is written to key "${r.key}" by ${ws.length} puts (${formatOp(ws[0] as Operation)}, ${formatOp(ws[1] as Operation)}) and read by ${formatOp(r)}`,
      };
    }
    const w = ws[0] as Operation;
    writerOf.set(r.id, w);
    observed.add(w.id);
  }

  // Graph nodes: ok operations and observed info writes.
  const nodes = history.ops.filter((op) => op.status === 'ok' || observed.has(op.id));
  const N = nodes.length;
  const idx = new Map<number, number>(nodes.map((op, i) => [op.id, i]));
  const preds: { from: number; kind: EdgeKind }[][] = nodes.map(() => []);
  const lastOk = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const op = nodes[i] as Operation;
    const pk = processKey(op);
    const prev = lastOk.get(pk);
    if (prev !== undefined) (preds[i] as { from: number; kind: EdgeKind }[]).push({ from: prev, kind: 'so' });
    if (op.status === 'ok') lastOk.set(pk, i);
    const w = writerOf.get(op.id);
    if (w) (preds[i] as { from: number; kind: EdgeKind }[]).push({ from: idx.get(w.id) as number, kind: 'rf' });
  }

  // Topological order (Kahn); what remains lies on or behind a cycle.
  const succ: number[][] = nodes.map(() => []);
  const indeg = new Int32Array(N);
  preds.forEach((ps, i) => {
    for (const p of ps) {
      (succ[p.from] as number[]).push(i);
      indeg[i] = (indeg[i] as number) + 1;
    }
  });
  const order: number[] = [];
  for (let i = 0; i < N; i++) if (indeg[i] === 0) order.push(i);
  for (let h = 0; h < order.length; h++) {
    for (const s of succ[order[h] as number] as number[]) {
      indeg[s] = (indeg[s] as number) - 1;
      if (indeg[s] === 0) order.push(s);
    }
  }
  if (order.length < N) return invalid('causal', [explainCycle(nodes, preds, indeg)]);

  const procs = new Set(nodes.map(processKey)).size;
  const clockBytes = N * procs * 4;
  const matrixBytes = N * ((N + 31) >>> 5) * 4;
  const useMatrix = opts.order === 'matrix' || (opts.order === 'auto' && matrixBytes < clockBytes);
  const orderBytes = useMatrix ? matrixBytes : clockBytes;
  if (orderBytes > opts.maxOrderBytes) {
    return {
      valid: 'unknown',
      model: 'causal',
      reason:
        `the causal order of ${N} operations from ${procs} processes would take ${formatBytes(orderBytes)} ` +
        `(more than ${formatBytes(opts.maxOrderBytes)}): check a shorter history, or one whose clients keep their sessions`,
    };
  }
  const before = useMatrix ? matrixOrder(order, preds, N) : clockOrder(nodes, order, preds, writerOf, idx);

  const writesOfKey = new Map<string, number[]>();
  const readsOfKey = new Map<string, number[]>();
  for (let i = 0; i < N; i++) {
    const op = nodes[i] as Operation;
    const m = op.f === 'get' ? readsOfKey : writesOfKey;
    const list = m.get(op.key);
    if (list) list.push(i);
    else m.set(op.key, [i]);
  }
  const infoDeletes = new Set(history.ops.filter((op) => op.f === 'delete' && op.status === 'info').map((op) => op.key));
  const sameProcess = (a: Operation, b: Operation): boolean => a.process === b.process;

  // The full scan, as the rules read: the reference the indexed classification below is tested against.
  const classifyScan = (ri: number, xi: number): { rule: string; evidence: number[] } => {
    const r = nodes[ri] as Operation;
    const x = nodes[xi] as Operation;
    if (sameProcess(x, r)) return { rule: 'read-your-writes', evidence: [] };
    for (const ri2 of readsOfKey.get(r.key) ?? []) {
      const r2 = nodes[ri2] as Operation;
      if (ri2 !== ri && sameProcess(r2, r) && before(ri2, ri) && writerOf.get(r2.id) === x) return { rule: 'monotonic-reads', evidence: [ri2] };
    }
    for (let w2 = 0; w2 < N; w2++) {
      const op2 = nodes[w2] as Operation;
      if (op2.f !== 'get' && w2 !== xi && sameProcess(op2, x) && before(xi, w2) && before(w2, ri)) return { rule: 'monotonic-writes', evidence: [w2] };
    }
    for (const r1 of readsOfKey.get(x.key) ?? []) {
      const rd = nodes[r1] as Operation;
      if (writerOf.get(rd.id) !== x || sameProcess(rd, r)) continue;
      for (let w2 = 0; w2 < N; w2++) {
        const op2 = nodes[w2] as Operation;
        if (op2.f !== 'get' && sameProcess(op2, rd) && before(r1, w2) && before(w2, ri)) return { rule: 'writes-follow-reads', evidence: [r1, w2] };
      }
    }
    return { rule: 'overwritten-in-causal-past', evidence: [] };
  };
  // The same answers from indexes, built at the first violation: each process's writes on its
  // session chain and off it, and the reads of each write.
  let index: ClassifyIndex | null = null;
  const classifyIndexed = (ri: number, xi: number, firstReadOf: ReadonlyMap<number, number>): { rule: string; evidence: number[] } => {
    const r = nodes[ri] as Operation;
    const x = nodes[xi] as Operation;
    if (sameProcess(x, r)) return { rule: 'read-your-writes', evidence: [] };
    const r2 = firstReadOf.get(xi);
    if (r2 !== undefined) return { rule: 'monotonic-reads', evidence: [r2] };
    index ??= classifyIndex(nodes, writerOf, idx);
    const w2 = index.firstWriteAfter(processKey(x), xi, ri, before, xi);
    if (w2 >= 0) return { rule: 'monotonic-writes', evidence: [w2] };
    for (const r1 of index.readersOf.get(xi) ?? []) {
      const rd = nodes[r1] as Operation;
      if (sameProcess(rd, r)) continue;
      const w = index.firstWriteAfter(processKey(rd), r1, ri, before, -1);
      if (w >= 0) return { rule: 'writes-follow-reads', evidence: [r1, w] };
    }
    return { rule: 'overwritten-in-causal-past', evidence: [] };
  };
  /** For read ri: each write it is given as the first earlier read of its session returning it. */
  const firstReadsOf = (ri: number): Map<number, number> => {
    const r = nodes[ri] as Operation;
    const out = new Map<number, number>();
    for (const ri2 of readsOfKey.get(r.key) ?? []) {
      const r2 = nodes[ri2] as Operation;
      if (ri2 === ri || !sameProcess(r2, r) || !before(ri2, ri)) continue;
      const w = writerOf.get(r2.id);
      if (w !== undefined && !out.has(idx.get(w.id) as number)) out.set(idx.get(w.id) as number, ri2);
    }
    return out;
  };
  const RANK = ['read-your-writes', 'monotonic-reads', 'monotonic-writes', 'writes-follow-reads', 'overwritten-in-causal-past'];

  const chains = opts.reads === 'chains' ? keyChains(nodes, writesOfKey) : null;
  const violations: Violation[] = [];
  for (const [key, reads] of readsOfKey) {
    const writes = writesOfKey.get(key) ?? [];
    const kc = chains?.get(key);
    for (const ri of reads) {
      if (violations.length >= opts.maxViolations) break;
      const r = nodes[ri] as Operation;
      const w = writerOf.get(r.id);
      const wi = w === undefined ? -1 : (idx.get(w.id) as number);
      if (w === undefined && infoDeletes.has(key)) continue;
      // The quick test first: most reads have no overwriter, and it says so without a scan.
      if (kc !== undefined && !(wi >= 0 ? overwrittenAfter(kc, wi, ri, before) : nullOverwritten(kc, ri, before))) continue;
      let overwriters: number[];
      if (wi >= 0) {
        overwriters = writes.filter((xi) => xi !== wi && before(xi, ri) && before(wi, xi));
      } else {
        // null: the initial state or some delete, not overwritten by a put in r's causal past
        const putsBefore = writes.filter((xi) => (nodes[xi] as Operation).f === 'put' && before(xi, ri));
        if (putsBefore.length === 0) continue;
        const viable = writes.some((di) => (nodes[di] as Operation).f === 'delete' && !before(ri, di) && !putsBefore.some((xi) => before(di, xi)));
        if (viable) continue;
        overwriters = putsBefore.filter((xi) => !putsBefore.some((yi) => yi !== xi && before(xi, yi)));
      }
      if (overwriters.length === 0) continue;
      let pick: { xi: number; rule: string; evidence: number[] } | null = null;
      const firstReadOf = opts.reads === 'chains' ? firstReadsOf(ri) : null;
      for (const xi of overwriters) {
        const c = firstReadOf === null ? classifyScan(ri, xi) : classifyIndexed(ri, xi, firstReadOf);
        if (pick === null || RANK.indexOf(c.rule) < RANK.indexOf(pick.rule)) pick = { xi, ...c };
      }
      const p = pick as { xi: number; rule: string; evidence: number[] };
      const x = nodes[p.xi] as Operation;
      const readWhat = w ? `the value of ${formatOp(w)}` : 'null (the initial state or a delete)';
      const evidence = p.evidence.map((e) => nodes[e] as Operation);
      const evidenceText = evidence.length === 0 ? '' : `\n  via: ${evidence.map(formatOp).join('\n       ')}`;
      violations.push({
        rule: p.rule,
        explanation:
          `${RULE_TEXT[p.rule] ?? p.rule}.\n  ${formatOp(r)}\n  returned ${readWhat},\n` +
          `  but that is overwritten in its causal past by ${formatOp(x)}${evidenceText}`,
        ops: [r, ...(w ? [w] : []), x, ...evidence],
      });
    }
  }
  if (violations.length > 0) return invalid('causal', violations);

  // Convergence: keys with a final read on every node after quiescence.
  const nodeNames = new Set<string>();
  for (const op of history.ops) if (op.node !== undefined) nodeNames.add(op.node);
  if (nodeNames.size > 0) {
    const finals = finalReads(history, (op) => op.node ?? '');
    const covered = [...finals.byKey.entries()].filter(([, m]) => [...nodeNames].every((n) => m.has(n))).map(([k]) => k);
    const cv = convergenceViolations(finals, covered, (op) => op.node ?? '');
    if (cv.length > 0) return invalid('causal', cv, cv[0]?.ops[0]?.key);
  }
  return { valid: true, model: 'causal' };
}

interface ClassifyIndex {
  readonly readersOf: ReadonlyMap<number, readonly number[]>;
  /**
   * The first write (in history order) of process `pk`, other than `not`, with a →co w and
   * w →co r; -1 if none.
   */
  firstWriteAfter(pk: string, a: number, ri: number, before: (a: number, b: number) => boolean, not: number): number;
}

function classifyIndex(nodes: readonly Operation[], writerOf: ReadonlyMap<number, Operation>, idx: ReadonlyMap<number, number>): ClassifyIndex {
  const onChain = new Map<string, number[]>();
  const offChain = new Map<string, number[]>();
  const readersOf = new Map<number, number[]>();
  for (let i = 0; i < nodes.length; i++) {
    const op = nodes[i] as Operation;
    if (op.f === 'get') {
      const w = writerOf.get(op.id);
      if (w === undefined) continue;
      const wi = idx.get(w.id) as number;
      const list = readersOf.get(wi);
      if (list) list.push(i);
      else readersOf.set(wi, [i]);
      continue;
    }
    const m = op.status === 'ok' ? onChain : offChain;
    const pk = processKey(op);
    const list = m.get(pk);
    if (list) list.push(i);
    else m.set(pk, [i]);
  }
  return {
    readersOf,
    firstWriteAfter(pk, a, ri, before, not) {
      let best = -1;
      // On the session chain, the writes after a form a suffix and those before r a prefix: the
      // first of the suffix is the only candidate.
      const chain = onChain.get(pk) ?? [];
      const c = chain[firstWhere(chain, (x) => before(a, x))];
      if (c !== undefined && c !== not && before(c, ri)) best = c;
      for (const w of offChain.get(pk) ?? []) {
        if (best >= 0 && w > best) break;
        if (w !== not && before(a, w) && before(w, ri)) return w;
      }
      return best;
    },
  };
}

/**
 * One key's writes in the causal graph: the ok ones on each process's session chain, in session
 * order (all, puts only, deletes only), and the observed info puts, which sit on no chain.
 */
interface KeyChains {
  readonly writes: readonly (readonly number[])[];
  readonly puts: readonly (readonly number[])[];
  readonly deletes: readonly (readonly number[])[];
  readonly offChain: readonly number[];
}

function keyChains(nodes: readonly Operation[], writesOfKey: ReadonlyMap<string, readonly number[]>): Map<string, KeyChains> {
  const out = new Map<string, KeyChains>();
  for (const [key, list] of writesOfKey) {
    const byProc = new Map<string, { writes: number[]; puts: number[]; deletes: number[] }>();
    const offChain: number[] = [];
    for (const i of list) {
      const op = nodes[i] as Operation;
      if (op.status !== 'ok') {
        offChain.push(i);
        continue;
      }
      const pk = processKey(op);
      let c = byProc.get(pk);
      if (c === undefined) byProc.set(pk, (c = { writes: [], puts: [], deletes: [] }));
      c.writes.push(i);
      (op.f === 'put' ? c.puts : c.deletes).push(i);
    }
    const cs = [...byProc.values()];
    out.set(key, { writes: cs.map((c) => c.writes), puts: cs.map((c) => c.puts).filter((l) => l.length > 0), deletes: cs.map((c) => c.deletes).filter((l) => l.length > 0), offChain });
  }
  return out;
}

/**
 * The first position of a session chain where `holds` is true, or the chain's length. Along a
 * chain, "in r's future" and "not in r's past" hold on a suffix: whatever follows an entry in
 * session order follows what that entry follows, and precedes nothing it did not.
 */
function firstWhere(chain: readonly number[], holds: (x: number) => boolean): number {
  let lo = 0;
  let hi = chain.length; // holds on [hi, end), not on [0, lo)
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (holds(chain[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The last entry of a session chain in r's causal past, or -1. */
function lastBefore(chain: readonly number[], ri: number, before: (a: number, b: number) => boolean): number {
  return chain[firstWhere(chain, (x) => !before(x, ri)) - 1] ?? -1;
}

/** The last entry of a session chain not in r's causal future, or -1. */
function lastNotAfter(chain: readonly number[], ri: number, before: (a: number, b: number) => boolean): number {
  return chain[firstWhere(chain, (x) => before(ri, x)) - 1] ?? -1;
}

/**
 * Whether some write x of the key has w →co x →co r. If any write of a chain does, the chain's last
 * write in r's past does too (it follows that one in session order), so one candidate per chain.
 */
function overwrittenAfter(kc: KeyChains, wi: number, ri: number, before: (a: number, b: number) => boolean): boolean {
  for (const chain of kc.writes) {
    const x = lastBefore(chain, ri, before);
    if (x >= 0 && x !== wi && before(wi, x)) return true;
  }
  for (const x of kc.offChain) if (x !== wi && before(x, ri) && before(wi, x)) return true;
  return false;
}

/**
 * Whether a read of null is wrong: some put of the key is in r's causal past and no delete d (not in
 * r's future) has none of those puts after it. Per chain, the last put in r's past stands for the
 * chain's puts there (any put after d on the chain puts that one after d), and the last delete not
 * in r's future is the best candidate (an earlier delete precedes whatever a later one does).
 */
function nullOverwritten(kc: KeyChains, ri: number, before: (a: number, b: number) => boolean): boolean {
  const puts: number[] = [];
  for (const chain of kc.puts) {
    const x = lastBefore(chain, ri, before);
    if (x >= 0) puts.push(x);
  }
  for (const x of kc.offChain) if (before(x, ri)) puts.push(x); // observed info writes are puts
  if (puts.length === 0) return false;
  for (const chain of kc.deletes) {
    const d = lastNotAfter(chain, ri, before);
    if (d >= 0 && !puts.some((x) => before(d, x))) return false;
  }
  return true;
}

/** a →co b, as the transitive closure in bits: row b holds every a in b's causal past. */
function matrixOrder(order: readonly number[], preds: readonly { from: number }[][], N: number): (a: number, b: number) => boolean {
  const words = (N + 31) >>> 5;
  const past = new Uint32Array(N * words);
  for (const i of order) {
    const row = i * words;
    for (const p of preds[i] as { from: number }[]) {
      const prow = p.from * words;
      for (let w = 0; w < words; w++) past[row + w] = (past[row + w] as number) | (past[prow + w] as number);
      past[row + (p.from >>> 5)] = (past[row + (p.from >>> 5)] as number) | (1 << (p.from & 31));
    }
  }
  return (a, b) => (((past[b * words + (a >>> 5)] as number) >>> (a & 31)) & 1) === 1;
}

function formatBytes(b: number): string {
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(1)} GiB`;
  if (b >= 1024 ** 2) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${b} bytes`;
}

const processKey = (op: Operation): string => `${typeof op.process}:${String(op.process)}`;

/**
 * a →co b from vector clocks. Every ok operation sits on its process's session chain at position
 * 1, 2, …; clock[b][p] is the furthest position on p's chain in b's causal past, so an ok a is in
 * b's past iff clock[b][proc a] ≥ pos a. An observed info write sits on no chain (later operations
 * of its process do not follow it): it is in b's past iff one of the reads returning it is b or is.
 */
function clockOrder(
  nodes: readonly Operation[],
  order: readonly number[],
  preds: readonly { from: number }[][],
  writerOf: ReadonlyMap<number, Operation>,
  idx: ReadonlyMap<number, number>,
): (a: number, b: number) => boolean {
  const N = nodes.length;
  const procIdx = new Map<string, number>();
  const proc = new Int32Array(N).fill(-1);
  const pos = new Int32Array(N);
  const count: number[] = [];
  for (let i = 0; i < N; i++) {
    const op = nodes[i] as Operation;
    if (op.status !== 'ok') continue;
    const k = processKey(op);
    let p = procIdx.get(k);
    if (p === undefined) procIdx.set(k, (p = count.push(0) - 1));
    proc[i] = p;
    pos[i] = count[p] = (count[p] as number) + 1;
  }
  const P = count.length;
  const clock = new Int32Array(N * P);
  for (const i of order) {
    const row = i * P;
    for (const { from } of preds[i] as { from: number }[]) {
      const prow = from * P;
      for (let q = 0; q < P; q++) if ((clock[prow + q] as number) > (clock[row + q] as number)) clock[row + q] = clock[prow + q] as number;
      const fp = proc[from] as number;
      if (fp >= 0 && (pos[from] as number) > (clock[row + fp] as number)) clock[row + fp] = pos[from] as number;
    }
  }
  const readsOf = new Map<number, number[]>(); // info write node → the reads returning it
  for (let i = 0; i < N; i++) {
    const w = writerOf.get((nodes[i] as Operation).id);
    if (w === undefined || w.status === 'ok') continue;
    const wi = idx.get(w.id) as number;
    const list = readsOf.get(wi);
    if (list) list.push(i);
    else readsOf.set(wi, [i]);
  }
  const before = (a: number, b: number): boolean => {
    if (a === b) return false;
    const pa = proc[a] as number;
    if (pa >= 0) return (clock[b * P + pa] as number) >= (pos[a] as number);
    for (const r of readsOf.get(a) ?? []) if (r === b || before(r, b)) return true;
    return false;
  };
  return before;
}

function explainCycle(nodes: readonly Operation[], preds: readonly { from: number; kind: EdgeKind }[][], indeg: Int32Array): Violation {
  // Walk predecessors that are still on the cycle part until a node repeats.
  let cur = indeg.findIndex((d) => d > 0);
  const seenAt = new Map<number, number>();
  const path: { node: number; kind: EdgeKind }[] = [];
  while (!seenAt.has(cur)) {
    seenAt.set(cur, path.length);
    const p = (preds[cur] as { from: number; kind: EdgeKind }[]).find((e) => (indeg[e.from] as number) > 0) as { from: number; kind: EdgeKind };
    path.push({ node: cur, kind: p.kind });
    cur = p.from;
  }
  const cycle = path.slice(seenAt.get(cur) as number).reverse(); // forward order: each edge kind leads into its node
  const lines = cycle.map((e, i) => `${i === 0 ? '   ' : e.kind === 'so' ? ' →so' : ' →rf'} ${formatOp(nodes[e.node] as Operation)}`);
  const firstKind = cycle[0]?.kind === 'so' ? '→so' : '→rf';
  return {
    rule: 'causal-cycle',
    explanation:
      'the causal order (session order ∪ reads-from) has a cycle, so some read precedes the write it reads:\n' +
      lines.join('\n') +
      ` ${firstKind} back to the first`,
    ops: cycle.map((e) => nodes[e.node] as Operation),
  };
}

