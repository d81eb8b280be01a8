// Checks on keys and values a client sends (SPEC §2 "Errors": bad input gets a 4xx naming the
// problem, changes nothing). Each refused case is one the store could not keep as sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack, unpack } from 'msgpackr';
import { isCausewayError } from '../core/errors.js';
import { checkKey, checkValue, MAX_VALUE_CONTAINERS, MAX_VALUE_DEPTH } from './kv-input.js';

function refusal(f: () => unknown): { code: string; detail: string } {
  try {
    f();
  } catch (err) {
    assert.ok(isCausewayError(err), `a CausewayError, not ${String(err)}`);
    return { code: err.code, detail: err.detail };
  }
  assert.fail('expected a refusal');
}

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
};

test('values the store keeps as they are pass, and survive encoding unchanged', () => {
  const ok: unknown[] = [
    null, true, 0, -1.5, 1e308, 'text', 'a😀b', '', [], {}, { a: [1, { b: 'c' }], 'x y': null },
    nested(MAX_VALUE_DEPTH), JSON.parse('{"__proto_": 1, "constructor": 2}'),
  ];
  for (const v of ok) {
    checkValue(v);
    assert.deepEqual(unpack(pack(v)), v);
  }
});

test('nesting deeper than the limit is refused, however deep, without a stack overflow', () => {
  for (const depth of [MAX_VALUE_DEPTH + 1, 100_000]) {
    const r = refusal(() => checkValue(nested(depth)));
    assert.equal(r.code, 'bad-request');
    assert.match(r.detail, new RegExp(`nested more than ${MAX_VALUE_DEPTH} levels deep`));
  }
  // What the check prevents: the encoder overflows its stack on such a value.
  assert.throws(() => pack(nested(100_000)), RangeError);
});

test('an unpaired surrogate in a string or an object key is refused, with where it is', () => {
  const lone = JSON.parse('"\\ud800"') as string;
  // What the check prevents: the replica would read U+FFFD instead.
  assert.notEqual(unpack(pack(lone)), lone);
  assert.match(refusal(() => checkValue(lone)).detail, /unpaired UTF-16 surrogate at \$,/);
  assert.match(refusal(() => checkValue({ list: [1, { 'a b': lone }] })).detail, /at \$\.list\[1\]\["a b"\]/);
  assert.match(refusal(() => checkValue({ [lone]: 1 })).detail, /object key with an unpaired UTF-16 surrogate at \$/);
  assert.match(refusal(() => checkKey(`k${lone}`, 256)).detail, /key has an unpaired UTF-16 surrogate/);
});

test('a number outside a 64-bit float is refused (1e400 parses to Infinity)', () => {
  const v = JSON.parse('{"t": [1, 1e400]}') as unknown;
  const r = refusal(() => checkValue(v));
  assert.equal(r.code, 'bad-request');
  assert.match(r.detail, /number at \$\.t\[1\] outside the range/);
});

test('the object key "__proto__" is refused: the decoder would rename it', () => {
  const v = JSON.parse('{"a": {"__proto__": {"x": 1}}}') as Record<string, unknown>;
  assert.notDeepEqual(unpack(pack(v)), v);
  assert.match(refusal(() => checkValue(v)).detail, /object key "__proto__" at \$\.a/);
});

test('keys: non-empty strings within the byte limit', () => {
  assert.equal(checkKey('dir/a', 256), 'dir/a');
  assert.equal(refusal(() => checkKey('', 256)).code, 'bad-request');
  assert.equal(refusal(() => checkKey(7, 256)).code, 'bad-request');
  assert.equal(refusal(() => checkKey('é'.repeat(129), 256)).code, 'key-too-long');
});

// Parsed, `[{},{},...]` takes some 60 bytes of memory per object: a value may hold at most
// MAX_VALUE_CONTAINERS objects and arrays. checkValue returns how many it has (its cost).
test('a value has at most MAX_VALUE_CONTAINERS objects and arrays; checkValue counts them', () => {
  assert.equal(checkValue('text'), 0);
  assert.equal(checkValue({ a: [1, { b: [] }] }), 4);
  assert.equal(checkValue(Array.from({ length: MAX_VALUE_CONTAINERS - 1 }, () => ({}))), MAX_VALUE_CONTAINERS);
  assert.throws(
    () => checkValue(Array.from({ length: MAX_VALUE_CONTAINERS }, () => ({}))),
    (err: unknown) => isCausewayError(err) && err.code === 'bad-request' && err.detail === `value has more than ${MAX_VALUE_CONTAINERS} objects and arrays (the next at $[${MAX_VALUE_CONTAINERS - 1}]); store such data as fewer, larger parts`,
  );
});
