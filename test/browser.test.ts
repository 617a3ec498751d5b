// Browser tests in headless Chromium (WebGPU through its bundled SwiftShader here): the
// kernel test page (test/browser/kernels.html: conv3x3 and pool2x2 vs their CPU references)
// and the app page (index.html). Any console error, uncaught exception or failed request
// fails the test. A missing Chromium fails the suite with instructions; it is never skipped.
// Server and browser: test/browser/harness.ts, started and closed by test/browser/suite.ts.
import { describe, expect, it } from 'vitest';
import { openPage, waitForDone } from './browser/harness.ts';
import { browserSuite } from './browser/suite.ts';
import type { KernelPageResults } from './browser/kernels.ts';

/** SwiftShader compiles each pipeline on the CPU: the whole kernel page takes seconds to a minute. */
const KERNEL_PAGE_LIMIT_MS = 180_000;

describe('browser (headless Chromium, WebGPU)', () => {
  const pages = browserSuite();

  it('kernel page: conv3x3 (every version) and pool2x2 max match the CPU references', async () => {
    const t0 = Date.now();
    const opened = await openPage(pages.browser, `${pages.url}/test/browser/kernels.html`);
    const { page, errors } = opened;
    try {
      const results = await waitForDone<KernelPageResults>(opened, '__results', KERNEL_PAGE_LIMIT_MS);
      const lines = results.cases.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.detail} (${c.ms.toFixed(0)} ms)`);
      console.log(
        `kernel page on ${results.adapter ?? '?'}: ${results.cases.length} cases in ${(results.totalMs / 1000).toFixed(1)} s ` +
          `(page load to done ${((Date.now() - t0) / 1000).toFixed(1)} s)\n${lines.join('\n')}`,
      );
      expect(results.error, 'the kernel page threw').toBeUndefined();
      expect(errors, 'console errors, page errors or failed requests').toEqual([]);
      expect(results.expected, 'the page reports how many cases it planned').toBeGreaterThanOrEqual(30);
      expect(results.cases.length).toBe(results.expected);
      const failed = results.cases.filter((c) => !c.ok).map((c) => c.detail);
      expect(failed, 'cases over tolerance').toEqual([]);
    } finally {
      await page.close();
    }
  }, KERNEL_PAGE_LIMIT_MS + 60_000);

  it('index page loads without console errors and reports "WebGPU available: yes"', async () => {
    const { page, errors } = await openPage(pages.browser, `${pages.url}/`);
    try {
      const status = page.locator('#status');
      await status.filter({ hasText: /WebGPU available: (yes|no)/ }).waitFor({ timeout: 60_000 });
      const text = (await status.textContent()) ?? '';
      console.log(`index page: ${text}`);
      expect(await page.title()).toBe('neural-style-webgpu');
      expect(text).toMatch(/^WebGPU available: yes/);
      expect(errors, 'console errors, page errors or failed requests').toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);
});
