// npm run bench:browser [-- the same options as npm run bench]
//
// Runs the benchmark suite in headless Chromium (Debian's /usr/bin/chromium, WebGPU through its
// bundled SwiftShader here) and prints the same tables as `npm run bench`. The page is
// bench/browser/index.html on a vite dev server that sends COOP/COEP headers, so the page is
// cross-origin isolated and tfjs-wasm can use threads there (it cannot in Node). Progress lines
// from the page are echoed to stderr. Results: bench/results/bench-browser-<date>.json (not
// latest.json, which is the Node run's).
//
// Chromium, its flags and its clean shutdown come from test/browser/harness.ts. Every wait has a
// time limit (SwiftShader has no GPU watchdog): --timeout MIN for the whole page (default 30 in
// --quick, else 600). tfjs-cpu/wasm block the page's main thread while an op runs, so a single
// read of the page's state may take minutes (up to 30).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, limit, type OpenedPage, openPage, startServer } from '../../test/browser/harness.ts';
import { HELP, parseBenchArgs } from '../lib/options.ts';
import { formatResult } from '../lib/report.ts';
import { saveResults } from '../lib/results.ts';
import type { BenchPageState } from './page.ts';

const here = dirname(fileURLToPath(import.meta.url));


/**
 * Polls window.__bench until done. Unlike the harness's waitForDone (30 s per read), a read may
 * take many minutes: tfjs-cpu and tfjs-wasm run synchronously on the page's main thread, which
 * cannot answer until the op returns. Page errors end the wait after a grace period.
 */
async function waitForBench(opened: OpenedPage, timeoutMs: number): Promise<BenchPageState> {
  const start = Date.now();
  let firstErrorAt = 0;
  for (;;) {
    const left = timeoutMs - (Date.now() - start);
    if (left <= 0) throw new Error(`the benchmark page did not finish in ${timeoutMs / 60_000} min`);
    const state = await limit(
      opened.page.evaluate(() => (globalThis as unknown as { __bench?: BenchPageState }).__bench),
      Math.min(left, 30 * 60_000),
      'reading window.__bench (the page main thread is busy)',
    );
    if (state?.done) return state;
    if (opened.errors.length && !firstErrorAt) firstErrorAt = Date.now();
    if (firstErrorAt && Date.now() - firstErrorAt > 60_000) throw new Error(`the page reported errors:\n${opened.errors.join('\n')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2).filter((a) => a !== '--');
  const o = parseBenchArgs(argv); // validates the flags before starting anything
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const timeoutMs = (o.timeoutMin ?? (o.quick ? 30 : 600)) * 60_000;
  // vite.config.ts (data folders /weights/vgg19/, /images/) plus cross-origin isolation headers.
  const server = await startServer({ headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } });
  const url = server.url;
  const browser = await launchBrowser();
  try {
    const opened = await openPage(browser, `${url}/bench/browser/index.html?args=${encodeURIComponent(JSON.stringify(argv))}`);
    opened.page.on('console', (m) => {
      const text = m.text();
      if (text.startsWith('[bench] ')) console.error(text.slice(8));
      else if (m.type() === 'error' || m.type() === 'warning') console.error(`[page ${m.type()}] ${text}`);
    });
    const state = await waitForBench(opened, timeoutMs);
    if (state.error || !state.result) {
      console.error(`bench:browser: the page failed: ${state.error ?? 'no result'}`);
      return 1;
    }
    if (opened.errors.length) console.error(`page errors:\n  ${opened.errors.join('\n  ')}`);
    const result = state.result;
    console.log(`\n${formatResult(result)}`);
    const files = saveResults(result, o.out ?? join(here, '..', 'results'), { updateLatest: false, prefix: 'bench-browser' });
    console.log(`\nresults: ${files.join(', ')}; ${result.seconds.toFixed(0)} s`);
    return opened.errors.length ? 1 : 0;
  } finally {
    await browser.close();
    await server.close().catch(() => {});
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench:browser failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
