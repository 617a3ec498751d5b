// The runtime does not import the test oracle, and the oracle does not lean on the runtime:
//   1. no file under src/ outside src/ref/ imports anything from src/ref/ (the CPU references
//      exist to check the kernels; the weight transforms the model needs live in
//      src/model/conv_weights.ts, the page's display check returns pixels for the test to compare);
//   2. a file in src/ref/ imports values only from src/ref/ and from the two modules that define
//      the problem rather than compute it: the VGG19 layer table (src/model/vgg19_layers.ts) and
//      the loss settings and presets (src/style/config.ts). Type-only imports are free (erased).
// test/ and bench/ may import src/ref/: the tests compare against it, and `npm run kernel`
// (bench/kernel/) and the benchmark's error columns validate against it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const DEFINITIONS = ['src/model/vgg19_layers.ts', 'src/style/config.ts'];

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((f) => {
    const p = join(dir, f);
    return statSync(join(root, p)).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The relative imports of a file: target path from the repository root, and whether only types come in. */
export function importsOf(file: string, text = readFileSync(join(root, file), 'utf8')): Array<{ target: string; typeOnly: boolean }> {
  const out: Array<{ target: string; typeOnly: boolean }> = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (spec.startsWith('.')) out.push({ target: normalize(relative(root, join(root, dirname(file), spec))).replaceAll('\\', '/'), typeOnly });
  };
  // static imports and re-exports, over several lines: import [type] {...} from '...'; export {...} from '...'
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gms)) {
    const names = m[3].replace(/^\{|\}$/g, '').split(',').map((s) => s.trim()).filter(Boolean);
    add(m[4], Boolean(m[2]) || (names.length > 0 && m[3].startsWith('{') && names.every((n) => n.startsWith('type '))));
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) add(m[1], false); // side-effect imports
  for (const m of text.matchAll(/import\(\s*(?:\/\*.*?\*\/\s*)?['"]([^'"]+)['"]\s*\)/g)) add(m[1], false); // dynamic imports
  return out;
}

describe('the runtime does not import the test oracle (src/ref/)', () => {
  it('the import scan sees value, type-only, multi-line, re-export and dynamic imports', () => {
    const text = [
      "import { a } from '../ref/a.ts';",
      "import type { B } from '../ref/b.ts';",
      "import { type C, type D } from '../ref/c.ts';",
      'import {\n  e,\n  type F,\n} from "../ref/e.ts";',
      "export { g } from './g.ts';",
      "const h = await import('../ref/h.ts');",
      "import 'node:fs';",
    ].join('\n');
    expect(importsOf('src/kernels/x.ts', text)).toEqual([
      { target: 'src/ref/a.ts', typeOnly: false },
      { target: 'src/ref/b.ts', typeOnly: true },
      { target: 'src/ref/c.ts', typeOnly: true },
      { target: 'src/ref/e.ts', typeOnly: false },
      { target: 'src/kernels/g.ts', typeOnly: false },
      { target: 'src/ref/h.ts', typeOnly: false },
    ]);
  });

  it('no file under src/ outside src/ref/ imports src/ref/', () => {
    const offenders = tsFiles('src')
      .filter((f) => !f.startsWith('src/ref/'))
      .flatMap((f) => importsOf(f).filter((i) => i.target.startsWith('src/ref/')).map((i) => `${f} imports ${i.target}`));
    expect(offenders).toEqual([]);
  });

  it('src/ref/ takes values only from src/ref/ and the problem definitions (layer table, loss settings)', () => {
    const allowed = (t: string) => t.startsWith('src/ref/') || DEFINITIONS.includes(t);
    const files = [...tsFiles('src/ref'), ...DEFINITIONS];
    const offenders = files.flatMap((f) => importsOf(f).filter((i) => !i.typeOnly && !allowed(i.target)).map((i) => `${f} imports ${i.target}`));
    expect(offenders).toEqual([]);
  });
});
