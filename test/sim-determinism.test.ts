/** One seed rules a simulation (ARCHITECTURE.md §4 rule 2): same seed → same history, byte for byte. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeHistory, parseHistory } from '../src/check/index.js';
import { SHIVIZ_REGEX, parseFaults, runSimulation, type SimOptions } from '../src/sim/index.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const base: Partial<SimOptions> = { nodes: 4, ops: 300, clients: 5, keys: 6, faults: parseFaults('all') };

test('same seed: the same history and ShiViz log, byte for byte; another seed differs', () => {
  const a = runSimulation({ ...base, seed: 42, shiviz: true });
  const b = runSimulation({ ...base, seed: 42, shiviz: true });
  const c = runSimulation({ ...base, seed: 43, shiviz: true });
  assert.ok(a.ok && b.ok && c.ok, a.failure?.message ?? b.failure?.message ?? c.failure?.message);
  const ha = Buffer.from(serializeHistory(a.history));
  assert.ok(ha.length > 1000);
  assert.equal(Buffer.compare(ha, Buffer.from(serializeHistory(b.history))), 0);
  assert.equal(a.shiviz, b.shiviz);
  assert.deepEqual(a.summary, b.summary);
  assert.notEqual(Buffer.compare(ha, Buffer.from(serializeHistory(c.history))), 0);
});

// SPEC §3 history format: invoke/ok/fail/info events with process, f, key, value, time (ns), node.
test('the history is well-formed, ends with final reads of every key on every node', () => {
  const r = runSimulation({ ...base, seed: 5 });
  assert.ok(r.ok, r.failure?.message);
  const parsed = parseHistory(serializeHistory(r.history));
  assert.ok(parsed.ok);
  const tail = r.history.slice(-2 * 4 * 6);
  const finals = tail.filter((e) => e.type === 'ok');
  assert.equal(finals.length, 24);
  assert.deepEqual(new Set(finals.map((e) => `${e.node}/${e.key}`)).size, 24);
  for (const e of r.history) assert.ok(Number.isSafeInteger(e.time) && e.time >= 0);
  const puts = r.history.filter((e) => e.type === 'invoke' && e.f === 'put').map((e) => e.value);
  assert.equal(new Set(puts).size, puts.length, 'written values are unique');
  assert.ok(r.summary.verdicts.causal?.valid === true);
});

// ShiViz: first line the parser regex, second the (empty) delimiter, then "host {clock}" / event
// pairs where each host's own entry starts at 1 and grows by one per event.
test('the ShiViz log follows the format ShiViz parses', () => {
  const r = runSimulation({ ...base, ops: 80, seed: 9, shiviz: true });
  const lines = (r.shiviz ?? '').split('\n');
  assert.equal(lines[0], SHIVIZ_REGEX);
  assert.equal(lines[1], '');
  const own = new Map<string, number>();
  let receives = 0;
  for (let i = 2; i + 1 < lines.length; i += 2) {
    const m = /^(\S*) (\{.*\})$/.exec(lines[i] as string);
    assert.ok(m, `line ${i + 1} is "host {clock}": ${lines[i]}`);
    const [, host, json] = m as unknown as [string, string, string];
    const clock = JSON.parse(json) as Record<string, number>;
    const next = (own.get(host) ?? 0) + 1;
    assert.equal(clock[host], next, `${host}'s own entry grows by one`);
    own.set(host, next);
    if ((lines[i + 1] as string).startsWith('receive')) receives++;
  }
  assert.ok(receives > 0 && own.size >= 4);
});

test('causeway sim: prints the seed first, writes the same history as in-process, exits 0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
  try {
    const file = join(dir, 'h.jsonl');
    const shiviz = join(dir, 's.log');
    const r = spawnSync(process.execPath, [MAIN, 'sim', '--nodes', '4', '--ops', '300', '--seed', '44', '--faults', 'all', '--clients', '5', '--keys', '6', '--history', file, '--shiviz', shiviz], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(r.stdout.split('\n')[0], 'seed 44');
    assert.match(r.stdout, /verdicts: causal valid; eventual valid/);
    assert.equal(readFileSync(file, 'utf8'), serializeHistory(runSimulation({ ...base, seed: 44 }).history));
    assert.equal(readFileSync(shiviz, 'utf8').split('\n')[0], SHIVIZ_REGEX);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('causeway sim: a failing run prints the command that replays it and exits 1', () => {
  // One tick period is too short for the healed phase to converge: a failure by construction.
  const r = spawnSync(process.execPath, [MAIN, 'sim', '--nodes', '3', '--ops', '100', '--seed', '7', '--faults', 'partition,drop', '--max-liveness-ticks', '1'], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const want = 'causeway sim --model causal --nodes 3 --ops 100 --seed 7 --faults drop,partition --clients 8 --keys 10 --max-liveness-ticks 1';
  assert.match(r.stderr, new RegExp(`replay with: ${want.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
  assert.match(r.stdout, /FAILED \(no-convergence\)/);
});

test('causeway sim: bad options exit 2 or are refused by the parser', () => {
  const r = spawnSync(process.execPath, [MAIN, 'sim', '--faults', 'meteor', '--ops', '10'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown fault "meteor"/);
  // "all" and "none" stand alone (anything after "all" was ignored); a list names at least one fault
  for (const [faults, msg] of [
    ['all,bogus', /"all" stands alone/],
    ['none,crash', /"none" stands alone/],
    [',', /no fault named in ","/],
  ] as const) {
    const x = spawnSync(process.execPath, [MAIN, 'sim', '--faults', faults, '--ops', '10'], { encoding: 'utf8' });
    assert.equal(x.status, 2, faults);
    assert.match(x.stderr, msg);
  }
  // --history and --shiviz on one file: the second would overwrite the first
  const same = spawnSync(process.execPath, [MAIN, 'sim', '--ops', '10', '--history', '/tmp/causeway-same.out', '--shiviz', '/tmp/./causeway-same.out'], { encoding: 'utf8' });
  assert.equal(same.status, 2);
  assert.match(same.stderr, /--history and --shiviz name the same file/);
});

test('causeway sim: the help names the default faults as a user writes them; without --faults every fault is on', () => {
  const help = spawnSync(process.execPath, [MAIN, 'sim', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout.replace(/\s+/g, ' '), /--faults <list> all, none, or a comma-separated list of delay, .* skew \(default: all\)/);
  assert.doesNotMatch(help.stdout, /\["delay"/, 'not the parsed list');
  const r = spawnSync(process.execPath, [MAIN, 'sim', '--ops', '20', '--seed', '2', '--no-progress'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /, faults all\n/);
});

test('causeway sim: an output file it cannot write is a clear error before the run, exit 2', () => {
  const r = spawnSync(process.execPath, [MAIN, 'sim', '--ops', '10', '--seed', '1', '--history', '/nonexistent-dir/h.jsonl'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr + r.stdout);
  assert.match(r.stderr, /^causeway sim: cannot write --history \/nonexistent-dir\/h.jsonl: ENOENT/);
  assert.doesNotMatch(r.stdout, /seed 1/, 'refused before the run');
  const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
  try {
    const s = spawnSync(process.execPath, [MAIN, 'sim', '--ops', '10', '--seed', '1', '--shiviz', dir], { encoding: 'utf8' });
    assert.equal(s.status, 2, s.stderr + s.stdout);
    assert.match(s.stderr, /cannot write --shiviz .*: EISDIR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
