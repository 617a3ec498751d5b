// The published package: `npm pack` (which runs the library build, src/package/build.ts), the
// tarball installed into a temporary folder, and the package used by name from there:
//   - README's embed (the script between the embed markers) type-checks with tsc against the
//     emitted declarations, and runs as a 32-row transfer of 2 iterations through the API;
//   - a consumer file using every entry point and the options type type-checks, and one with a
//     misspelt option does not;
//   - vite bundles a page that imports it (the "browser" condition) with no configuration: no
//     Node module left for the browser (pngjs is mapped to its browser build by the package's
//     "browser" field), the shaders built into the bundle;
//   - the tarball holds no tests, no benchmark results, no weights.
// Installed without the network: the tarball is unpacked into node_modules/neural-style-webgpu
// as npm lays it out, and the dependencies its package.json declares (only those) are linked
// from this checkout's node_modules, so a dependency missing from package.json fails here.

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveWeightsDir } from '../src/model/locate.ts';
import { REPO_ROOT } from './browser/harness.ts';
import { STARRY, TUBINGEN } from './cli_helpers.ts';

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The README's embed: the code block after the `<!-- embed: ... -->` marker. */
export function readmeEmbed(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const m = /<!-- embed: test\/package\.test\.ts -->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no embed block after <!-- embed: test/package.test.ts -->');
  return m[1];
}

describe('npm pack, installed elsewhere', () => {
  let dir = '';
  let app = '';
  let files: string[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ns-pack-'));
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    const info = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = info[0].files.map((f) => f.path);
    app = join(dir, 'app');
    const pkg = join(app, 'node_modules', 'neural-style-webgpu');
    mkdirSync(dirname(pkg), { recursive: true });
    execFileSync('tar', ['xzf', join(dir, info[0].filename), '-C', dir]);
    execFileSync('mv', [join(dir, 'package'), pkg]);
    const deps = Object.keys((JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    for (const d of [...deps, '@types/node']) {
      mkdirSync(dirname(join(app, 'node_modules', d)), { recursive: true });
      symlinkSync(join(REPO_ROOT, 'node_modules', d), join(app, 'node_modules', d));
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    // Two consumers: Node's own resolution (through "exports"), and a bundler's with every
    // declaration file checked too (skipLibCheck false; under NodeNext a dependency's own
    // declarations, wgpu-matrix's, fail that check, which is not ours to fix).
    const compilerOptions = { target: 'ES2022', lib: ['ES2022', 'DOM'], strict: true, noEmit: true, types: ['node'] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: true } }));
    writeFileSync(join(app, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'ESNext', moduleResolution: 'Bundler', skipLibCheck: false } }));
    copyFileSync(TUBINGEN, join(app, 'photo.jpg'));
    copyFileSync(STARRY, join(app, 'painting.jpg'));
  }, 400_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the tarball: the library, its declarations, the built-in shaders, the CLI; no tests, bench results or weights', () => {
    for (const f of ['lib/index.js', 'lib/index.d.ts', 'lib/index.browser.js', 'lib/gpu/shader_sources.js', 'src/cli/neural-style.mjs', 'shaders/conv3x3_forward_v1.wgsl', 'README.md', 'package.json']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^(test|bench)\/|\.(bin|h5|png|jpg)$|weights_manifest/.test(f))).toEqual([]);
    const shaders = readdirSync(join(REPO_ROOT, 'shaders')).filter((f) => f.endsWith('.wgsl'));
    const built = readFileSync(join(app, 'node_modules', 'neural-style-webgpu', 'lib', 'gpu', 'shader_sources.js'), 'utf8');
    for (const s of shaders) expect(built, s).toContain(JSON.stringify(s.replace(/\.wgsl$/, '')));
  });

  it("tsc type-checks README's embed and a consumer against the declarations; a wrong option fails", () => {
    const consumer = `import { acquireGpu, evaluateOnce, loadWeights, styleTransfer, type StyleTransferOptions, type TransferResult } from 'neural-style-webgpu';
const options: StyleTransferOptions = { content: 'a.jpg', style: ['b.jpg', new Uint8Array(4)], rows: 64, styleBlend: [1, 2], contentWeight: 1, tvWeight: 0, maxBufferMib: 64, preserveColors: 'histogram', optimizer: 'adam', learningRate: 2 };
export async function run(): Promise<TransferResult> {
  const gpu = await acquireGpu();
  const weights = await loadWeights('vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
  const once = await evaluateOnce(gpu, weights, { content: 'a.jpg', style: 'b.jpg', rows: 32 });
  const total: number = once.loss.total;
  const device: GPUDevice = gpu.device;
  void total, device;
  return styleTransfer(gpu, weights, options);
}
`;
    writeFileSync(join(app, 'embed.ts'), readmeEmbed());
    writeFileSync(join(app, 'consumer.ts'), consumer);
    for (const config of ['tsconfig.json', 'tsconfig.bundler.json']) {
      const ok = spawnSync(process.execPath, [TSC, '-p', config], { cwd: app, encoding: 'utf8', timeout: 180_000 });
      expect(ok.stdout + ok.stderr, config).toBe('');
      expect(ok.status, config).toBe(0);
    }
    writeFileSync(join(app, 'consumer.ts'), consumer.replace('contentWeight: 1', 'contentWieght: 1'));
    const bad = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8', timeout: 180_000 });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/consumer\.ts.*'contentWieght' does not exist in type 'StyleTransferOptions'/);
    rmSync(join(app, 'consumer.ts'));
  }, 300_000);

  it('a bundler (vite) builds a page that uses it, with no configuration', () => {
    writeFileSync(join(app, 'index.html'), '<!doctype html><html><body><script type="module" src="./page.js"></script></body></html>\n');
    writeFileSync(
      join(app, 'page.js'),
      "import { acquireGpu, loadWeights, styleTransfer } from 'neural-style-webgpu';\n" +
        "const gpu = await acquireGpu();\nconst weights = await loadWeights('vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');\n" +
        "const r = await styleTransfer(gpu, weights, { content: 'a.jpg', style: 'b.jpg', rows: 32, iterations: 1 });\nconsole.log(r.loss.total);\n",
    );
    const vite = join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    const r = spawnSync(process.execPath, [vite, 'build', '--outDir', 'page-dist'], { cwd: app, encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/externalized for browser compatibility|error/i);
    const bundle = readdirSync(join(app, 'page-dist', 'assets'))
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(app, 'page-dist', 'assets', f), 'utf8'))
      .join('\n');
    expect(bundle).toContain('@compute'); // WGSL text, built in
    expect(bundle).toContain('navigator'); // the browser's WebGPU
  }, 300_000);

  it("README's embed runs from the installed package: a 32-row transfer of 2 iterations", () => {
    writeFileSync(join(app, 'embed.mjs'), readmeEmbed());
    const r = spawnSync(process.execPath, ['embed.mjs', 'photo.jpg', 'painting.jpg', 'out.png', '32', '2'], {
      cwd: app,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, NEURAL_STYLE_WEIGHTS: resolveWeightsDir().dir },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/iteration 2: loss \d/);
    const png = readFileSync(join(app, 'out.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(42); // width: 1024x768 at 32 rows
    expect(png.readUInt32BE(20)).toBe(32);
  }, 300_000);
});
