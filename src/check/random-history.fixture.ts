/** Small arbitrary histories (not drawn from any model), for comparison with brute-force oracles. */
import fc from 'fast-check';
import type { HistoryEvent, Json, OpKind } from './history.js';

interface RawOp {
  f: OpKind;
  key: string;
  value: Json;
  info: boolean;
  gap: number;
  dur: number;
}

const rawOp: fc.Arbitrary<RawOp> = fc.record({
  f: fc.constantFrom<OpKind>('put', 'put', 'get', 'get', 'delete'),
  key: fc.constantFrom('x', 'y'),
  value: fc.constantFrom<Json>(null, 1, 2, 3),
  info: fc.constant(false), // set below: one write in ten ends with info
  gap: fc.nat(4),
  dur: fc.nat(6),
});

const weightedOp: fc.Arbitrary<RawOp> = fc.tuple(rawOp, fc.nat(9)).map(([o, n]) => ({ ...o, info: o.f !== 'get' && n === 0 }));

export const arbitraryHistory: fc.Arbitrary<HistoryEvent[]> = fc
  .array(fc.tuple(fc.nat(5), fc.array(weightedOp, { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 3 })
  .map((procs) => {
    const evs: { ev: HistoryEvent; order: number }[] = [];
    let order = 0;
    procs.forEach(([start, ops], p) => {
      let t = start;
      for (const o of ops) {
        const call = t + o.gap;
        const ret = call + o.dur;
        t = ret;
        evs.push({ ev: { process: p, type: 'invoke', f: o.f, key: o.key, value: o.f === 'put' ? o.value : null, time: call }, order: order++ });
        evs.push({ ev: { process: p, type: o.info ? 'info' : 'ok', f: o.f, key: o.key, value: o.f === 'get' ? o.value : null, time: ret }, order: order++ });
      }
    });
    evs.sort((a, b) => a.ev.time - b.ev.time || a.order - b.order);
    return evs.map((e) => e.ev);
  });
