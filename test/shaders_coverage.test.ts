// Every shader in shaders/ is named here with the test file that checks it against its CPU
// reference (src/ref/), so a new kernel cannot land without one: this test fails when a .wgsl
// file is missing from the table, or the table names a file or a test that does not exist.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SHADER_NAMES } from '../src/gpu/shader_names.ts';

const COVERED: Record<string, { test: string; ref: string }> = {
  conv3x3_forward_v1: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_forward_v2: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_forward_v3: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_forward_v5: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_backward_v1: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_backward_v2: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_backward_v3: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_backward_v4: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_backward_v5: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  conv3x3_backward_v6: { test: 'kernels.test.ts', ref: 'conv3x3.ts' },
  relu_backward: { test: 'kernels.test.ts', ref: 'elementwise.ts' },
  relu_backward_vec4: { test: 'kernels.test.ts', ref: 'elementwise.ts' },
  pool2x2_forward: { test: 'kernels.test.ts', ref: 'pool2x2.ts' },
  pool2x2_backward: { test: 'kernels.test.ts', ref: 'pool2x2.ts' },
  conv3x3_winograd_gemm_v7: { test: 'kernels.test.ts', ref: 'matmul.ts' },
  conv3x3_winograd_input_v7: { test: 'kernels.test.ts', ref: 'winograd.ts' },
  conv3x3_winograd_output_v7: { test: 'kernels.test.ts', ref: 'winograd.ts' }, // runs inside conv3x3 v7
  gram_forward: { test: 'style_kernels.test.ts', ref: 'gram.ts' },
  gram_reduce: { test: 'style_kernels.test.ts', ref: 'gram.ts' }, // runs inside gramForward
  gram_backward: { test: 'style_kernels.test.ts', ref: 'gram.ts' },
  style_loss: { test: 'style_kernels.test.ts', ref: 'gram.ts' },
  content_loss: { test: 'style_kernels.test.ts', ref: 'gram.ts' },
  tv_loss: { test: 'style_kernels.test.ts', ref: 'gram.ts' },
  reduce_sum: { test: 'style_kernels.test.ts', ref: 'gram.ts' }, // every loss op ends with it
  vec_axpy: { test: 'optim.test.ts', ref: 'vec.ts' },
  vec_scale_copy: { test: 'optim.test.ts', ref: 'vec.ts' },
  vec_dot: { test: 'optim.test.ts', ref: 'vec.ts' },
  vec_dot_finish: { test: 'optim.test.ts', ref: 'vec.ts' },
  vec_adam: { test: 'optim.test.ts', ref: 'vec.ts' },
  display_caffe: { test: 'web.test.ts', ref: 'display.ts' },
  mask_apply: { test: 'masks.test.ts', ref: 'mask.ts' },
};

const root = new URL('..', import.meta.url);

describe('every shader has a CPU reference and a test', () => {
  const shaders = readdirSync(new URL('shaders/', root)).filter((f) => f.endsWith('.wgsl')).map((f) => f.slice(0, -5));
  it('the table lists exactly the files in shaders/', () => {
    expect(Object.keys(COVERED).sort()).toEqual([...shaders].sort());
  });
  it('ShaderName (src/gpu/shader_names.ts) lists exactly the files in shaders/ (npm run shaders:index regenerates it)', () => {
    expect([...SHADER_NAMES]).toEqual([...shaders].sort());
  });
  for (const [name, { test, ref }] of Object.entries(COVERED)) {
    it(`${name}: header comment, ${ref} and ${test} exist`, () => {
      expect(readFileSync(new URL(`shaders/${name}.wgsl`, root), 'utf8').startsWith('//'), `${name}.wgsl opens with its header comment`).toBe(true);
      expect(existsSync(new URL(`src/ref/${ref}`, root)), `src/ref/${ref}`).toBe(true);
      expect(existsSync(new URL(`test/${test}`, root)), `test/${test}`).toBe(true);
    });
  }
});
