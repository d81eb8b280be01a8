import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatOp, historyFromEvents, parseHistory, parseHistoryChunks, serializeHistory, type HistoryEvent } from './history.js';
import { propertySeed } from './fixtures.fixture.js';

const line = (o: object): string => JSON.stringify(o);
const inv = { process: 1, type: 'invoke', f: 'put', key: 'x', value: 5, time: 100 };

test('pairs invokes with completions; fail is set aside, info gets dropped, info puts kept with ret ∞', () => {
  const text = [
    line(inv),
    line({ ...inv, type: 'ok', time: 150, node: 'n2' }),
    line({ process: 2, type: 'invoke', f: 'get', key: 'x', value: null, time: 120 }),
    line({ process: 3, type: 'invoke', f: 'put', key: 'y', value: 1, time: 130 }),
    line({ process: 2, type: 'info', f: 'get', key: 'x', time: 160 }),
    line({ process: 3, type: 'fail', f: 'put', key: 'y', time: 170 }),
    '',
    line({ process: 4, type: 'invoke', f: 'delete', key: 'x', time: 180 }),
    line({ process: 4, type: 'info', f: 'delete', key: 'x', time: 190 }),
    line({ process: 5, type: 'invoke', f: 'put', key: 'z', value: { a: 1 }, time: 200 }),
  ].join('\n');
  const r = parseHistory(text);
  assert.ok(r.ok);
  const h = r.history;
  assert.equal(h.ops.length, 3);
  assert.equal(h.failed.length, 1);
  assert.equal(h.unknownReads, 1);
  assert.deepEqual(h.keys, ['x', 'y', 'z']);
  const [put, del, pending] = h.ops;
  assert.deepEqual([put?.status, put?.call, put?.ret, put?.node, put?.value], ['ok', 100, 150, 'n2', 5]);
  assert.deepEqual([del?.f, del?.status, del?.ret], ['delete', 'info', Infinity]);
  // SPEC §3: an invoke never completed may or may not have happened (treated as info)
  assert.deepEqual([pending?.status, pending?.completeLine, pending?.value], ['info', null, { a: 1 }]);
  assert.equal(h.failed[0]?.status, 'fail');
  assert.match(formatOp(put as never), /^P1#0 put\(x, 5\) ok t=100\.\.150 @n2 \(line 1\)$/);
});

test('unknown fields are ignored; integer keys are read as strings', () => {
  const r = parseHistory([line({ ...inv, key: 7, ctx: 'abc', clock: { n1: 1 }, index: 3 }), line({ ...inv, key: 7, type: 'ok', time: 101 })].join('\n'));
  assert.ok(r.ok);
  assert.equal(r.history.ops[0]?.key, '7');
});

const bad: [string, string[], number, RegExp][] = [
  ['not JSON', [line(inv), '{"process":'], 2, /not valid JSON/],
  ['not an object', ['[1,2]'], 1, /JSON object/],
  ['unknown type', [line({ ...inv, type: 'start' })], 1, /"type"/],
  ['unknown f', [line({ ...inv, f: 'cas' })], 1, /"f"/],
  ['fractional time', [line({ ...inv, time: 1.5 })], 1, /"time"/],
  ['missing process', [line({ ...inv, process: undefined })], 1, /"process"/],
  ['put without value', [line({ process: 1, type: 'invoke', f: 'put', key: 'x', time: 1 })], 1, /carry "value"/],
  ['completion without invoke', [line({ ...inv, type: 'ok' })], 1, /no outstanding invoke/],
  ['second invoke while outstanding', [line(inv), line({ ...inv, time: 120 })], 2, /still outstanding/],
  ['completion f mismatch', [line(inv), line({ ...inv, type: 'ok', f: 'get', time: 120 })], 2, /does not match/],
  ['completion before invoke', [line(inv), line({ ...inv, type: 'ok', time: 50 })], 2, /before its invoke/],
  ['get ok without value', [line({ ...inv, f: 'get' }), line({ process: 1, type: 'ok', f: 'get', key: 'x', time: 120 })], 2, /carry the value read/],
];
for (const [name, lines, at, re] of bad) {
  test(`rejects malformed input with its line number: ${name}`, () => {
    const r = parseHistory(lines.join('\n'));
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.line, at);
    assert.match(r.reason, re);
  });
}

test('serializeHistory round-trips through parseHistory', () => {
  const events: HistoryEvent[] = [
    { process: 0, type: 'invoke', f: 'get', key: 'x', value: null, time: 0 },
    { process: 0, type: 'ok', f: 'get', key: 'x', value: null, time: 3 },
  ];
  const a = parseHistory(serializeHistory(events));
  const b = historyFromEvents(events);
  assert.ok(a.ok && b.ok);
  assert.deepEqual(a.history, b.history);
});

async function* chunked(text: string, cuts: readonly number[]): AsyncGenerator<string> {
  let from = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    const at = Math.min(c, text.length);
    if (at > from) yield text.slice(from, at);
    from = Math.max(from, at);
  }
  if (from < text.length) yield text.slice(from);
}

// `causeway check` reads its file as a stream of chunks cut anywhere: it must see exactly what
// parseHistory sees in the whole text, valid or not (the same error on the same line).
test('parseHistoryChunks gives what parseHistory gives, however the text is cut', async () => {
  const lines = [...bad.flatMap(([, l]) => l), line(inv), line({ ...inv, type: 'ok', time: 150 }), '', '   ', line({ process: 2, type: 'invoke', f: 'get', key: 'x', value: null, time: 1 }), line({ process: 2, type: 'ok', f: 'get', key: 'x', value: 5, time: 2 }) + '\r'];
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom(...lines), { maxLength: 12 }),
      fc.boolean(),
      fc.array(fc.nat(2000), { maxLength: 8 }),
      async (picked, trailing, cuts) => {
        const text = picked.join('\n') + (trailing ? '\n' : '');
        assert.deepEqual(await parseHistoryChunks(chunked(text, cuts)), parseHistory(text));
      },
    ),
    { seed: propertySeed(), numRuns: 300 },
  );
});

test('parseHistoryChunks refuses a line longer than its limit, naming it, rather than run out of memory', async () => {
  const text = `${line(inv)}\n${line({ ...inv, type: 'ok', time: 150 })}\n${'x'.repeat(5000)}`;
  const r = await parseHistoryChunks(chunked(text, [100, 1000, 3000]), 4096);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.line, 3);
  assert.match(r.reason, /line longer than 4096 characters/);
  // within the limit, the same line is parsed, and found not JSON
  const shorter = await parseHistoryChunks(chunked(text.slice(0, -1000), [100, 1000, 3000]), 4096);
  assert.deepEqual(shorter, { ok: false, line: 3, reason: 'not valid JSON' });
});
