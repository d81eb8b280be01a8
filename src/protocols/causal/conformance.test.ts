import { test } from 'node:test';
import { conformanceCases } from '../conformance.js';
import { causalFactory } from './factory.js';

// ARCHITECTURE.md §4 rule 7: every model passes one shared conformance suite.
for (const c of conformanceCases) {
  test(`causal conformance: ${c.name} (${c.rule})`, () => {
    c.run(causalFactory());
  });
}
