import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { Command } from 'commander';
import { registerCheck, runCheck } from '../src/cli/check.js';

const ROOT = new URL('../../', import.meta.url); // dist-NAME/test/ → repository root
const dir = (rel: string): string => new URL(`testdata/histories/${rel}`, ROOT).pathname;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const codes: number[] = [];
  return { out, err, codes, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), exit: (c: 0 | 1 | 2) => void codes.push(c) } };
}

test('every hand-made history gets the exit code its name promises (SPEC §3: 0 valid, 1 invalid, 2 undecided)', async () => {
  let n = 0;
  for (const model of ['linearizable', 'sequential', 'causal', 'eventual'] as const) {
    for (const name of readdirSync(dir(model))) {
      const c = capture();
      const code = await runCheck(dir(`${model}/${name}`), { model }, c.io);
      const want = name.startsWith('valid') ? 0 : name.startsWith('invalid') ? 1 : 2;
      assert.equal(code, want, `${model}/${name}: ${c.out.join('')}`);
      const text = c.out.join('');
      if (want === 1) assert.match(text, /^INVALID: \w+ — rule [a-z-]+/);
      if (want === 1) assert.match(text, /operations involved:\n {4}P\d+#\d+ /);
      n++;
    }
  }
  assert.ok(n >= 20);
});

test('unreadable input → exit 2 with the file and line number', async () => {
  for (const [name, re] of [
    ['bad-json-line-3.jsonl', /bad-json-line-3\.jsonl:3: not valid JSON/],
    ['completion-without-invoke.jsonl', /:2: "ok" for process 1, which has no outstanding invoke/],
    ['unknown-f.jsonl', /:1: "f" must be one of put, get, delete/],
  ] as const) {
    const c = capture();
    assert.equal(await runCheck(dir(`malformed/${name}`), { model: 'linearizable' }, c.io), 2);
    assert.match(c.err.join(''), re);
  }
  const c = capture();
  assert.equal(await runCheck(dir('no-such-file.jsonl'), { model: 'causal' }, c.io), 2);
  assert.match(c.err.join(''), /cannot read/);
});

test('registerCheck: options parsed by commander, --json verdict, --max-steps budget', async () => {
  const c = capture();
  const program = new Command().exitOverride();
  registerCheck(program, c.io);
  await program.parseAsync(['check', dir('linearizable/invalid-stale-read.jsonl'), '--model', 'linearizable', '--json'], { from: 'user' });
  assert.deepEqual(c.codes, [1]);
  const v = JSON.parse(c.out.join('')) as { valid: boolean; rule: string; key: string; ops: { invokeLine: number }[] };
  assert.deepEqual([v.valid, v.rule, v.key, v.ops[0]?.invokeLine], [false, 'linearizability', 'x', 5]);

  const c2 = capture();
  const p2 = new Command().exitOverride();
  registerCheck(p2, c2.io);
  await p2.parseAsync(['check', dir('linearizable/valid-concurrent.jsonl'), '--model', 'linearizable', '--max-steps', '1'], { from: 'user' });
  assert.deepEqual(c2.codes, [2]);
  assert.match(c2.out.join(''), /^UNKNOWN: linearizable — search budget of 1 steps exhausted/);

  const p3 = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerCheck(p3, capture().io);
  await assert.rejects(p3.parseAsync(['check', 'f', '--model', 'strong'], { from: 'user' }), /Allowed choices are causal, eventual, sequential, linearizable/);
});

test('the process exit code is set by the default io', () => {
  const mod = new URL('src/cli/check.js', new URL('../', import.meta.url)).href;
  const script = `import { Command } from 'commander'; import { registerCheck } from ${JSON.stringify(mod)};
    const p = new Command(); registerCheck(p); await p.parseAsync(process.argv.slice(process.argv.indexOf('check')), { from: 'user' });`;
  const run = (file: string, model: string) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', 'check', dir(file), '--model', model], { encoding: 'utf8', cwd: ROOT.pathname });
  const ok = run('eventual/valid-converged.jsonl', 'eventual');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^valid: eventual/);
  assert.equal(run('causal/invalid-read-your-writes.jsonl', 'causal').status, 1);
  assert.equal(run('malformed/unknown-f.jsonl', 'causal').status, 2);
});
