// The static build: `vite build` (what `npm run build` runs) into a temporary folder, served by
// `vite preview` (the project's vite.config.ts: base './', and the weights and images folders
// at /weights/vgg19/ and /images/), opened in headless Chromium (WebGPU on SwiftShader):
//   - ?weights=<the served pack's URL>: the page starts without console errors and runs one
//     L-BFGS iteration of the example pair at 32 rows;
//   - ?weights=<an .h5 beside the page> (the real pack written as the Keras download would hold
//     it, into the built folder): the same run gives the same loss, through h5wasm in the
//     browser (its chunk is loaded only then).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview } from 'vite';
import { describe, expect, it } from 'vitest';
import { loadVgg19WeightsFromDir } from '../src/model/locate.ts';
import { VGG19_LAYERS } from '../src/model/vgg19_layers.ts';
import type { AppStatus } from '../src/web/run_state.ts';
import { freePort, limit, openPage, type OpenedPage, REPO_ROOT } from './browser/harness.ts';
import { browserSuite, type PageServer } from './browser/suite.ts';
import { type FixtureLayer, writeKerasH5 } from './keras_h5_fixture.ts';

const status = (o: OpenedPage) => o.page.evaluate(() => window.__app!.status());

async function runOnce(o: OpenedPage): Promise<AppStatus> {
  await o.page.waitForFunction(() => !!window.__app, null, { timeout: 60_000 });
  await o.page.waitForFunction(() => window.__app!.status().state === 'idle', null, { timeout: 60_000 });
  await o.page.click('[data-testid=example]');
  await o.page.locator('#content-caption', { hasText: 'tubingen.jpg' }).waitFor({ timeout: 60_000 });
  await o.page.locator('#style-caption', { hasText: 'starry_night.jpg' }).waitFor({ timeout: 60_000 });
  await o.page.click('[data-testid=start]');
  const t0 = Date.now();
  for (;;) {
    const s = await status(o);
    if (s.state === 'done') return s;
    if (s.state === 'failed' || o.errors.length) throw new Error(`the run failed: ${JSON.stringify(s.messages)} ${o.errors.join('\n')}`);
    if (Date.now() - t0 > 400_000) throw new Error(`no result after 400 s: state ${s.state}, phases ${JSON.stringify(s.phases)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('static build (vite build, vite preview) in headless Chromium', () => {
  // The built page in a temporary folder, with an .h5 beside it, served by vite preview.
  async function serveBuild(): Promise<PageServer> {
    const outDir = mkdtempSync(join(tmpdir(), 'ns-dist-'));
    const removeOutDir = () => rmSync(outDir, { recursive: true, force: true });
    try {
      await limit(build({ root: REPO_ROOT, configFile: join(REPO_ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } }), 300_000, 'vite build');
      const pack = await loadVgg19WeightsFromDir();
      const layers: Record<string, FixtureLayer> = {};
      for (const l of VGG19_LAYERS) {
        const { kernel, bias } = pack.layers.get(l.name)!;
        layers[l.name] = { kernel, kernelShape: [3, 3, l.cin, l.cout], bias, biasShape: [l.cout] };
      }
      writeFileSync(join(outDir, 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'), (await writeKerasH5({ style: 'download', layers })).bytes);
      const port = await freePort();
      const server = await preview({ root: REPO_ROOT, configFile: join(REPO_ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port, strictPort: false } });
      return {
        url: server.resolvedUrls!.local[0].replace(/\/$/, ''),
        async close() {
          try {
            await server.close();
          } finally {
            removeOutDir();
          }
        },
      };
    } catch (e) {
      removeOutDir();
      throw e;
    }
  }
  const pages = browserSuite({ webgpuCanvas: true, serve: serveBuild, setupMs: 400_000 });

  let packLoss = 0;
  it('?weights= the served pack: no console errors, one iteration at 32 rows', async () => {
    const url = pages.url;
    const opened = await openPage(pages.browser, `${url}/?weights=${encodeURIComponent(`${url}/weights/vgg19/`)}&rows=32&iterations=1`);
    try {
      const s = await runOnce(opened);
      expect(s.iteration).toBe(1);
      expect(s.rows).toBe(32);
      expect(Number.isFinite(s.loss)).toBe(true);
      packLoss = s.loss!;
      expect(opened.errors, 'console errors, page errors or failed requests').toEqual([]);
    } finally {
      await opened.page.close();
    }
  }, 600_000);

  it('?weights= a Keras .h5 beside the page: the same loss', async () => {
    const opened = await openPage(pages.browser, `${pages.url}/?weights=vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5&rows=32&iterations=1`);
    try {
      const s = await runOnce(opened);
      expect(s.iteration).toBe(1);
      expect(s.loss! / packLoss).toBeCloseTo(1, 5);
      expect(opened.errors, 'console errors, page errors or failed requests').toEqual([]);
    } finally {
      await opened.page.close();
    }
  }, 600_000);
});
