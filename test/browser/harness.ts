// Browser-test harness (Node side): a vite dev server over the project and headless Chromium
// with WebGPU, both with time limits and a clean shutdown.
//
//   const server = await startServer();          // http://127.0.0.1:<free port>
//   const browser = await launchBrowser();
//   try {
//     const opened = await openPage(browser, `${server.url}/test/browser/kernels.html`);
//     const results = await waitForDone<Results>(opened, '__results', 180_000);
//     expect(opened.errors).toEqual([]);   // console errors, page errors, failed requests
//   } finally { await browser.close(); await server.close(); }
//
// Chromium: Debian's /usr/bin/chromium (override with CHROMIUM_PATH), never a downloaded one.
// Headless Chromium 156 exposes WebGPU through its bundled SwiftShader with only
// --enable-unsafe-webgpu (the page must be a secure context: http://127.0.0.1 is one,
// about:blank and data: URLs are not). Extra flags: NEURAL_STYLE_CHROMIUM_ARGS (space-separated).
// SwiftShader has no GPU watchdog: every wait here has a time limit.
//
// WebGPU canvases (the app page draws into one): with only the flags above, headless Chromium
// without a GPU cannot create the canvas's swap-chain image ("Could not find
// SharedImageBackingFactory ... WebgpuSwapChainTexture") and destroys the WebGPU device at the
// first present. launchBrowser({ webgpuCanvas: true }) adds WEBGPU_CANVAS_ARGS, which run the
// compositor on SwiftShader's Vulkan (ANGLE on SwiftShader as well), where it works. A WebGPU
// canvas reads back (drawImage, toDataURL) only in the task that drew it; once the frame is
// presented it reads as transparent black, as a WebGL canvas without preserveDrawingBuffer.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

/** The project root (two folders above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The Chromium flags the tests use (see the header). */
export function chromiumArgs(): string[] {
  return [
    '--enable-unsafe-webgpu',
    ...(isRoot ? ['--no-sandbox'] : []), // Chromium refuses to run as root with its sandbox
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    ...(process.env.NEURAL_STYLE_CHROMIUM_ARGS ?? '').split(/\s+/).filter(Boolean),
  ];
}

/**
 * Extra flags for pages that draw into a WebGPU canvas (see the header). Note: Chromium keeps
 * only the last --enable-features, so this replaces Playwright's own list (screenshot helpers).
 */
export const WEBGPU_CANVAS_ARGS = ['--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader'];

/** Rejects after ms unless p settles first; the timer never keeps the process alive. */
export function limit<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    timer.unref?.();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * A port the OS reports free on 127.0.0.1 (vite treats port 0 as "default 5173"; should another
 * process take this one first, vite's strictPort: false moves on to the next).
 */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (address && typeof address === 'object' ? resolvePort(address.port) : reject(new Error('no free port'))));
    });
  });
}

export interface DevServer {
  /** e.g. http://127.0.0.1:41235 (no trailing slash) */
  url: string;
  vite: ViteDevServer;
  close(): Promise<void>;
}

/**
 * Starts vite's dev server (vite.config.ts) on 127.0.0.1 and a free port; pages are served as
 * in `vite` dev mode (/test/browser/kernels.html, /shaders/*.wgsl, /weights/vgg19/*). No HMR,
 * no file watching. `headers` are added to every response (bench:browser: cross-origin isolation).
 */
export async function startServer(options: { port?: number; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  const vite = await createServer({
    root: REPO_ROOT,
    configFile: join(REPO_ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    clearScreen: false,
    // 'mpa': a mistyped page URL is a 404 (which fails the test), not index.html (the SPA fallback)
    appType: 'mpa',
    server: { host: '127.0.0.1', port, strictPort: false, hmr: false, watch: null, open: false, headers: options.headers },
  });
  try {
    await limit(vite.listen(), options.timeoutMs ?? 60_000, 'vite dev server start');
  } catch (e) {
    await limit(vite.close(), 10_000, 'vite dev server close').catch(() => {});
    throw e;
  }
  const address = vite.httpServer?.address();
  if (!address || typeof address === 'string') {
    await vite.close();
    throw new Error(`vite dev server: unexpected address ${JSON.stringify(address)}`);
  }
  const url = `http://127.0.0.1:${address.port}`;
  let closed = false;
  return {
    url,
    vite,
    async close() {
      if (closed) return;
      closed = true;
      await limit(vite.close(), 15_000, 'vite dev server close');
    },
  };
}

export interface LaunchedBrowser {
  context: BrowserContext;
  /** the fresh profile folder (deleted by close) */
  userDataDir: string;
  close(): Promise<void>;
}

/**
 * Process ids whose command line mentions `marker`, with all their descendants (Linux /proc;
 * [] elsewhere). Chromium's zygote, GPU and renderer processes are children of the browser
 * process, whose command line holds the unique profile folder.
 */
function pidsMentioning(marker: string): number[] {
  if (!existsSync('/proc')) return [];
  const parent = new Map<number, number>();
  const roots = new Set<number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) roots.add(pid);
    } catch {
      // the process ended meanwhile
    }
  }
  const found = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!found.has(pid) && found.has(ppid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found];
}

/** SIGKILLs the processes of one Chromium profile (found by its unique folder), and only those. */
function killProfileProcesses(userDataDir: string): void {
  for (const pid of pidsMentioning(userDataDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Launches headless Chromium with WebGPU (chromiumArgs(), plus WEBGPU_CANVAS_ARGS with
 * webgpuCanvas) and a fresh profile folder.
 * Throws a clear error when Chromium is missing (the tests must fail, not skip).
 */
export async function launchBrowser(options: { extraArgs?: string[]; timeoutMs?: number; webgpuCanvas?: boolean } = {}): Promise<LaunchedBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the browser tests need Debian's chromium package. ` +
        'Run `bash .ci/setup-system.sh` (as root or with sudo) to install it, or set CHROMIUM_PATH to a Chromium/Chrome binary.',
    );
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'neural-style-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...chromiumArgs(), ...(options.webgpuCanvas ? WEBGPU_CANVAS_ARGS : []), ...(options.extraArgs ?? [])],
      timeout: options.timeoutMs ?? 60_000,
    });
  } catch (e) {
    killProfileProcesses(userDataDir);
    rmSync(userDataDir, { recursive: true, force: true });
    throw new Error(`cannot launch ${CHROMIUM_PATH} (flags ${chromiumArgs().join(' ')}): ${(e as Error).message}`);
  }
  let closed = false;
  return {
    context,
    userDataDir,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await limit(context.close(), 20_000, 'Chromium close');
      } catch (e) {
        // A renderer stuck in a shader: kill the processes of this profile (and only those).
        console.warn(`${(e as Error).message}; killing the Chromium processes of ${userDataDir}`);
        killProfileProcesses(userDataDir);
      } finally {
        rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3, retryDelay: 200 });
      }
    },
  };
}

export interface OpenedPage {
  page: Page;
  /** console errors, uncaught exceptions, crashes and failed requests, as they happen */
  errors: string[];
  /** every console message, "type: text" */
  consoleLines: string[];
}

/**
 * Opens `url` in a new tab, recording every console error, page error and failed request.
 * `initScript` runs in the page before its own scripts (e.g. to remove navigator.gpu);
 * `viewport` sets the tab's size before loading.
 */
export async function openPage(
  browser: LaunchedBrowser,
  url: string,
  options: { timeoutMs?: number; initScript?: () => void; viewport?: { width: number; height: number } } = {},
): Promise<OpenedPage> {
  const page = await browser.context.newPage();
  if (options.viewport) await page.setViewportSize(options.viewport);
  if (options.initScript) await page.addInitScript(options.initScript);
  const errors: string[] = [];
  const consoleLines: string[] = [];
  page.on('console', (m) => {
    const loc = m.location();
    const where = loc.url ? ` (${loc.url}:${loc.lineNumber})` : '';
    consoleLines.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') errors.push(`console error: ${m.text()}${where}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('crash', () => errors.push('page crashed'));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  try {
    await page.goto(url, { timeout: options.timeoutMs ?? 60_000, waitUntil: 'load' });
  } catch (e) {
    await page.close().catch(() => {});
    throw new Error(`cannot open ${url}: ${(e as Error).message}${errors.length ? `\n${errors.join('\n')}` : ''}`);
  }
  return { page, errors, consoleLines };
}

/**
 * Waits until the page's `window[name]` has `done: true` and returns it. Fails after
 * timeoutMs, or graceMs after the first recorded error (a page whose module failed to load
 * never finishes: no need to wait the whole limit for that).
 */
export async function waitForDone<T>(opened: OpenedPage, name: string, timeoutMs: number, graceMs = 10_000): Promise<T> {
  const start = Date.now();
  let firstErrorAt = 0;
  for (;;) {
    const value = await limit(
      opened.page.evaluate((n) => (globalThis as unknown as Record<string, { done?: boolean } | undefined>)[n], name),
      30_000,
      `reading window.${name}`,
    );
    if (value?.done === true) return value as T;
    const now = Date.now();
    if (opened.errors.length && !firstErrorAt) firstErrorAt = now;
    if (firstErrorAt && now - firstErrorAt > graceMs) {
      throw new Error(`window.${name} not done ${graceMs} ms after the page reported errors:\n${opened.errors.join('\n')}`);
    }
    if (now - start > timeoutMs) {
      throw new Error(`window.${name} not done after ${timeoutMs} ms${opened.errors.length ? `; page errors:\n${opened.errors.join('\n')}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
