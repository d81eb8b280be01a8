import type { Operation } from './history.js';

export const MODELS = ['causal', 'eventual', 'sequential', 'linearizable'] as const;
export type Model = (typeof MODELS)[number];

/** One broken rule, with the operations that break it. */
export interface Violation {
  readonly rule: string;
  readonly explanation: string;
  readonly ops: readonly Operation[];
}

/**
 * A checker's answer. Invalid only when proven; 'unknown' when the input cannot be judged (a search
 * budget ran out, or the history lacks what the model needs).
 */
export type Verdict =
  | { readonly valid: true; readonly model: Model; readonly notes?: readonly string[] }
  | ({ readonly valid: false; readonly model: Model; readonly key?: string; readonly violations?: readonly Violation[] } & Violation)
  | { readonly valid: 'unknown'; readonly model: Model; readonly reason: string };

export function exitCodeOf(v: Verdict): 0 | 1 | 2 {
  return v.valid === true ? 0 : v.valid === false ? 1 : 2;
}

export function invalid(model: Model, violations: readonly Violation[], key?: string): Verdict {
  const first = violations[0];
  if (!first) throw new Error('invalid verdict without a violation');
  return {
    valid: false,
    model,
    rule: first.rule,
    explanation: first.explanation,
    ops: first.ops,
    ...(key === undefined ? {} : { key }),
    ...(violations.length > 1 ? { violations } : {}),
  };
}
