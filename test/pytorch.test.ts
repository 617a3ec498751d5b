// Opt-in: the pytorch-cpu bench strategy (bench/strategies/pytorch_cpu.py, its objective written
// in PyTorch from DESIGN.md's math) computes the same loss as ours: every term within 1e-5
// (relative) at 48 rows, and the same gradient (relative L2 within 1e-5, measured 5e-7: float32 on both sides,
// different summation orders). Skipped, with the reason, when no Python with torch and scipy is
// found (npm test never needs it; on Debian: apt-get install python3-torch python3-scipy).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readImageFile } from '../src/image/node.ts';
import { makeConfig, type PresetName } from '../src/style/config.ts';
import { evalInputs } from '../bench/cases/eval.ts';
import { OurEval } from '../bench/strategies/ours.ts';
import { findPytorch, PytorchEval } from '../bench/strategies/pytorch.ts';
import { relL2 } from '../bench/lib/stats.ts';
import { loadVgg19WeightsFromDir, resolveWeightsDir } from '../src/model/locate.ts';
import { ROOT, STARRY, TUBINGEN } from './cli_helpers.ts';
import { gpu } from './helpers.ts';
import { chooseConvVersion } from '../src/kernels/kernel_table.ts';

const status = findPytorch();
const haveData = existsSync(TUBINGEN) && existsSync(STARRY) && existsSync(resolve(ROOT, '..', 'shared', 'vgg19'));
if (!status.ok) console.log(`test/pytorch.test.ts skipped: ${status.reason}`);

/** The tolerance of the loss terms (relative), the bar. */
export const PYTORCH_LOSS_RTOL = 1e-5;

describe.skipIf(!status.ok || !haveData)('pytorch-cpu objective agrees with ours', () => {
  for (const preset of ['notebook', 'paper'] as PresetName[]) {
    it(`${preset} preset, 48x64: loss terms within ${PYTORCH_LOSS_RTOL} (relative), gradient close`, async () => {
      const ctx = await gpu();
      const cfg = makeConfig(preset);
      const inp = evalInputs(cfg, 48, 64, await readImageFile(TUBINGEN), await readImageFile(STARRY));
      const ours = new OurEval(ctx, await loadVgg19WeightsFromDir(), inp, chooseConvVersion(ctx));
      const theirs = new PytorchEval((status as { python: string }).python, resolveWeightsDir().dir, inp);
      await ours.setup();
      await theirs.setup();
      try {
        await ours.run();
        await theirs.run();
        const [a, b] = [await ours.result(), await theirs.result()];
        const rel = (x: number, y: number) => (x === y ? 0 : Math.abs(x - y) / Math.abs(y));
        const terms: Array<[string, number, number]> = [
          ['total', b.loss.total, a.loss.total],
          ['content', b.loss.content, a.loss.content],
          ['style', b.loss.style, a.loss.style],
          ['tv', b.loss.tv, a.loss.tv],
          ...Object.keys(a.loss.styleLayers).map((k) => [k, b.loss.styleLayers[k], a.loss.styleLayers[k]] as [string, number, number]),
        ];
        const g = relL2(b.grad, a.grad);
        console.log(`${preset} (${theirs.info}): ` + terms.map(([k, x, y]) => `${k} ${rel(x, y).toExponential(2)}`).join(', ') + `; gradient rel L2 ${g.toExponential(2)}`);
        for (const [k, x, y] of terms) if (y !== 0 || x !== 0) expect(rel(x, y), k).toBeLessThanOrEqual(PYTORCH_LOSS_RTOL);
        expect(g).toBeLessThan(1e-5); // measured 5e-7
      } finally {
        await ours.teardown();
        await theirs.teardown();
      }
    }, 300_000);
  }
});
