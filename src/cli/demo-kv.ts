import type { Command } from 'commander';

interface Step {
  status: number;
  body: Record<string, unknown>;
  context: string | null;
}

async function call(method: string, url: string, body: unknown, context: string | null): Promise<Step> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (context) headers['causeway-context'] = context;
  const init: RequestInit = { method, headers, signal: AbortSignal.timeout(10_000) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(url, init);
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, context: r.headers.get('causeway-context') };
}

const fmt = (c: unknown): string => JSON.stringify(c);

/**
 * The report's scenario against a running cluster: write x=5 to node1, read x from node2 (with
 * the context token, so it is guaranteed to see 5), write x=10 to node3, read from all three.
 * Returns the process exit code.
 */
export async function runKvDemo(urls: readonly string[], print: (line: string) => void): Promise<number> {
  if (urls.length < 3) {
    print('demo kv needs three node URLs (--nodes a,b,c)');
    return 2;
  }
  const [u1, u2, u3] = urls as [string, string, string];
  const expect = (cond: boolean, what: string): void => {
    if (!cond) throw new Error(what);
  };
  try {
    print(`1. POST ${u1}/write {"key":"x","value":5}`);
    const w1 = await call('POST', `${u1}/write`, { key: 'x', value: 5 }, null);
    expect(w1.status === 200, `write failed: ${fmt(w1.body)}`);
    print(`   -> ${fmt(w1.body)}`);
    print(`   node1 ticked its own entry: clock ${fmt(w1.body['clock'])}; the write is on node1's disk and on its way to node2 and node3.`);

    print(`2. GET ${u2}/read?key=x   (Causeway-Context: node1's clock after the write)`);
    const r2 = await call('GET', `${u2}/read?key=x`, undefined, w1.context);
    expect(r2.status === 200 && r2.body['value'] === 5, `node2 did not return 5: ${fmt(r2.body)}`);
    print(`   -> ${fmt(r2.body)}`);
    print('   node2 answered only once its clock covered the token, so the read sees x=5 (read-your-writes across nodes).');

    print(`3. POST ${u3}/write {"key":"x","value":10}   (carrying node2's context)`);
    const w3 = await call('POST', `${u3}/write`, { key: 'x', value: 10 }, r2.context);
    expect(w3.status === 200, `write failed: ${fmt(w3.body)}`);
    print(`   -> ${fmt(w3.body)}`);
    print(`   node3 had applied node1's write first, so x=10 causally follows x=5: clock ${fmt(w3.body['clock'])}.`);

    print('4. GET /read?key=x on all three nodes   (Causeway-Context: node3\'s clock after its write)');
    for (const [i, u] of urls.slice(0, 3).entries()) {
      const r = await call('GET', `${u}/read?key=x`, undefined, w3.context);
      expect(r.status === 200 && r.body['value'] === 10, `node${i + 1} did not return 10: ${fmt(r.body)}`);
      print(`   node${i + 1}: ${fmt(r.body)}`);
    }
    print('   All three return x=10 with the same clock: x=10 dominates x=5, so no replica keeps the older value.');
    return 0;
  } catch (err) {
    print(`demo kv failed: ${err instanceof Error ? err.message : String(err)} (is the cluster running? causeway cluster --nodes 3)`);
    return 1;
  }
}

export function registerDemo(program: Command): void {
  const demo = program.command('demo').description('scenario replays against a running cluster');
  demo
    .command('kv')
    .description("the report's scenario: x=5 on node1, read on node2, x=10 on node3, read everywhere")
    .option('--nodes <urls>', 'comma-separated HTTP URLs of three nodes', 'http://127.0.0.1:5001,http://127.0.0.1:5002,http://127.0.0.1:5003')
    .action(async (opts: { nodes: string }) => {
      const urls = opts.nodes.split(',').map((s) => s.trim().replace(/\/$/, '')).filter(Boolean);
      process.exitCode = await runKvDemo(urls, (l) => console.log(l));
    });
}
