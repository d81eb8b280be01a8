/**
 * `causeway coap get|put|delete|observe URI`: a small general CoAP client on our engine.
 * Exit status: 0 for a 2.xx response, 1 for any other code or a transport error, 2 for bad usage
 * (a bad URI or option).
 */
import { isCausewayError } from '../core/errors.js';
import { Command, InvalidArgumentError } from 'commander';
import { CoapClient, CoapTimeoutError, Opt, type CoapMethod, type CoapResponse } from '../transport/coap/index.js';
import { parseIntOption } from './lab.js';

const FORMATS: Record<number, string> = {
  0: 'text/plain',
  40: 'application/link-format',
  41: 'application/xml',
  42: 'application/octet-stream',
  50: 'application/json',
  60: 'application/cbor',
};

const CODE_NAMES: Record<string, string> = {
  '2.01': 'Created', '2.02': 'Deleted', '2.03': 'Valid', '2.04': 'Changed', '2.05': 'Content', '2.31': 'Continue',
  '4.00': 'Bad Request', '4.01': 'Unauthorized', '4.02': 'Bad Option', '4.03': 'Forbidden', '4.04': 'Not Found',
  '4.05': 'Method Not Allowed', '4.06': 'Not Acceptable', '4.08': 'Request Entity Incomplete', '4.12': 'Precondition Failed',
  '4.13': 'Request Entity Too Large', '4.15': 'Unsupported Content-Format', '5.00': 'Internal Server Error',
  '5.01': 'Not Implemented', '5.02': 'Bad Gateway', '5.03': 'Service Unavailable', '5.04': 'Gateway Timeout',
};

/** The lines printed for one response: code, options of interest, then the payload. */
export function formatResponse(res: CoapResponse): string[] {
  const lines = [`${res.code} ${CODE_NAMES[res.code] ?? ''}`.trimEnd()];
  if (res.contentFormat !== undefined) lines.push(`Content-Format: ${res.contentFormat}${FORMATS[res.contentFormat] ? ` (${FORMATS[res.contentFormat]})` : ''}`);
  if (res.observe !== undefined) lines.push(`Observe: ${res.observe}`);
  if (res.etag !== undefined) lines.push(`ETag: ${res.etag.toString('hex')}`);
  const uint = (n: number): number | undefined => {
    const o = res.options.find((x) => x.number === n);
    return o === undefined ? undefined : o.value.reduce((a, b) => a * 256 + b, 0);
  };
  const maxAge = uint(Opt.MAX_AGE);
  if (maxAge !== undefined) lines.push(`Max-Age: ${maxAge}`);
  const size1 = uint(Opt.SIZE1);
  if (size1 !== undefined) lines.push(`Size1: ${size1}`);
  if (res.payload.length > 0) lines.push(res.payload.toString('utf8'));
  return lines;
}

interface CommonOpts {
  payload?: string;
  contentFormat?: number;
  non?: boolean;
  timeout: number;
  count?: number;
}

function fail(e: unknown, uri: string): void {
  if (isCausewayError(e) && e.code === 'bad-request') {
    // bad usage (a URI that is not coap://, a bad port or percent-encoding): exit 2, as elsewhere
    console.error(`causeway coap: ${e.detail}`);
    process.exitCode = 2;
    return;
  }
  if (e instanceof CoapTimeoutError) console.error(`causeway: no response from ${uri}: ${e.detail}`);
  else console.error(`causeway: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}

async function once(method: CoapMethod, uri: string, o: CommonOpts): Promise<void> {
  const client = new CoapClient();
  try {
    const init: Parameters<CoapClient['request']>[0] = { method, uri, confirmable: !o.non, timeoutMs: o.timeout };
    if (o.payload !== undefined) init.payload = o.payload;
    if (o.contentFormat !== undefined) init.contentFormat = o.contentFormat;
    const res = await client.request(init);
    for (const l of formatResponse(res)) console.log(l);
    if (!res.code.startsWith('2.')) process.exitCode = 1;
  } catch (e) {
    fail(e, uri);
  } finally {
    await client.close();
  }
}

async function observe(uri: string, o: CommonOpts): Promise<void> {
  const client = new CoapClient();
  let seen = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => (finish = r));
  const show = (res: CoapResponse): void => {
    seen++;
    if (seen > 1) console.log('');
    for (const l of formatResponse(res)) console.log(l);
    if (o.count !== undefined && seen >= o.count) finish();
  };
  try {
    const obs = await client.observe(uri, show);
    show(obs.first);
    if (obs.first.observe === undefined) {
      console.error('causeway: the server did not register the observation (no Observe option in its response)');
      if (!obs.first.code.startsWith('2.')) process.exitCode = 1;
      finish();
    }
    const onSignal = (): void => finish();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    await done;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await obs.cancel();
  } catch (e) {
    fail(e, uri);
  } finally {
    await client.close();
  }
}

export function registerCoap(program: Command): void {
  const coap = program.command('coap').description('a small CoAP client: prints the response code, options of interest and payload (exit 1 unless 2.xx)');
  const common = (c: Command): Command =>
    c
      .option('--payload <text>', 'request body (UTF-8)')
      .option('--content-format <n>', 'Content-Format option (e.g. 50 for application/json)', parseIntOption(0, 65535))
      .option('--non', 'send a non-confirmable request')
      .option('--timeout <ms>', 'give up after this long', parseIntOption(1, 600_000), 10_000);
  for (const method of ['GET', 'PUT', 'POST', 'DELETE'] as const) {
    common(coap.command(`${method.toLowerCase()} <uri>`).description(`${method} a coap:// URI`)).action(async (uri: string, o: CommonOpts) => {
      await once(method, uri, o);
    });
  }
  common(coap.command('observe <uri>').description('GET with Observe; prints each notification until Ctrl-C or --count'))
    .option('--count <n>', 'stop after n responses (the first included)', (v: string) => {
      if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('expected a positive integer');
      return Number(v);
    })
    .action(async (uri: string, o: CommonOpts) => {
      await observe(uri, o);
    });
}
