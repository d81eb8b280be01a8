/** Typed columns that double: a copy of `a` with room for `length` elements (the rest zero). */
export function grown<T extends Float64Array | Int32Array | Uint8Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}
