// The `pytorch-cpu` strategy (Node only): the same objective in native PyTorch on the CPU, what
// a user without a GPU would pick instead (bench/strategies/pytorch_cpu.py holds the objective,
// written from DESIGN.md's math, and the scipy-driven notebook schedule).
//
// Optional: it runs when a Python with torch and scipy is found (NEURAL_STYLE_PYTHON, else
// `python3`, else /usr/bin/python3: Debian's python3-torch and python3-scipy live there when a
// pyenv or venv python3 comes first on PATH); otherwise its rows say why it was skipped. npm test
// never needs it (test/pytorch.test.ts is skipped without torch).
//
// The Python side is a server (one JSON command per line), so the eval section interleaves its
// evaluations with ours like any other strategy. Inputs go over as float32 files in a temp folder.

import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GpuContext } from '../../src/gpu/device.ts';
import type { RgbaImage } from '../../src/image/types.ts';
import type { ConvVersion } from '../../src/kernels/conv3x3.ts';
import type { Vgg19Weights } from '../../src/model/weights.ts';
import type { StyleConfig } from '../../src/style/config.ts';
import type { LossBreakdown } from '../../src/style/types.ts';
import { evalInputs, maxTermDiff } from '../cases/eval.ts';
import { relL2 } from '../lib/stats.ts';
import { type EvalInputs, type EvalStrategy, OurEval } from './ours.ts';

const SCRIPT = fileURLToPath(new URL('./pytorch_cpu.py', import.meta.url));

export type PytorchStatus = { ok: true; python: string; torch: string; scipy: string } | { ok: false; reason: string };

let found: PytorchStatus | null = null;

/** The first Python with torch and scipy (cached): NEURAL_STYLE_PYTHON, python3, /usr/bin/python3. */
export function findPytorch(): PytorchStatus {
  if (found) return found;
  const candidates = [process.env.NEURAL_STYLE_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  const why: string[] = [];
  for (const py of [...new Set(candidates)]) {
    const r = spawnSync(py, ['-c', 'import torch, scipy; print(torch.__version__, scipy.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.error) {
      why.push(`${py}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : r.error.message}`);
      continue;
    }
    if (r.status === 0) {
      const [torch, scipy] = r.stdout.trim().split(/\s+/);
      return (found = { ok: true, python: py, torch, scipy });
    }
    const last = r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`;
    why.push(`${py}: ${last}`);
  }
  return (found = { ok: false, reason: `no Python with torch and scipy (${why.join('; ')}); on Debian: apt-get install python3-torch python3-scipy, or set NEURAL_STYLE_PYTHON` });
}

interface Answer {
  error?: string;
  [k: string]: unknown;
}

/** One pytorch_cpu.py process: JSON commands in, JSON answers out, each with a time limit. */
export class PytorchServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private buf = '';
  private stderr = '';
  private waiting: Array<(a: Answer) => void> = [];
  private exited: string | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'bench-pytorch-'));

  constructor(python: string, weightsDir: string, threads = cpus().length) {
    this.child = spawn(python, [SCRIPT, '--weights', weightsDir, '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        let a: Answer;
        try {
          a = JSON.parse(line) as Answer;
        } catch {
          a = { error: `not JSON: ${line.slice(0, 200)}` };
        }
        this.waiting.shift()?.(a);
      }
    });
    this.child.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-2000)));
    this.child.on('exit', (code, signal) => {
      this.exited = `pytorch_cpu.py exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim().split('\n').pop()}` : ''}`;
      for (const w of this.waiting.splice(0)) w({ error: this.exited });
    });
  }

  /** Sends a command; rejects on an error answer, an exit, or after timeoutMs. */
  send(cmd: Record<string, unknown>, timeoutMs: number): Promise<Answer> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        reject(new Error(`pytorch_cpu.py: no answer to "${String(cmd.cmd)}" within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.push((a) => {
        clearTimeout(timer);
        if (a.error) reject(new Error(`pytorch_cpu.py ${String(cmd.cmd)}: ${a.error}`));
        else resolve(a);
      });
      this.child.stdin.write(JSON.stringify(cmd) + '\n');
    });
  }

  /** Writes float32 values to a file in the temp folder; returns its path. */
  file(name: string, data: Float32Array): string {
    const p = join(this.dir, name);
    writeFileSync(p, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return p;
  }

  close(): void {
    if (!this.exited) {
      this.child.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
      setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The parts of StyleConfig the Python objective reads. */
function cfgJson(cfg: StyleConfig) {
  const { contentLayer, styleLayers, styleLayerWeights, contentWeight, styleWeight, tvWeight, pooling, contentLoss, styleNorm } = cfg;
  return { contentLayer, styleLayers: [...styleLayers], styleLayerWeights: [...styleLayerWeights], contentWeight, styleWeight, tvWeight, pooling, contentLoss, styleNorm };
}

/** Time limit of one PyTorch evaluation (generous: a loaded 2-core machine). */
const EVAL_MS = 600_000;

/** The eval section's pytorch-cpu row: float32 PyTorch on the CPU, all cores, wall time per evaluation. */
export class PytorchEval implements EvalStrategy {
  readonly name = 'pytorch-cpu';
  readonly backend = 'pytorch-cpu' as const;
  readonly formulation = 'autograd';
  readonly needsWarmup = true; // the first evaluation allocates
  private server: PytorchServer | null = null;
  private last: LossBreakdown | null = null;
  /** torch version and threads, for the notes */
  info = '';

  constructor(
    private readonly python: string,
    private readonly weightsDir: string,
    private readonly inp: EvalInputs,
  ) {}

  async setup(): Promise<void> {
    const s = (this.server = new PytorchServer(this.python, this.weightsDir));
    const a = await s.send(
      { cmd: 'setup', H: this.inp.H, W: this.inp.W, cfg: cfgJson(this.inp.cfg), content: s.file('content.f32', this.inp.content), style: s.file('style.f32', this.inp.style), x: s.file('x.f32', this.inp.x) },
      EVAL_MS,
    );
    this.info = `torch ${String(a.torch)}, ${String(a.threads)} threads`;
  }

  async run(): Promise<number> {
    const a = await this.server!.send({ cmd: 'run' }, EVAL_MS);
    this.last = a.loss as LossBreakdown;
    return a.ms as number;
  }

  async result(): Promise<{ loss: LossBreakdown; grad: Float32Array }> {
    const path = join(this.server!.dir, 'grad.f32');
    const a = await this.server!.send({ cmd: 'result', grad: path }, 60_000);
    const bytes = readFileSync(path);
    const grad = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return { loss: (a.loss as LossBreakdown) ?? this.last!, grad };
  }

  async teardown(): Promise<void> {
    this.server?.close();
    this.server = null;
  }
}

/**
 * The notebook's schedule in PyTorch + scipy from x = content: `rounds` calls of
 * fmin_l_bfgs_b(maxfun) (setup untimed). Returns wall seconds, evaluations (every call's nfev,
 * scipy's count), the evaluations of each call and the final loss.
 */
export async function pytorchSchedule(
  python: string,
  weightsDir: string,
  cfg: StyleConfig,
  H: number,
  W: number,
  content: Float32Array,
  style: Float32Array,
  rounds: number,
  maxfun: number,
): Promise<{ seconds: number; evaluations: number; nfevPerRound: number[]; loss: number; info: string }> {
  const s = new PytorchServer(python, weightsDir);
  try {
    const a = await s.send({ cmd: 'setup', H, W, cfg: cfgJson(cfg), content: s.file('content.f32', content), style: s.file('style.f32', style), x: s.file('x.f32', content) }, EVAL_MS);
    const r = await s.send({ cmd: 'schedule', rounds, maxfun }, rounds * (maxfun + 30) * EVAL_MS);
    return {
      seconds: r.seconds as number,
      evaluations: r.evaluations as number,
      nfevPerRound: r.nfev_per_round as number[],
      loss: r.loss as number,
      info: `torch ${String(a.torch)}, ${String(a.threads)} threads, scipy ${String(r.scipy)}`,
    };
  } finally {
    s.close();
  }
}

/** The pytorch-cpu objective must agree with ours within this (relative, every loss term) at PYTORCH_CHECK_SIZE. */
export const PYTORCH_CHECK_RTOL = 1e-5;
export const PYTORCH_CHECK_SIZE: [number, number] = [48, 64];

/**
 * The agreement check the bench prints before timing pytorch-cpu: one evaluation of each
 * objective at 48x64 (float32 sums at the full size differ more), every loss term compared.
 */
export async function pytorchAgreement(
  ctx: GpuContext,
  ourWeights: Vgg19Weights,
  images: { content: RgbaImage; style: RgbaImage },
  cfg: StyleConfig,
  convVersion: ConvVersion,
  python: string,
  weightsDir: string,
): Promise<{ size: [number, number]; worst: number; ok: boolean; line: string }> {
  const [H, W] = PYTORCH_CHECK_SIZE;
  const inp = evalInputs(cfg, H, W, images.content, images.style);
  const ours = new OurEval(ctx, ourWeights, inp, convVersion);
  const theirs = new PytorchEval(python, weightsDir, inp);
  try {
    await ours.setup();
    await theirs.setup();
    await ours.run();
    await theirs.run();
    const [a, b] = [await ours.result(), await theirs.result()];
    const worst = Math.max(Math.abs(b.loss.total - a.loss.total) / Math.abs(a.loss.total), maxTermDiff(b.loss, a.loss));
    const ok = worst <= PYTORCH_CHECK_RTOL;
    const line = `loss terms vs ours at ${H}x${W}: worst relative difference ${worst.toExponential(2)} ${ok ? '<=' : '>'} ${PYTORCH_CHECK_RTOL} (${ok ? 'ok' : 'FAILED'}), gradient rel L2 ${relL2(b.grad, a.grad).toExponential(2)}`;
    return { size: [H, W], worst, ok, line };
  } catch (e) {
    return { size: [H, W], worst: NaN, ok: false, line: `FAILED to run: ${(e as Error).message}` };
  } finally {
    await ours.teardown();
    await theirs.teardown();
  }
}


/**
 * What the eval section needs for its pytorch-cpu row, without importing Node modules itself
 * (the suite also runs in a browser): either why it is skipped, or how to check and make it.
 */
export type PytorchOption =
  | { skipped: string }
  | {
      skipped?: undefined;
      check(ctx: GpuContext, ourWeights: Vgg19Weights, images: { content: RgbaImage; style: RgbaImage }, cfg: StyleConfig, convVersion: ConvVersion): ReturnType<typeof pytorchAgreement>;
      make(inp: EvalInputs): PytorchEval;
      /** the notebook's schedule through scipy (pytorchSchedule) */
      schedule(cfg: StyleConfig, H: number, W: number, content: Float32Array, style: Float32Array, rounds: number, maxfun: number): ReturnType<typeof pytorchSchedule>;
    };

/** The eval section's option for the weights folder `weightsDir` (finds torch once). */
export function pytorchOption(weightsDir: string): PytorchOption {
  const status = findPytorch();
  if (!status.ok) return { skipped: status.reason };
  return {
    check: (ctx, w, images, cfg, v) => pytorchAgreement(ctx, w, images, cfg, v, status.python, weightsDir),
    make: (inp) => new PytorchEval(status.python, weightsDir, inp),
    schedule: (cfg, H, W, content, style, rounds, maxfun) => pytorchSchedule(status.python, weightsDir, cfg, H, W, content, style, rounds, maxfun),
  };
}
