/** History checkers: one entry point per model, and a dispatcher for the CLI. */
import { assertNever } from '../core/assert.js';
import type { History } from './history.js';
import { checkCausal } from './causal.js';
import { checkEventual } from './eventual.js';
import { checkLinearizable } from './linearizable.js';
import { checkSequential } from './sequential.js';
import type { Model, Verdict } from './verdict.js';

export interface CheckOptions {
  /** Search steps for the linearizable and sequential searches. */
  readonly maxSteps?: number;
}

export function checkHistory(history: History, model: Model, options: CheckOptions = {}): Verdict {
  const budget = options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps };
  switch (model) {
    case 'linearizable':
      return checkLinearizable(history, budget);
    case 'sequential':
      return checkSequential(history, budget);
    case 'causal':
      return checkCausal(history);
    case 'eventual':
      return checkEventual(history);
    default:
      return assertNever(model, 'model');
  }
}

export { checkCausal, checkEventual, checkLinearizable, checkSequential };
export { parseHistory, historyFromEvents, serializeHistory, formatOp, type History, type HistoryEvent, type Operation } from './history.js';
export { MODELS, exitCodeOf, type Model, type Verdict, type Violation } from './verdict.js';
