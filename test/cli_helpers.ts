// What the command-line tests share (test/cli.test.ts, test/cli_artistic.test.ts): the paths of
// the example images, the parser's usage errors, the real program spawned with a time limit, and
// its check of bad input (expectUsageErrors).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { EXIT, parseArgs, type TransferCliOptions, UsageError } from '../src/cli/args.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const IMAGES = resolve(ROOT, '..', 'shared', 'images');
export const TUBINGEN = join(IMAGES, 'tubingen.jpg'); // 1024x768 → 64 rows x 85 cols
export const STARRY = join(IMAGES, 'starry_night.jpg');
export const BASE = ['--content', 'a.jpg', '--style', 'b.jpg', '--out', 'o.png'];

/** parseArgs that must fail: returns the UsageError (exit 2, one line). */
export function usageError(argv: string[]): UsageError {
  try {
    parseArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    const u = e as UsageError;
    expect(u.exitCode).toBe(2);
    expect(u.message).not.toContain('\n');
    return u;
  }
  throw new Error(`parseArgs(${JSON.stringify(argv)}) did not fail`);
}

/** parseArgs that must give a transfer run: its options. */
export const transfer = (argv: string[]): TransferCliOptions => {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error(`expected a run, got ${r.kind}`);
  return r.options;
};

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `node src/cli/neural-style.mjs ...args` in the project root (with `env` added); killed after timeoutMs. */
export function cli(
  args: string[],
  timeoutMs: number,
  onStderr?: (all: string, child: ReturnType<typeof spawn>) => void,
  env: Record<string, string> = {},
): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['src/cli/neural-style.mjs', ...args], {
      cwd: ROOT,
      env: { ...process.env, NEURAL_STYLE_DEBUG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`neural-style ${args.join(' ')}: no exit after ${timeoutMs} ms; stderr so far:\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Our own lines on stderr (Dawn prints its own warnings too). */
export const ours = (r: Run) => r.stderr.split('\n').filter((l) => l.startsWith('neural-style:'));
export const noStack = (r: Run) => expect(r.stderr).not.toMatch(/\n\s+at .+:\d+/);

/**
 * The real program on the example pair once per bad case [name, extra flags, the message
 * expected], writing into `dir`: each exits 2 with one line of ours that matches, no stack trace,
 * and writes neither the image nor the JSON.
 */
export async function expectUsageErrors(dir: string, cases: ReadonlyArray<readonly [string, string[], RegExp]>): Promise<void> {
  const out = join(dir, 'bad.png');
  const json = join(dir, 'bad.json');
  for (const [name, extra, re] of cases) {
    const r = await cli(['--content', TUBINGEN, '--style', STARRY, '--out', out, '--json', json, ...extra], 60_000);
    expect(r.code, `${name}: ${r.stderr}`).toBe(EXIT.usage);
    expect(ours(r), name).toHaveLength(1);
    expect(r.stderr, name).toMatch(re);
    noStack(r);
    expect(existsSync(out), name).toBe(false);
    expect(existsSync(json), name).toBe(false);
  }
}
