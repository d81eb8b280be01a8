/**
 * `causeway lab serve` and `causeway lab demo part1|part2` (SPEC §1).
 */
import { Command, InvalidArgumentError } from 'commander';
import { CoapClient, CoapTimeoutError } from '../transport/coap/index.js';
import { DEMO_PARTS, runDemo, type DemoPart, type DemoSend } from '../lab/index.js';
import { bufferedLines } from './buffered-lines.js';
import { startLabServer } from './lab-server.js';

export function parseIntOption(min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

async function serve(opts: { host: string; port: number; nodes: number }): Promise<void> {
  const out = bufferedLines(process.stdout);
  const running = await startLabServer({ ...opts, log: out.write });
  console.log(`CoAP server listening on ${running.url}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    running.close().then(
      () => {
        out.flush();
        console.log(`stopped (${signal})`);
        process.exit(0);
      },
      (e: unknown) => {
        console.error(`causeway: error while stopping: ${String(e)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** A DemoSend over our CoAP client: confirmable requests without Content-Format, as aiocoap sends. */
export function coapDemoSend(client: CoapClient, target: string, timeoutMs: number): DemoSend {
  const base = target.replace(/\/+$/, '');
  return async (r) => {
    const res = await client.request({ method: r.method, uri: `${base}/${r.resource}`, payload: r.payload ?? '', timeoutMs });
    return { code: res.code, payload: res.payload.toString('utf8') };
  };
}

async function demo(part: DemoPart, opts: { target: string; timeout: number; nodes: number }): Promise<void> {
  // a closed stdout (`| head`) ends the demo quietly
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  const client = new CoapClient();
  try {
    await runDemo(part, {
      target: opts.target,
      nodes: opts.nodes,
      print: (line) => console.log(line),
      send: coapDemoSend(client, opts.target, opts.timeout),
    });
  } catch (e) {
    if (e instanceof CoapTimeoutError) {
      console.error(`causeway: no response from ${opts.target} within ${opts.timeout} ms — is \`causeway lab serve\` running there?`);
    } else {
      console.error(`causeway: ${e instanceof Error ? e.message : String(e)}`);
    }
    process.exitCode = 1;
  } finally {
    await client.close();
  }
}

export function registerLab(program: Command): void {
  const lab = program.command('lab').description("the CoAP lab: Lamport and vector clocks, four consistency models (the lab's six resources)");
  lab
    .command('serve')
    .description('serve /lamport /vector /eventual /causal /sequential /strong over CoAP (GET, PUT, Observe; /.well-known/core)')
    .option('--host <host>', 'address to bind (localhost binds 127.0.0.1 and ::1)', 'localhost')
    .option('--port <port>', 'UDP port (0 picks a free one)', parseIntOption(0, 65535), 5683)
    .option('--nodes <n>', 'clock length for /vector and /causal', parseIntOption(1, 1024), 2)
    .action(async (opts: { host: string; port: number; nodes: number }) => {
      await serve(opts);
    });
  lab
    .command('demo')
    .description("replay the lab client's sequence, explaining each decision")
    .argument('<part>', `which part: ${DEMO_PARTS.join(' or ')}`, (v: string): DemoPart => {
      if (!(DEMO_PARTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected ${DEMO_PARTS.join(' or ')}`);
      return v as DemoPart;
    })
    .option('--target <uri>', 'the lab server', 'coap://localhost:5683')
    .option('--timeout <ms>', 'give up on a request after this long', parseIntOption(1, 600_000), 10_000)
    .option('--nodes <n>', 'clock length assumed if the server does not answer GET', parseIntOption(1, 1024), 2)
    .action(async (part: DemoPart, opts: { target: string; timeout: number; nodes: number }) => {
      await demo(part, opts);
    });
}
