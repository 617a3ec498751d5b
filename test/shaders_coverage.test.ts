// Every shader in shaders/ has an entry in the kernel index (bench/kernel/catalogue.ts) naming its
// TS wrapper, CPU reference (src/ref/) and test, so a new kernel cannot land without them: this test
// fails when a .wgsl file has no entry, an entry names a file that does not exist, the generated
// table in shaders/README.md or the ShaderName union (src/gpu/shader_names.ts) is out of date
// (`npm run shaders:index` regenerates both), or `npm run kernel` has no case for a shader.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_CASES } from '../bench/kernel/cases.ts';
import { KERNEL_INDEX } from '../bench/kernel/catalogue.ts';
import { renderShaderNames, shaderFiles, withIndex } from '../bench/kernel/index_md.ts';
import { SHADER_NAMES } from '../src/gpu/shader_names.ts';

const root = new URL('..', import.meta.url);
const COMPOSITES = ['conv3x3_forward_v7', 'conv3x3_backward_v7', 'conv3x3_forward_v8', 'conv3x3_backward_v8', 'conv3x3_forward_v9', 'conv3x3_backward_v9']; // the Winograd versions: three shaders, no file of their own

/** The repository paths an entry field names ("path: what" or "path (...)"; several separated by ", " or "; "). */
function pathsIn(field: string): string[] {
  return [...field.matchAll(/(?:^|[\s(;,])((?:src|test|bench|shaders)\/[\w./-]+\.(?:ts|wgsl))/g)].map((m) => m[1]);
}

describe('every shader has a CPU reference, a test and an index entry', () => {
  const shaders = shaderFiles();
  it('the index lists exactly the files in shaders/ (and the Winograd conv versions, forward and backward)', () => {
    expect(KERNEL_INDEX.map((e) => e.name).sort()).toEqual([...shaders, ...COMPOSITES].sort());
  });
  it('ShaderName (src/gpu/shader_names.ts) lists exactly the files in shaders/ and is as generated', () => {
    expect([...SHADER_NAMES]).toEqual(shaders);
    expect(readFileSync(new URL('src/gpu/shader_names.ts', root), 'utf8')).toBe(renderShaderNames());
  });
  it('shaders/README.md carries the current generated index (npm run shaders:index)', () => {
    const readme = readFileSync(new URL('shaders/README.md', root), 'utf8');
    expect(readme).toBe(withIndex(readme));
  });
  it("every shader's name stands in a test file its entry names (a grep for the shader finds its test)", () => {
    const missing = KERNEL_INDEX.filter((e) => !COMPOSITES.includes(e.name))
      .filter((e) => !pathsIn(e.test).some((p) => p.startsWith('test/') && existsSync(new URL(p, root)) && readFileSync(new URL(p, root), 'utf8').includes(e.name)))
      .map((e) => `${e.name} (test: ${e.test})`);
    expect(missing).toEqual([]);
  });
  it('`npm run kernel` has a case for every index entry', () => {
    expect([...KERNEL_CASES.keys()].sort()).toEqual(KERNEL_INDEX.map((e) => e.name).sort());
  });
  for (const e of KERNEL_INDEX) {
    it(`${e.name}: header comment; its wrapper, reference and test exist`, () => {
      if (!COMPOSITES.includes(e.name)) {
        expect(readFileSync(new URL(`shaders/${e.name}.wgsl`, root), 'utf8').startsWith('//'), `${e.name}.wgsl opens with its header comment`).toBe(true);
      }
      const [wrapper, ref, test] = [pathsIn(e.wrapper), pathsIn(e.ref), pathsIn(e.test)];
      expect(wrapper[0], `${e.name} wrapper`).toMatch(/^src\/(kernels|optim|web)\//);
      expect(ref[0], `${e.name} reference`).toMatch(/^src\/ref\//);
      expect(test[0], `${e.name} test`).toMatch(/^test\//);
      for (const p of [...wrapper, ...ref, ...test, ...pathsIn(e.model)]) expect(existsSync(new URL(p, root)), p).toBe(true);
      // the function the wrapper and the reference name is in that file
      for (const field of [e.wrapper, e.ref]) {
        const m = /^([\w./]+\.ts): (\w+)/.exec(field);
        if (m) expect(readFileSync(new URL(m[1], root), 'utf8'), `${m[2]} in ${m[1]}`).toMatch(new RegExp(`\\b${m[2]}\\b`));
      }
      // the test title it names is in that test file
      const title = /^test\/[\w.]+: "([^"]+)"/.exec(e.test);
      if (title) expect(readFileSync(new URL(test[0], root), 'utf8'), `"${title[1]}" in ${test[0]}`).toContain(title[1].replace(/ on \d+ values$/, ' on '));
    });
  }
});
