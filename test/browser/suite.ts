// One describe block's page server and headless Chromium (harness.ts), for the browser test
// files: both start before the block's tests and close after them, Chromium first.
//
//   const pages = browserSuite({ webgpuCanvas: true });
//   it('...', async () => { const opened = await openPage(pages.browser, `${pages.url}/`); ... });
//
// The server is vite's dev server unless `serve` starts another (static_build.test.ts: vite
// preview over a build); `setupMs` bounds the start of both.
import { afterAll, beforeAll } from 'vitest';
import { type LaunchedBrowser, launchBrowser, startServer } from './harness.ts';

/** What serves the pages: its URL (no trailing slash) and how to stop it. */
export interface PageServer {
  url: string;
  close(): Promise<void>;
}

export interface BrowserSuite {
  /** the server's URL (set once the block's beforeAll has run) */
  readonly url: string;
  readonly browser: LaunchedBrowser;
}

export function browserSuite(options: { webgpuCanvas?: boolean; serve?: () => Promise<PageServer>; setupMs?: number } = {}): BrowserSuite {
  let server: PageServer | undefined;
  let browser: LaunchedBrowser | undefined;
  beforeAll(async () => {
    server = await (options.serve ?? startServer)();
    browser = await launchBrowser({ webgpuCanvas: options.webgpuCanvas });
  }, options.setupMs ?? 120_000);
  afterAll(async () => {
    try {
      await browser?.close();
    } finally {
      await server?.close();
    }
  }, 60_000);
  const started = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`the ${what} did not start (see the beforeAll error)`);
    return x;
  };
  return {
    get url() {
      return started(server, 'page server').url;
    },
    get browser() {
      return started(browser, 'browser');
    },
  };
}
