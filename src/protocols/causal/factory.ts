/** The causal core as a `CoreFactory`, for the shared conformance suite and in-memory drivers. */
import type { NodeId } from '../../core/protocol.js';
import type { CoreFactory } from '../conformance.js';
import { CausalCore, type CausalOptions } from './core.js';
import type { CausalEvent, CausalMsg } from './types.js';

export function causalFactory(options: Partial<CausalOptions> = {}): CoreFactory<CausalMsg, CausalEvent> & {
  create(id: NodeId, nodes: readonly NodeId[]): CausalCore;
} {
  return {
    create: (id, nodes) => new CausalCore({ id, nodes, options }),
    restore: (snapshot, id, nodes) => CausalCore.restore(snapshot, { id, nodes, options }),
    pausedPeers: (core) => (core as CausalCore).pausedPeers(),
  };
}
