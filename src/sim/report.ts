/** Human-readable summary of a simulation run (the CLI prints it; libraries never print). */
import type { Verdict } from '../check/index.js';
import { formatFaults } from './options.js';
import type { SimResult } from './simulator.js';

function verdictText(v: Verdict | undefined): string {
  if (v === undefined) return 'not run';
  if (v.valid === true) return 'valid';
  if (v.valid === 'unknown') return `undecided (${v.reason})`;
  return `INVALID — ${v.rule}`;
}

export function formatSummary(r: SimResult): string[] {
  const s = r.summary;
  const o = r.options;
  const m = s.messages;
  const lines = [
    `model ${o.model}, ${o.nodes} nodes, ${o.clients} clients, ${o.keys} keys, faults ${formatFaults(o.faults)}`,
    `ops: ${s.ops.invoked} invoked — ${s.ops.ok} ok, ${s.ops.fail} fail (${s.contextTimeouts} context timeouts), ${s.ops.info} info; ${s.ops.finalReads} final reads`,
    `messages: ${m.sent} sent, ${m.delivered} delivered, ${m.dropped} dropped, ${m.duplicated} duplicated, ${m.reordered} reordered`,
    `faults: ${s.partitions} partitions, ${s.onewayCuts} one-way cuts, ${s.crashes} crashes (${s.crashesAfterPersist} between persist and send), ${s.restarts} restarts`,
    `buffered max: ${s.bufferedMax}`,
    `convergence: ${s.convergenceTicks >= 0 ? `${s.convergenceTicks} tick periods after healing` : 'not reached'}`,
    `virtual time: ${(s.virtualTimeNs / 1e9).toFixed(3)} s`,
    `verdicts: causal ${verdictText(s.verdicts.causal)}; eventual ${s.eventualSetAside ? 'INVALID in real-time terms only — lost-write, which does not apply to concurrent writes kept as siblings (see the note)' : verdictText(s.verdicts.eventual)}`,
  ];
  for (const n of s.notes) lines.push(`note: ${n}`);
  if (r.failure) {
    lines.push(`FAILED (${r.failure.kind}): ${r.failure.message}`);
    lines.push(`replay: ${r.replay}`);
  } else lines.push('ok');
  return lines;
}
