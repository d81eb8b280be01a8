/** The deterministic simulator: public API. */
export { Simulation, runSimulation, DEFAULT_SIM_TUNING, type SimFailure, type SimHooks, type SimProgress, type SimResult, type SimSummary, type SimTrace, type SimTuning } from './simulator.js';
export { DEFAULT_SIM_OPTIONS, FAULT_KINDS, SIM_MODELS, formatFaults, parseFaults, parseSimArgs, replayCommand, simOptions, type FaultKind, type SimModel, type SimOptions } from './options.js';
export { VirtualNetwork, DEFAULT_NETWORK_OPTIONS, type Arrival, type LatencyDist, type LinkLatency, type NetworkFaults, type NetworkOptions, type NetworkStats } from './network.js';
export { EventQueue } from './event-queue.js';
export { ShivizLog, SHIVIZ_REGEX, type ShivizClock } from './shiviz.js';
export { formatSummary } from './report.js';
export { SimDisk, deepFreeze } from './sim-disk.js';
export { TRAFFIC_EVENTS, trafficCounter, type AntiEntropyTraffic } from './traffic.js';
