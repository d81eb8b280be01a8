/**
 * `causeway sim` (SPEC §3): runs the protocol cores on the deterministic simulator, prints the seed
 * first, a summary and the checkers' verdicts; writes the history (JSON lines) and a ShiViz log on
 * request. A failing run prints the one-line command that replays it and exits 1.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { serializeHistory } from '../check/index.js';
import {
  DEFAULT_SIM_OPTIONS,
  FAULT_KINDS,
  SIM_MODELS,
  formatFaults,
  formatSummary,
  parseFaults,
  runSimulation,
  type FaultKind,
  type SimModel,
  type SimProgress,
} from '../sim/index.js';
import { isCausewayError } from '../core/errors.js';
import { parseIntOption } from './lab.js';

interface SimCliOptions {
  model: SimModel;
  nodes: number;
  ops: number;
  seed?: number;
  faults: FaultKind[];
  clients: number;
  keys: number;
  tickMs: number;
  maxLivenessTicks: number;
  history?: string;
  shiviz?: string;
  progress: boolean;
}

/** A one-line progress bar on stderr, redrawn in place (only when stderr is a terminal). */
function progressBar(): { update: (p: SimProgress) => void; done: () => void } {
  let drawn = false;
  return {
    update(p) {
      const width = 30;
      const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
      const fill = Math.round(frac * width);
      const label = p.phase === 'safety' ? `${p.done}/${p.total} ops` : p.phase === 'liveness' ? `healing, ${p.done} ticks` : 'checking history';
      process.stderr.write(`\r${p.phase.padEnd(8)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${label}   `);
      drawn = true;
    },
    done() {
      if (drawn) process.stderr.write('\r\x1b[2K');
    },
  };
}

function run(o: SimCliOptions): void {
  const seed = o.seed ?? randomInt(0, 0xffffffff);
  // An output file that cannot be written is found now, not after a long run.
  if (o.history !== undefined && o.shiviz !== undefined && resolve(o.history) === resolve(o.shiviz)) {
    console.error(`causeway sim: --history and --shiviz name the same file (${o.history}); give each its own`);
    process.exitCode = 2;
    return;
  }
  for (const [flag, file] of [['--history', o.history], ['--shiviz', o.shiviz]] as const) {
    if (file === undefined) continue;
    try {
      writeFileSync(file, '');
    } catch (e) {
      console.error(`causeway sim: cannot write ${flag} ${file}: ${(e as Error).message}`);
      process.exitCode = 2;
      return;
    }
  }
  console.log(`seed ${seed}`);
  const bar = o.progress && process.stderr.isTTY ? progressBar() : null;
  let result;
  try {
    result = runSimulation(
      {
        model: o.model,
        nodes: o.nodes,
        ops: o.ops,
        seed,
        faults: o.faults,
        clients: o.clients,
        keys: o.keys,
        tickMs: o.tickMs,
        maxLivenessTicks: o.maxLivenessTicks,
        shiviz: o.shiviz !== undefined,
      },
      bar ? { onProgress: bar.update } : {},
    );
  } catch (e) {
    bar?.done();
    if (isCausewayError(e)) {
      console.error(`causeway: ${e.detail}`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
  bar?.done();
  if (o.history !== undefined) writeFileSync(o.history, serializeHistory(result.history));
  if (o.shiviz !== undefined && result.shiviz !== undefined) writeFileSync(o.shiviz, result.shiviz);
  for (const line of formatSummary(result)) console.log(line);
  if (o.history !== undefined) console.log(`history: ${o.history} (${result.history.length} events)`);
  if (o.shiviz !== undefined) console.log(`shiviz log: ${o.shiviz}`);
  if (!result.ok) {
    console.error(`replay with: ${result.replay}`);
    process.exitCode = 1;
  }
}

export function registerSim(program: Command): void {
  const d = DEFAULT_SIM_OPTIONS;
  program
    .command('sim')
    .description('run the protocol on a deterministic simulated network under seeded faults, then check the history')
    .option('--model <model>', `consistency model: ${SIM_MODELS.join(', ')}`, (v: string): SimModel => {
      if (!(SIM_MODELS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected ${SIM_MODELS.join(', ')}`);
      return v as SimModel;
    }, d.model)
    .option('--nodes <n>', 'number of nodes', parseIntOption(1, 64), d.nodes)
    .option('--ops <n>', 'client operations in the safety phase', parseIntOption(0, 100_000_000), d.ops)
    .option('--seed <n>', 'the seed (uint32) every random choice derives from; random when absent', parseIntOption(0, 0xffffffff))
    .addOption(
      new Option('--faults <list>', `all, none, or a comma-separated list of ${FAULT_KINDS.join(', ')}`)
        .argParser((v: string): FaultKind[] => {
          try {
            return parseFaults(v);
          } catch (e) {
            throw new InvalidArgumentError(isCausewayError(e) ? e.detail : String(e));
          }
        })
        .default([...d.faults], formatFaults(d.faults)),
    )
    .option('--clients <n>', 'concurrent clients', parseIntOption(1, 10_000), d.clients)
    .option('--keys <n>', 'size of the key set', parseIntOption(1, 1_000_000), d.keys)
    .option('--tick-ms <ms>', 'virtual milliseconds between protocol ticks', parseIntOption(1, 60_000), d.tickMs)
    .option('--max-liveness-ticks <n>', 'tick periods the healed phase may take to converge', parseIntOption(1, 10_000_000), d.maxLivenessTicks)
    .option('--history <file>', 'write the history as JSON lines (SPEC §3)')
    .option('--shiviz <file>', 'write a log for ShiViz')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', `\nDefault faults: ${formatFaults(d.faults)}. Exit status: 0 ok, 1 failed run (the replay command is printed), 2 bad options.`)
    .action((opts: SimCliOptions) => {
      run(opts);
    });
}
