/**
 * docs/workbench.md shows real output: its simulator, checker and sha256sum commands are run here
 * in order (the checks read the history the first simulation wrote), and the output lines the page
 * shows must come out of its command as shown, from its first line; a line `...` stands for lines
 * the page leaves out. The live-cluster part (curl, chaos) is not run here: the cluster and chaos
 * tests cover those commands. When a protocol change moves the seed's history, this fails:
 * run the page's commands again and update it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'bin', 'causeway.js');

interface Step {
  readonly command: string;
  readonly expected: readonly string[];
}

/** The `$ ` commands of the page's console blocks, each with the lines shown after it. */
export function consoleSteps(markdown: string): Step[] {
  const steps: { command: string; expected: string[] }[] = [];
  const blocks = markdown.split('```console\n').slice(1).map((b) => b.slice(0, b.indexOf('```')));
  for (const block of blocks) {
    for (const line of block.split('\n')) {
      if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
      else if (line !== '' && steps.length > 0) steps[steps.length - 1]?.expected.push(line);
    }
  }
  return steps;
}

/**
 * The first line the page shows that does not come out where it should, or null. Shown lines come
 * out as they are shown, one after the other, from the output's first line; a `...` line stands
 * for any number of lines left out (the next shown line may then come later).
 */
export function missingLine(expected: readonly string[], actual: readonly string[]): string | null {
  let at = 0;
  let anchored = true;
  for (let i = 0; i < expected.length; ) {
    if ((expected[i] as string).trim() === '...') {
      anchored = false;
      i++;
      continue;
    }
    let j = i;
    while (j < expected.length && (expected[j] as string).trim() !== '...') j++;
    const run = expected.slice(i, j);
    // where the run matches longest: at `at` only, or anywhere from it after a `...`
    let best = { start: at, matched: -1 };
    for (let start = at; start <= (anchored ? at : actual.length - 1); start++) {
      let k = 0;
      while (k < run.length && actual[start + k] === run[k]) k++;
      if (k > best.matched) best = { start, matched: k };
      if (k === run.length) break;
    }
    if (best.matched < run.length) return run[Math.max(best.matched, 0)] as string;
    at = best.start + run.length;
    anchored = true;
    i = j;
  }
  return null;
}

test('missingLine: shown lines come out in order and together from the first; ... skips', () => {
  assert.equal(missingLine(['a', 'b', '...', 'd'], ['a', 'b', 'c', 'd']), null);
  assert.equal(missingLine(['...', 'c', 'd'], ['a', 'b', 'c', 'd']), null);
  assert.equal(missingLine(['a', 'c'], ['a', 'b', 'c']), 'c', 'a gap without ...');
  assert.equal(missingLine(['b'], ['a', 'b']), 'b', 'not from the first line');
  assert.equal(missingLine(['a', '...', 'a'], ['a', 'b']), 'a', 'in order');
  assert.equal(missingLine(['a', 'x'], ['a', 'b']), 'x');
});

test('docs/workbench.md: the simulator and checker commands print what the page shows', () => {
  const steps = consoleSteps(readFileSync(join(ROOT, 'docs', 'workbench.md'), 'utf8'));
  const runnable = steps.filter((s) => /^npx causeway (sim|check) /.test(s.command) || s.command.startsWith('sha256sum '));
  assert.ok(runnable.length >= 6, `the page's commands were found (${runnable.length})`);
  const dir = mkdtempSync(join(tmpdir(), 'docs-workbench-'));
  try {
    for (const step of runnable) {
      const words = step.command.split(' ');
      const [file, args] =
        words[0] === 'npx'
          ? [process.execPath, [MAIN, ...words.slice(2), ...(words[2] === 'sim' ? ['--no-progress'] : [])]]
          : [words[0] as string, words.slice(1)];
      const r = spawnSync(file, args, { cwd: dir, encoding: 'utf8' });
      assert.ok(r.error === undefined, `${step.command}: ${String(r.error)}`);
      const out = `${r.stdout}${r.stderr}`.split('\n');
      const missing = missingLine(step.expected, out);
      assert.equal(missing, null, `docs/workbench.md is out of date: \`${step.command}\` no longer prints\n${missing}\nIt printed:\n${out.join('\n')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
