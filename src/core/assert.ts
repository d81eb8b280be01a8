/** Exhaustiveness guard for discriminated unions (ARCHITECTURE.md §4 rule 3). */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}

/** Broken invariants throw; expected outcomes are values. */
export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`invariant violated: ${message}`);
}
