/**
 * coap:// URIs (RFC 7252 §6): parsing into host, port, Uri-Path segments and Uri-Query items, and
 * the reverse. IPv6 literals are written in brackets: coap://[::1]:5683/x.
 */
import { isIP } from 'node:net';
import { CausewayError } from '../../core/errors.js';

export const COAP_DEFAULT_PORT = 5683;

export interface CoapUri {
  host: string; // without brackets
  port: number;
  path: string[];
  query: string[];
  /** 4 or 6 when host is an IP literal, 0 for a name. */
  ipFamily: 0 | 4 | 6;
}

function pctDecode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new CausewayError('bad-request', `bad percent-encoding in ${what}: ${s}`);
  }
}

export function parseCoapUri(uri: string): CoapUri {
  const m = /^coap:\/\/(\[[^\]]*\]|[^/:?#]*)(?::(\d*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(uri);
  if (!m) throw new CausewayError('bad-request', `not a coap:// URI: ${uri}`);
  let host = m[1] ?? '';
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host === '') throw new CausewayError('bad-request', `no host in ${uri}`);
  host = pctDecode(host, 'host');
  const port = m[2] ? Number(m[2]) : COAP_DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CausewayError('bad-request', `bad port in ${uri}`);
  const rawPath = m[3] ?? '';
  // RFC 7252 §6.4 step 8: a path of "" or "/" yields no Uri-Path option.
  const path = rawPath === '' || rawPath === '/' ? [] : rawPath.replace(/^\//, '').split('/').map((s) => pctDecode(s, 'path'));
  const query = m[4] === undefined || m[4] === '' ? [] : m[4].split('&').map((s) => pctDecode(s, 'query'));
  const fam = isIP(host);
  return { host, port, path, query, ipFamily: fam === 4 ? 4 : fam === 6 ? 6 : 0 };
}

const KEEP = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
function pctEncode(s: string, extraKeep = ''): string {
  let out = '';
  for (const ch of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(ch);
    if (ch < 0x80 && (KEEP.test(c) || extraKeep.includes(c)) && c !== '&') out += c;
    else out += '%' + ch.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function formatCoapUri(u: { host: string; port?: number; path?: string[]; query?: string[] }): string {
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  const port = u.port !== undefined && u.port !== COAP_DEFAULT_PORT ? `:${u.port}` : '';
  const path = '/' + (u.path ?? []).map((s) => pctEncode(s)).join('/');
  const q = u.query && u.query.length > 0 ? '?' + u.query.map((s) => pctEncode(s, '/?')).join('&') : '';
  return `coap://${host}${port}${path}${q}`;
}
