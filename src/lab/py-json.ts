/**
 * Python-compatible JSON for the Lab. The lab's server answers with `json.dumps(...)` and logs
 * with f-strings, so to be byte-for-byte compatible we need Python's view of JSON values:
 *
 * - ints and floats are different types (`1` vs `1.0`), ints are unbounded;
 * - objects keep insertion order for every key (JS objects move integer-like keys first);
 * - `json.dumps` defaults: separators `", "` and `": "`, `ensure_ascii=True`;
 * - `str()` / `repr()` for console lines (`None`, `True`, `{'a': 1}`).
 *
 * So a request body is parsed here, not with `JSON.parse`, into a {@link PyValue}: `bigint` for a
 * JSON int, `number` for a JSON float, `Map` for an object. Pure: no I/O.
 *
 * Known divergences from CPython, all on inputs the lab's client never sends: the literals
 * `NaN`/`Infinity`/`-Infinity` (which `json.loads` accepts) are rejected as not JSON; nesting
 * deeper than {@link MAX_DEPTH} is rejected (CPython's limit depends on its recursion limit);
 * "printable" in `repr()` uses this engine's Unicode tables, which may differ in version.
 */
export type PyValue = null | boolean | string | bigint | number | PyValue[] | PyDict;
export type PyDict = Map<string, PyValue>;

export const MAX_DEPTH = 512;
/** CPython 3.11+ refuses to convert int literals longer than this (sys.int_info.default_max_str_digits). */
export const MAX_INT_DIGITS = 4300;

export type ParseResult = { ok: true; value: PyValue } | { ok: false; reason: string };

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

class ParseFailure {
  constructor(readonly reason: string) {}
}

/** Parses JSON text the way CPython's `json.loads` does (see the module note for divergences). */
export function parsePyJson(text: string): ParseResult {
  const p = new Parser(text);
  try {
    p.skipWs();
    const v = p.value(0);
    p.skipWs();
    if (p.pos !== text.length) return { ok: false, reason: `extra data at offset ${p.pos}` };
    return { ok: true, value: v };
  } catch (e) {
    if (e instanceof ParseFailure) return { ok: false, reason: e.reason };
    throw e;
  }
}

class Parser {
  pos = 0;
  readonly #s: string;
  constructor(s: string) {
    this.#s = s;
  }

  skipWs(): void {
    while (this.pos < this.#s.length && WS.has(this.#s.charCodeAt(this.pos))) this.pos++;
  }

  #fail(what: string): never {
    throw new ParseFailure(`${what} at offset ${this.pos}`);
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.#fail('nesting too deep');
    const s = this.#s;
    const c = s[this.pos];
    switch (c) {
      case '{':
        return this.#object(depth + 1);
      case '[':
        return this.#array(depth + 1);
      case '"':
        return this.#string();
      case 'n':
        return this.#literal('null', null);
      case 't':
        return this.#literal('true', true);
      case 'f':
        return this.#literal('false', false);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#number();
        return this.#fail('expecting value');
    }
  }

  #literal<T extends PyValue>(word: string, v: T): T {
    if (!this.#s.startsWith(word, this.pos)) this.#fail('expecting value');
    this.pos += word.length;
    return v;
  }

  #number(): bigint | number {
    const re = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    re.lastIndex = this.pos;
    const m = re.exec(this.#s);
    if (!m) return this.#fail('expecting value');
    this.pos += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) return Number(m[0]);
    const digits = m[0].startsWith('-') ? m[0].length - 1 : m[0].length;
    if (digits > MAX_INT_DIGITS) this.#fail('integer literal too long');
    return BigInt(m[0]);
  }

  #string(): string {
    const s = this.#s;
    this.pos++; // opening quote
    let out = '';
    let start = this.pos;
    for (;;) {
      if (this.pos >= s.length) this.#fail('unterminated string');
      const code = s.charCodeAt(this.pos);
      if (code === 0x22) {
        out += s.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (code < 0x20) this.#fail('invalid control character');
      if (code !== 0x5c) {
        this.pos++;
        continue;
      }
      out += s.slice(start, this.pos);
      const e = s[this.pos + 1];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hex = s.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.#fail('invalid \\uXXXX escape');
          // UTF-16 code units: a surrogate pair of escapes becomes one astral character, a lone
          // surrogate stays lone — the same string CPython builds.
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.#fail('invalid escape');
      }
      this.pos += 2;
      start = this.pos;
    }
  }

  #array(depth: number): PyValue[] {
    this.pos++;
    const out: PyValue[] = [];
    this.skipWs();
    if (this.#s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.skipWs();
      const c = this.#s[this.pos];
      if (c === ']') {
        this.pos++;
        return out;
      }
      if (c !== ',') this.#fail("expecting ',' delimiter");
      this.pos++;
      this.skipWs();
    }
  }

  #object(depth: number): PyDict {
    this.pos++;
    const out: PyDict = new Map();
    this.skipWs();
    if (this.#s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.#s[this.pos] !== '"') this.#fail('expecting property name enclosed in double quotes');
      const key = this.#string();
      this.skipWs();
      if (this.#s[this.pos] !== ':') this.#fail("expecting ':' delimiter");
      this.pos++;
      this.skipWs();
      // Python dict semantics: a repeated key keeps its first position and takes the last value.
      out.set(key, this.value(depth));
      this.skipWs();
      const c = this.#s[this.pos];
      if (c === '}') {
        this.pos++;
        return out;
      }
      if (c !== ',') this.#fail("expecting ',' delimiter");
      this.pos++;
      this.skipWs();
    }
  }
}

/** CPython's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant = '', expStr = '0'] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp = Number(expStr);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intLen = exp + 1;
    if (digits.length <= intLen) return `${sign}${digits}${'0'.repeat(intLen - digits.length)}.0`;
    return `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
}

function jsonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return pyFloatRepr(x);
}

/** JSON string literal as `json.dumps` writes it with `ensure_ascii=True`. */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

/** `json.dumps(v)` with CPython's defaults. */
export function pyJsonDumps(v: PyValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return pyJsonString(v);
    case 'bigint':
      return v.toString();
    case 'number':
      return jsonFloat(v);
    default:
      break;
  }
  if (Array.isArray(v)) return `[${v.map(pyJsonDumps).join(', ')}]`;
  const parts: string[] = [];
  for (const [k, x] of v) parts.push(`${pyJsonString(k)}: ${pyJsonDumps(x)}`);
  return `{${parts.join(', ')}}`;
}

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** CPython's `repr(str)`. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x7f || ch === ' ' || !NON_PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out + quote;
}

/** CPython's `repr(v)` for a JSON-derived value. */
export function pyRepr(v: PyValue): string {
  if (typeof v === 'string') return pyStrRepr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v instanceof Map) {
    const parts: string[] = [];
    for (const [k, x] of v) parts.push(`${pyStrRepr(k)}: ${pyRepr(x)}`);
    return `{${parts.join(', ')}}`;
  }
  return pyStr(v);
}

/** CPython's `str(v)` (what an f-string `{v}` prints). */
export function pyStr(v: PyValue): string {
  if (v === null) return 'None';
  switch (typeof v) {
    case 'boolean':
      return v ? 'True' : 'False';
    case 'string':
      return v;
    case 'bigint':
      return v.toString();
    case 'number':
      return pyFloatRepr(v);
    default:
      return pyRepr(v);
  }
}

/** Builds a PyDict from entries, for responses whose key order must match the Python dicts. */
export function pyDict(entries: readonly (readonly [string, PyValue])[]): PyDict {
  return new Map(entries);
}
