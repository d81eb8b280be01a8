// Table-driven tests of every lab rule (SPEC §1) and its corner cases, on the pure Lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, LAB_RESOURCES, type LabResourceName } from '../src/lab/index.js';

const enc = new TextEncoder();
const body = (o: unknown): Uint8Array => enc.encode(typeof o === 'string' ? o : JSON.stringify(o));

function allState(lab: Lab): string {
  return LAB_RESOURCES.map((r) => lab.stateJson(r)).join('\n');
}

interface Case {
  name: string;
  rule: string;
  resource: LabResourceName;
  before?: unknown[]; // PUT bodies applied first (must succeed)
  put: unknown;
  code: string;
  payload: string;
  log?: string;
  nodes?: number;
}

const ok: Case[] = [
  { name: 'lamport: first message', rule: 'server_L = max(server_L, lamport) + 1, starts at 0', resource: 'lamport',
    put: { node: 'A', lamport: 1, value: 10 }, code: '2.04', payload: '{"server_lamport": 2}',
    log: '[LAMPORT] From A: value=10, node_L=1, server_L 0 -> 2' },
  { name: 'lamport: smaller lamport still advances', rule: 'server_L = max(server_L, lamport) + 1', resource: 'lamport',
    before: [{ node: 'A', lamport: 10, value: 1 }], put: { node: 'B', lamport: 3, value: 'x' }, code: '2.04', payload: '{"server_lamport": 12}',
    log: '[LAMPORT] From B: value=x, node_L=3, server_L 11 -> 12' },
  { name: 'lamport: counter at 2^53-1 goes past it exactly', rule: 'server_L unbounded (Python ints)', resource: 'lamport',
    put: { node: 'A', lamport: 9007199254740991, value: null }, code: '2.04', payload: '{"server_lamport": 9007199254740992}' },
  { name: 'lamport: 1.0 is an integer counter', rule: 'counters: numbers without a fraction', resource: 'lamport',
    put: '{"node":"A","lamport":1.0,"value":1.0}', code: '2.04', payload: '{"server_lamport": 2}',
    log: '[LAMPORT] From A: value=1.0, node_L=1, server_L 0 -> 2' },
  { name: 'vector: dominating clock accepted', rule: 'accept iff clock[i] >= current[i] for every i', resource: 'vector',
    put: { node: 'A', clock: [1, 0], value: 10 }, code: '2.04', payload: '{"status": "accepted", "server_clock": [1, 0], "server_value": 10}',
    log: '[VECTOR] From A: value None -> 10, clock [0,0] -> [1,0]' },
  { name: 'vector: equal clock accepted', rule: 'clock[i] >= current[i] holds with equality', resource: 'vector',
    before: [{ node: 'A', clock: [1, 0], value: 10 }], put: { node: 'B', clock: [1, 0], value: 11 }, code: '2.04',
    payload: '{"status": "accepted", "server_clock": [1, 0], "server_value": 11}' },
  { name: 'vector: older clock ignored', rule: 'else "older-ignored"', resource: 'vector',
    before: [{ node: 'A', clock: [1, 0], value: 10 }, { node: 'B', clock: [1, 1], value: 20 }], put: { node: 'A (old)', clock: [1, 0], value: 999 },
    code: '2.04', payload: '{"status": "older-ignored", "server_clock": [1, 1], "server_value": 20}',
    log: '[VECTOR] From A (old): IGNORE value=999, clock=[1,0], current_clock=[1,1]' },
  { name: 'vector: concurrent clock ignored', rule: 'some clock[i] < current[i] → "older-ignored"', resource: 'vector',
    before: [{ node: 'A', clock: [2, 0], value: 'a' }], put: { node: 'B', clock: [0, 1], value: 'b' }, code: '2.04',
    payload: '{"status": "older-ignored", "server_clock": [2, 0], "server_value": "a"}' },
  { name: 'vector: --nodes 3', rule: 'clocks have one entry per node', resource: 'vector', nodes: 3,
    put: { node: 'C', clock: [0, 0, 1], value: [1, 'x'] }, code: '2.04',
    payload: '{"status": "accepted", "server_clock": [0, 0, 1], "server_value": [1, "x"]}',
    log: "[VECTOR] From C: value None -> [1, 'x'], clock [0,0,0] -> [0,0,1]" },
  { name: 'eventual: newer timestamp accepted', rule: 'accept iff timestamp >= current (starts -1)', resource: 'eventual',
    put: { node: 'A', value: 'A-1', timestamp: 1 }, code: '2.04',
    payload: '{"model": "eventual", "status": "accepted", "server_value": "A-1", "server_timestamp": 1}',
    log: '[EVENTUAL] From A: value None -> A-1, ts -1 -> 1' },
  { name: 'eventual: timestamp 0 on a fresh server accepted', rule: '0 >= -1', resource: 'eventual',
    put: { node: 'A', value: 'x', timestamp: 0 }, code: '2.04',
    payload: '{"model": "eventual", "status": "accepted", "server_value": "x", "server_timestamp": 0}' },
  { name: 'eventual: equal timestamp accepted', rule: 'timestamp >= current includes equality', resource: 'eventual',
    before: [{ node: 'A', value: 'A-1', timestamp: 1 }], put: { node: 'B', value: 'B-1', timestamp: 1 }, code: '2.04',
    payload: '{"model": "eventual", "status": "accepted", "server_value": "B-1", "server_timestamp": 1}' },
  { name: 'eventual: older timestamp ignored', rule: 'else "ignored-older"', resource: 'eventual',
    before: [{ node: 'A', value: 'A-1', timestamp: 1 }], put: { node: 'B', value: 'B-0', timestamp: 0 }, code: '2.04',
    payload: '{"model": "eventual", "status": "ignored-older", "server_value": "A-1", "server_timestamp": 1}',
    log: '[EVENTUAL] From B: IGNORE value=B-0, ts=0, current_ts=1' },
  { name: 'causal: dominating vc accepted', rule: 'current < vc (all <=, one <): adopt', resource: 'causal',
    put: { node: 'A', value: 'A-1', vc: [1, 0] }, code: '2.04',
    payload: '{"model": "causal", "status": "accepted", "server_value": "A-1", "server_vc": [1, 0]}',
    log: '[CAUSAL] From A: value None -> A-1, vc [0,0] -> [1,0]' },
  { name: 'causal: older vc ignored', rule: 'vc < current: "ignored-older"', resource: 'causal',
    before: [{ node: 'A', value: 'A-1', vc: [1, 0] }, { node: 'B', value: 'B-2', vc: [1, 1] }], put: { node: 'A(OLD)', value: 'A-old', vc: [1, 0] },
    code: '2.04', payload: '{"model": "causal", "status": "ignored-older", "server_value": "B-2", "server_vc": [1, 1]}',
    log: '[CAUSAL] From A(OLD): IGNORE value=A-old, vc=[1,0], current_vc=[1,1]' },
  { name: 'causal: equal vectors are a conflict', rule: 'neither strictly smaller: "conflict", keep current', resource: 'causal',
    before: [{ node: 'A', value: 'A-1', vc: [1, 0] }], put: { node: 'B', value: 'B-1', vc: [1, 0] }, code: '2.04',
    payload: '{"model": "causal", "status": "conflict", "server_value": "A-1", "server_vc": [1, 0]}',
    log: '[CAUSAL] From B: CONCURRENT value=B-1, vc=[1,0], current_vc=[1,0]' },
  { name: 'causal: [0,0] on a fresh server is a conflict', rule: 'equal to the initial [0,0]', resource: 'causal',
    put: { node: 'A', value: 'x', vc: [0, 0] }, code: '2.04',
    payload: '{"model": "causal", "status": "conflict", "server_value": null, "server_vc": [0, 0]}' },
  { name: 'causal: concurrent vectors are a conflict', rule: 'concurrent: "conflict", keep current', resource: 'causal',
    before: [{ node: 'A', value: 'A-1', vc: [1, 0] }], put: { node: 'B', value: 'B-1', vc: [0, 1] }, code: '2.04',
    payload: '{"model": "causal", "status": "conflict", "server_value": "A-1", "server_vc": [1, 0]}' },
  { name: 'sequential: first write', rule: 'server_L = max(server_L, lamport)+1; accept iff lamport >= last_applied (starts -1)', resource: 'sequential',
    put: { node: 'A', value: 'A-1', lamport: 1 }, code: '2.04',
    payload: '{"model": "sequential", "status": "accepted", "server_value": "A-1", "server_lamport": 2, "last_applied_lamport": 1}',
    log: '[SEQUENTIAL] From A: value None -> A-1, L -1 -> 1, server_L 0 -> 2' },
  { name: 'sequential: equal lamport accepted', rule: 'lamport >= last_applied includes equality', resource: 'sequential',
    before: [{ node: 'A', value: 'A-1', lamport: 1 }], put: { node: 'B', value: 'B-1', lamport: 1 }, code: '2.04',
    payload: '{"model": "sequential", "status": "accepted", "server_value": "B-1", "server_lamport": 3, "last_applied_lamport": 1}' },
  { name: 'sequential: out-of-order ignored but the clock still advances', rule: 'always server_L = max(...)+1', resource: 'sequential',
    before: [{ node: 'A', value: 'A-1', lamport: 1 }, { node: 'B', value: 'B-1', lamport: 1 }], put: { node: 'A(OLD)', value: 'A-old', lamport: 0 },
    code: '2.04', payload: '{"model": "sequential", "status": "ignored-out-of-order", "server_value": "B-1", "server_lamport": 4, "last_applied_lamport": 1}',
    log: '[SEQUENTIAL] From A(OLD): IGNORE value=A-old, L=0, last_applied_L=1' },
  { name: 'strong: commit', rule: 'op_id > last_op_id (starts -1): primary and backup take the value', resource: 'strong',
    put: { node: 'A', value: 'X', op_id: 1 }, code: '2.04',
    payload: '{"model": "strong", "status": "committed", "primary_value": "X", "backup_value": "X", "last_op_id": 1}',
    log: '[STRONG] From A: value replicated primary+backup, op_id -1 -> 1, value=X' },
  { name: 'strong: absent op_id counts as 0', rule: 'op_id is 0 when absent', resource: 'strong',
    put: { node: 'A', value: 'X' }, code: '2.04',
    payload: '{"model": "strong", "status": "committed", "primary_value": "X", "backup_value": "X", "last_op_id": 0}' },
  { name: 'strong: second absent op_id is a duplicate', rule: 'op_id <= last_op_id: ignored', resource: 'strong',
    before: [{ node: 'A', value: 'X' }], put: { node: 'B', value: 'Y' }, code: '2.04',
    payload: '{"model": "strong", "status": "ignored-duplicate-or-older", "primary_value": "X", "backup_value": "X", "last_op_id": 0}',
    log: '[STRONG] From B: IGNORE value=Y, op_id=0, last_op_id=0' },
  { name: 'strong: retried op ignored', rule: 'op_id <= last_op_id: "ignored-duplicate-or-older"', resource: 'strong',
    before: [{ node: 'A', value: 'X', op_id: 1 }, { node: 'B', value: 'Y', op_id: 2 }], put: { node: 'A', value: 'X-again', op_id: 1 }, code: '2.04',
    payload: '{"model": "strong", "status": "ignored-duplicate-or-older", "primary_value": "Y", "backup_value": "Y", "last_op_id": 2}' },
  { name: 'value: any JSON, order and float-ness kept, ensure_ascii', rule: 'json.dumps defaults', resource: 'eventual',
    put: '{"node":"n\u00e9","value":{"z":1.0,"1":["\u00e9",null,true]},"timestamp":5}', code: '2.04',
    payload: '{"model": "eventual", "status": "accepted", "server_value": {"z": 1.0, "1": ["\\u00e9", null, true]}, "server_timestamp": 5}',
    log: "[EVENTUAL] From n\u00e9: value None -> {'z': 1.0, '1': ['\u00e9', None, True]}, ts -1 -> 5" },
  { name: 'extra fields are ignored', rule: 'the lab reads only its fields', resource: 'lamport',
    put: { node: 'A', lamport: 0, value: 1, extra: [1, 2] }, code: '2.04', payload: '{"server_lamport": 1}' },
];

const bad: (Omit<Case, 'payload'> & { payload: string | RegExp; method?: string; contentFormat?: number; raw?: Uint8Array })[] = [
  { name: 'Invalid JSON', rule: 'non-JSON → 4.00 "Invalid JSON"', resource: 'lamport', put: '{"node": "A",', code: '4.00', payload: 'Invalid JSON' },
  { name: 'not UTF-8', rule: 'non-JSON → 4.00 "Invalid JSON"', resource: 'lamport', put: '', raw: new Uint8Array([0x7b, 0xff, 0x7d]), code: '4.00', payload: 'Invalid JSON' },
  { name: 'empty body', rule: 'non-JSON → 4.00 "Invalid JSON"', resource: 'strong', put: '', code: '4.00', payload: 'Invalid JSON' },
  { name: 'NaN literal', rule: 'non-JSON → 4.00', resource: 'eventual', put: '{"node":"A","value":NaN,"timestamp":1}', code: '4.00', payload: 'Invalid JSON' },
  { name: 'JSON list body', rule: 'body must be an object', resource: 'vector', put: [1, 0], code: '4.00', payload: 'request body must be a JSON object, got list' },
  { name: 'JSON string body', rule: 'body must be an object', resource: 'causal', put: '"x"', code: '4.00', payload: 'request body must be a JSON object, got str' },
  { name: 'JSON null body', rule: 'body must be an object', resource: 'strong', put: 'null', code: '4.00', payload: 'request body must be a JSON object, got null' },
  { name: 'missing node', rule: 'node: non-empty string', resource: 'lamport', put: { lamport: 1, value: 1 }, code: '4.00', payload: 'field "node" is required' },
  { name: 'empty node', rule: 'node: non-empty string', resource: 'eventual', put: { node: '', value: 1, timestamp: 1 }, code: '4.00', payload: 'field "node" must be a non-empty string' },
  { name: 'numeric node', rule: 'node: non-empty string', resource: 'eventual', put: { node: 7, value: 1, timestamp: 1 }, code: '4.00', payload: 'field "node" must be a non-empty string' },
  { name: 'missing value', rule: 'value must be present', resource: 'sequential', put: { node: 'A', lamport: 1 }, code: '4.00', payload: 'field "value" is required (null is allowed)' },
  { name: 'negative counter', rule: 'counters are non-negative', resource: 'lamport', put: { node: 'A', lamport: -1, value: 1 }, code: '4.00', payload: 'field "lamport" must be a non-negative integer' },
  { name: 'float counter', rule: 'counters have no fraction', resource: 'eventual', put: { node: 'A', value: 1, timestamp: 1.5 }, code: '4.00', payload: 'field "timestamp" must be a non-negative integer' },
  { name: 'string counter', rule: 'counters are numbers', resource: 'sequential', put: { node: 'A', value: 1, lamport: '3' }, code: '4.00', payload: 'field "lamport" must be a non-negative integer' },
  { name: 'boolean counter', rule: 'counters are numbers', resource: 'strong', put: { node: 'A', value: 1, op_id: true }, code: '4.00', payload: 'field "op_id" must be a non-negative integer' },
  { name: 'null op_id', rule: 'op_id may be absent, not null', resource: 'strong', put: { node: 'A', value: 1, op_id: null }, code: '4.00', payload: 'field "op_id" must be a non-negative integer' },
  { name: 'counter above 2^53-1', rule: 'counters at most 2^53-1', resource: 'lamport', put: '{"node":"A","lamport":9007199254740992,"value":1}', code: '4.00', payload: 'field "lamport" must be at most 9007199254740991' },
  { name: 'missing counter', rule: 'counter required', resource: 'eventual', put: { node: 'A', value: 1 }, code: '4.00', payload: 'field "timestamp" is required' },
  { name: 'wrong-length clock', rule: 'clock lists have exactly --nodes entries', resource: 'vector', put: { node: 'A', clock: [1, 0, 0], value: 1 }, code: '4.00', payload: 'field "clock" must have exactly 2 entries (one per node), got 3' },
  { name: 'short vc', rule: 'clock lists have exactly --nodes entries', resource: 'causal', put: { node: 'A', vc: [1], value: 1 }, code: '4.00', payload: 'field "vc" must have exactly 2 entries (one per node), got 1' },
  { name: 'clock not a list', rule: 'clock is a list', resource: 'vector', put: { node: 'A', clock: '1,0', value: 1 }, code: '4.00', payload: 'field "clock" must be a list of 2 non-negative integers (one per node)' },
  { name: 'negative clock entry', rule: 'clock entries are counters', resource: 'causal', put: { node: 'A', vc: [1, -1], value: 1 }, code: '4.00', payload: 'field "vc[1]" must be a non-negative integer' },
  { name: 'several problems, one message per field', rule: '4.00 names every bad field', resource: 'vector', put: { node: '', clock: 'x' }, code: '4.00',
    payload: 'field "node" must be a non-empty string; field "clock" must be a list of 2 non-negative integers (one per node); field "value" is required (null is allowed)' },
  { name: 'body over 8 KiB', rule: 'bodies above 8 KiB → 4.13', resource: 'eventual', put: JSON.stringify({ node: 'A', timestamp: 1, value: 'x'.repeat(8200) }), code: '4.13', payload: /exceeds 8192/ },
  { name: 'declared text/plain', rule: 'declared non-JSON Content-Format → 4.15', resource: 'lamport', contentFormat: 0, put: { node: 'A', lamport: 1, value: 1 }, code: '4.15', payload: /Content-Format 0/ },
  { name: 'declared CBOR', rule: 'declared non-JSON Content-Format → 4.15', resource: 'lamport', contentFormat: 60, put: { node: 'A', lamport: 1, value: 1 }, code: '4.15', payload: /Content-Format 60/ },
  { name: 'POST', rule: 'other methods → 4.05', resource: 'lamport', method: 'POST', put: { node: 'A', lamport: 1, value: 1 }, code: '4.05', payload: /POST not allowed/ },
  { name: 'DELETE', rule: 'other methods → 4.05', resource: 'strong', method: 'DELETE', put: '', code: '4.05', payload: /DELETE not allowed/ },
];

for (const c of ok) {
  test(`${c.name} // ${c.rule}`, () => {
    const lab = new Lab(c.nodes === undefined ? {} : { nodes: c.nodes });
    for (const b of c.before ?? []) assert.equal(lab.handle(c.resource, 'PUT', body(b)).code, '2.04');
    const r = lab.handle(c.resource, 'PUT', body(c.put));
    assert.equal(r.code, c.code);
    assert.equal(r.payload, c.payload);
    assert.equal(r.contentFormat, 50); // SPEC §1: 2.04 with a JSON body, Content-Format 50
    if (c.log !== undefined) assert.equal(r.logLine, c.log);
    // GET returns the state: the PUT response without its status
    const state = JSON.parse(lab.stateJson(c.resource)) as Record<string, unknown>;
    const resp = JSON.parse(r.payload) as Record<string, unknown>;
    delete resp.status;
    assert.deepEqual(state, resp);
  });
}

for (const c of bad) {
  test(`rejects ${c.name} with ${c.code} and changes nothing // ${c.rule}`, () => {
    const lab = new Lab();
    // give every resource some state first
    lab.handle('lamport', 'PUT', body({ node: 'A', lamport: 1, value: 10 }));
    lab.handle('vector', 'PUT', body({ node: 'A', clock: [1, 0], value: 10 }));
    lab.handle('eventual', 'PUT', body({ node: 'A', value: 'A-1', timestamp: 1 }));
    lab.handle('causal', 'PUT', body({ node: 'A', value: 'A-1', vc: [1, 0] }));
    lab.handle('sequential', 'PUT', body({ node: 'A', value: 'A-1', lamport: 1 }));
    lab.handle('strong', 'PUT', body({ node: 'A', value: 'X', op_id: 1 }));
    const before = allState(lab);
    const events: string[] = [];
    lab.subscribe((e) => events.push(e.type));
    const r = lab.handle(c.resource, c.method ?? 'PUT', c.raw ?? body(c.put), c.contentFormat);
    assert.equal(r.code, c.code);
    if (typeof c.payload === 'string') assert.equal(r.payload, c.payload);
    else assert.match(r.payload, c.payload);
    assert.equal(r.changed, false);
    assert.equal(r.decision, undefined);
    assert.deepEqual(events, ['rejected']);
    assert.equal(allState(lab), before); // bad input never changes state
  });
}

test('GET returns each resource\'s initial state (2.05, JSON)', () => {
  const lab = new Lab();
  const want: Record<LabResourceName, string> = {
    lamport: '{"server_lamport": 0}',
    vector: '{"server_clock": [0, 0], "server_value": null}',
    eventual: '{"model": "eventual", "server_value": null, "server_timestamp": -1}',
    causal: '{"model": "causal", "server_value": null, "server_vc": [0, 0]}',
    sequential: '{"model": "sequential", "server_value": null, "server_lamport": 0, "last_applied_lamport": -1}',
    strong: '{"model": "strong", "primary_value": null, "backup_value": null, "last_op_id": -1}',
  };
  for (const r of LAB_RESOURCES) {
    const g = lab.handle(r, 'GET', new Uint8Array());
    assert.equal(g.code, '2.05');
    assert.equal(g.payload, want[r]);
    assert.equal(g.changed, false);
  }
});

test('changed flags: which decisions change observable state', () => {
  const lab = new Lab();
  const put = (r: LabResourceName, o: unknown) => lab.handle(r, 'PUT', body(o)).changed;
  assert.equal(put('eventual', { node: 'A', value: 1, timestamp: 2 }), true);
  assert.equal(put('eventual', { node: 'A', value: 1, timestamp: 1 }), false); // ignored-older
  assert.equal(put('causal', { node: 'A', value: 1, vc: [0, 0] }), false); // conflict keeps current
  assert.equal(put('sequential', { node: 'A', value: 1, lamport: 5 }), true);
  assert.equal(put('sequential', { node: 'A', value: 1, lamport: 0 }), true); // ignored, but server_L advanced
  assert.equal(put('strong', { node: 'A', value: 1, op_id: -0 }), true);
  assert.equal(put('strong', { node: 'A', value: 1, op_id: 0 }), false);
});

test('--nodes must be a positive integer', () => {
  assert.throws(() => new Lab({ nodes: 0 }), RangeError);
  assert.throws(() => new Lab({ nodes: 1.5 }), RangeError);
});
