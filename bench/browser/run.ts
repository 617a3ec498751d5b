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
// --quick, else 600).

import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import { launchBrowser, openPage, REPO_ROOT, waitForDone } from '../../test/browser/harness.ts';
import { HELP, parseBenchArgs } from '../lib/options.ts';
import { formatResult } from '../lib/report.ts';
import { saveResults } from '../lib/results.ts';
import type { BenchPageState } from './page.ts';

const here = dirname(fileURLToPath(import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolvePort(a.port) : reject(new Error('no free port'))));
    });
  });
}

function limit<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2).filter((a) => a !== '--');
  const o = parseBenchArgs(argv); // validates the flags before starting anything
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const timeoutMs = (o.timeoutMin ?? (o.quick ? 30 : 600)) * 60_000;
  const port = await freePort();
  // vite.config.ts (data folders /weights/vgg19/, /images/) plus cross-origin isolation headers.
  const vite = await createServer({
    root: REPO_ROOT,
    configFile: join(REPO_ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    clearScreen: false,
    appType: 'mpa',
    server: {
      host: '127.0.0.1',
      port,
      strictPort: false,
      hmr: false,
      watch: null,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
  });
  await limit(vite.listen(), 60_000, 'vite dev server start');
  const address = vite.httpServer?.address();
  const url = `http://127.0.0.1:${address && typeof address === 'object' ? address.port : port}`;
  const browser = await launchBrowser();
  try {
    const opened = await openPage(browser, `${url}/bench/browser/index.html?args=${encodeURIComponent(JSON.stringify(argv))}`);
    opened.page.on('console', (m) => {
      const text = m.text();
      if (text.startsWith('[bench] ')) console.error(text.slice(8));
      else if (m.type() === 'error' || m.type() === 'warning') console.error(`[page ${m.type()}] ${text}`);
    });
    const state = await waitForDone<BenchPageState>(opened, '__bench', timeoutMs, 60_000);
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
    await limit(vite.close(), 15_000, 'vite dev server close').catch(() => {});
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench:browser failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
