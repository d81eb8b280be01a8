import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePyJson, pyFloatRepr, pyJsonDumps, pyRepr, pyStr, pyStrRepr, type PyValue } from './py-json.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

function parse(text: string): PyValue {
  const r = parsePyJson(text);
  assert.ok(r.ok, `expected ${text} to parse`);
  return r.value;
}

// Expected strings below were produced by CPython 3 (`repr(float)`, `json.dumps`, `repr(str)`).
test('pyFloatRepr matches CPython repr(float)', () => {
  const table: [number, string][] = [
    [1.0, '1.0'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [1e-5, '1e-05'], [0.0001, '0.0001'],
    [-0.0, '-0.0'], [0.1, '0.1'], [1 / 3, '0.3333333333333333'], [123456789012345680.0, '1.2345678901234568e+17'],
    [1.5e300, '1.5e+300'], [5e-324, '5e-324'], [1e22, '1e+22'], [12345.678, '12345.678'], [-2.5e-7, '-2.5e-07'],
    [Infinity, 'inf'],
  ];
  for (const [x, want] of table) assert.equal(pyFloatRepr(x), want, String(x));
});

test('json.dumps: ints vs floats, key order, separators, ensure_ascii', () => {
  // Python dict semantics: a repeated key keeps its first position and takes the last value
  const v = parse('{"b":1,"1":2,"b":3, "x":[1.0,-0,1E2,2e-1,{}, []], "y": null, "z": true}');
  assert.equal(pyJsonDumps(v), '{"b": 3, "1": 2, "x": [1.0, 0, 100.0, 0.2, {}, []], "y": null, "z": true}');
  assert.equal(pyRepr(parse('{"b":1,"1":2,"b":3, "x":[1.0,-0,1E2,2e-1,{}, [], null, true, "q"]}')),
    "{'b': 3, '1': 2, 'x': [1.0, 0, 100.0, 0.2, {}, [], None, True, 'q']}");
  assert.equal(pyJsonDumps(parse('{"s":"a\\"b\\\\c\\n\\t\\u0001\\u007f é😀\\ud800\\/"}')),
    '{"s": "a\\"b\\\\c\\n\\t\\u0001\\u007f \\u00e9\\ud83d\\ude00\\ud800/"}');
  assert.equal(pyJsonDumps(parse('1e400')), 'Infinity'); // float('1e400') is inf in CPython
  assert.equal(pyJsonDumps(parse('123456789012345678901234567890')), '123456789012345678901234567890');
});

test('repr(str) picks quotes and escapes like CPython', () => {
  assert.equal(pyStrRepr("it's"), '"it\'s"');
  assert.equal(pyStrRepr('a"b'), "'a\"b'");
  assert.equal(pyStrRepr('it\'s "x"'), "'it\\'s \"x\"'");
  assert.equal(pyStrRepr('\xa0\x85\u200b\ud800é😀\n\\'), "'\\xa0\\x85\\u200b\\ud800é😀\\n\\\\'");
  assert.equal(pyStr(null), 'None');
  assert.equal(pyStr('raw text'), 'raw text');
  assert.equal(pyStr(false), 'False');
});

test('parse rejects what json.loads rejects', () => {
  const bad = ['', ' ', '{', '{"a":1,}', '[1,]', "{'a':1}", '01', '1.', '.5', '-', '+1', '"\x01"', '"\\x"', '"\\u12"',
    'nul', 'NaN', 'Infinity', '{"a" 1}', '[1 2]', '1 2', '\ufeff{}', '{"a":1}x', '"abc', '[' .repeat(600) + ']'.repeat(600),
    '9'.repeat(4301)];
  for (const text of bad) assert.equal(parsePyJson(text).ok, false, JSON.stringify(text.slice(0, 30)));
  for (const text of [' {} ', '\t[]\r\n', '"\\u00e9"', '-0', '0.5e-3', '9'.repeat(4300)]) assert.ok(parsePyJson(text).ok, text.slice(0, 30));
});

test('property: JSON.stringify output parses to the same value (as JS sees it)', () => {
  const toJs = (v: PyValue): unknown => {
    if (typeof v === 'bigint') return Number(v);
    if (Array.isArray(v)) return v.map(toJs);
    if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, toJs(x)]));
    return v;
  };
  fc.assert(
    fc.property(fc.jsonValue(), (j) => {
      const text = JSON.stringify(j);
      const r = parsePyJson(text);
      assert.ok(r.ok);
      assert.deepEqual(toJs(r.value), JSON.parse(text));
      // and our dumps output is itself valid JSON for finite values
      assert.deepEqual(JSON.parse(pyJsonDumps(r.value)), JSON.parse(text));
    }),
    { seed: SEED, numRuns: 300 },
  );
});

test('property: random strings never throw past the parser boundary', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => {
    parsePyJson(s);
  }), { seed: SEED, numRuns: 1000 });
});
