// The demo sequences (SPEC §1 `causeway lab demo`) against the pure Lab, compared with the golden
// traces under testdata/lab/ (ARCHITECTURE.md §4 rule 9: golden traces are documentation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Lab, runDemo, explain, initialState, type DemoPart } from '../src/lab/index.js';

const golden = (name: string): string => readFileSync(new URL(`../../testdata/lab/${name}`, import.meta.url), 'utf8');

async function runInProcess(part: DemoPart, lab: Lab): Promise<{ out: string; log: string }> {
  const out: string[] = [];
  const log: string[] = [];
  lab.subscribe((e) => {
    if (e.type !== 'read') log.push(e.logLine);
  });
  await runDemo(part, {
    target: 'coap://localhost',
    print: (l) => out.push(l),
    send: async (r) => {
      const x = lab.handle(r.resource, r.method, new TextEncoder().encode(r.payload ?? ''));
      return { code: x.code, payload: x.payload };
    },
  });
  return { out: `${out.join('\n')}\n`, log: `${log.join('\n')}\n` };
}

for (const part of ['part1', 'part2'] as const) {
  test(`${part}: demo output and server log match the golden traces`, async () => {
    const { out, log } = await runInProcess(part, new Lab());
    assert.equal(out, golden(`${part}.expected.txt`));
    assert.equal(log, golden(`${part}.server-log.txt`));
  });
}

test('the Response lines are the lab server\'s json.dumps output', () => {
  // hand-derived from the seed's server.py: Lamport L=1,2,3 → 2,3,4; vector accepted, accepted, older-ignored
  const p1 = golden('part1.expected.txt').split('\n').filter((l) => l.includes('Response:'));
  assert.deepEqual(p1, [
    '[LAMPORT CLIENT] Response: {"server_lamport": 2}',
    '[LAMPORT CLIENT] Response: {"server_lamport": 3}',
    '[LAMPORT CLIENT] Response: {"server_lamport": 4}',
    '[VECTOR CLIENT] Response: {"status": "accepted", "server_clock": [1, 0], "server_value": 10}',
    '[VECTOR CLIENT] Response: {"status": "accepted", "server_clock": [1, 1], "server_value": 20}',
    '[VECTOR CLIENT] Response: {"status": "older-ignored", "server_clock": [1, 1], "server_value": 20}',
  ]);
  const statuses = golden('part2.expected.txt').split('\n').filter((l) => l.includes('Response:')).map((l) => /"status": "([^"]+)"/.exec(l)?.[1]);
  assert.deepEqual(statuses, [
    'accepted', 'ignored-older', 'accepted', // eventual
    'accepted', 'accepted', 'ignored-older', // causal
    'accepted', 'accepted', 'ignored-out-of-order', // sequential
    'committed', 'committed', 'ignored-duplicate-or-older', // strong
  ]);
});

test('a server that refuses GET (the Python lab) still gets explanations from the initial state', async () => {
  const lab = new Lab();
  const out: string[] = [];
  await runDemo('part1', {
    target: 'coap://localhost',
    print: (l) => out.push(l),
    send: async (r) => {
      if (r.method === 'GET') return { code: '4.05', payload: '' };
      const x = lab.handle(r.resource, r.method, new TextEncoder().encode(r.payload ?? ''));
      return { code: x.code, payload: x.payload };
    },
  });
  assert.equal(`${out.join('\n')}\n`, golden('part1.expected.txt'));
});

test('a second run against the same server explains from the state it read', async () => {
  const lab = new Lab();
  await runInProcess('part2', lab);
  const { out } = await runInProcess('part2', lab);
  // eventual now holds B-2 at timestamp 2: A's timestamp 1 is older
  assert.match(out, /\[EVENTUAL\] Why: ignored: timestamp 1 < current 2, so last-writer-wins keeps "B-2"/);
  // causal holds [1,1]: A's [1,0] is older
  assert.match(out, /\[CAUSAL\] Why: ignored: \[1,0\] is strictly below the server's \[1,1\]/);
});

test('explain: conflicts, rejections', () => {
  const req = new Map<string, import('../src/lab/index.js').PyValue>([['node', 'B'], ['value', 'B'], ['vc', [1n, 0n]]]);
  const prior = new Map<string, import('../src/lab/index.js').PyValue>([['model', 'causal'], ['server_value', 'A'], ['server_vc', [1n, 0n]]]);
  // equal vectors → "conflict"
  assert.equal(explain('causal', req, '2.04', '{"model": "causal", "status": "conflict", "server_value": "A", "server_vc": [1, 0]}', prior),
    'conflict: [1,0] equals the server\'s clock, so neither write is newer and the server keeps "A"');
  prior.set('server_vc', [0n, 1n]);
  assert.match(explain('causal', req, '2.04', '{"status": "conflict"}', prior), /concurrent \(neither dominates\)/);
  assert.equal(explain('causal', req, '4.00', 'field "vc" must be a list', prior), 'rejected: the server answered 4.00 (field "vc" must be a list), so nothing changed');
  assert.equal(initialState('vector', 3).get('server_clock')?.toString(), '0,0,0');
});
