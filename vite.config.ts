// Vite configuration for the page (index.html) and the browser tests (test/browser/).
// vitest has its own configuration (vitest.config.ts); this file is only for `vite`,
// `vite build` and the dev server that test/browser/harness.ts starts.
//
// - pngjs: its package entry needs Node's zlib/stream; pngjs/browser.js is its self-contained
//   browser bundle (src/image/decode.ts imports 'pngjs').
// - Shaders: src/gpu/shaders.ts addresses shaders/<name>.wgsl with
//   `new URL(`../../shaders/${name}.wgsl`, import.meta.url)`; vite turns that into an
//   import.meta.glob of ?url imports, so every .wgsl is served in dev and emitted by build.
// - Data folders (dev and preview servers only, read on the Node side):
//     /weights/vgg19/<file>  the folder src/model/locate.ts resolveWeightsDir() finds
//                            (NEURAL_STYLE_WEIGHTS, weights/vgg19/, ../shared/vgg19/)
//     /images/<file>         the folder resolveImagesDir() finds (NEURAL_STYLE_IMAGES, ../shared/images/)
//   A folder that cannot be resolved answers 404 with locate.ts's explanation as the body.
//   Only the file types the page reads are served (weights: .json, .bin, SHA256SUMS; images: .jpg,
//   .jpeg, .png), never a dotfile or a `..`, and only files whose real path stays inside the folder
//   (a symlink out of it is 403); see serveFolder.
//   `vite build` does not copy them: a deployed page gets its weights from wherever it is hosted.
// - base './': the built page (dist/) refers to its assets relatively, so any static host
//   serves it from any folder; it looks for weights/vgg19/ beside itself (src/web/weights.ts).

import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { defineConfig, type Connect, type Plugin } from 'vite';
import { REPO_ROOT, resolveImagesDir, resolveWeightsDir } from './src/model/locate.ts';

/**
 * What each data folder serves: only what the page reads from it, by extension (the manifest,
 * the shards, the images) or by exact name (SHA256SUMS, which the page verifies the shards with).
 */
const WEIGHT_TYPES: Record<string, string> = { '.json': 'application/json', '.bin': 'application/octet-stream', SHA256SUMS: 'text/plain; charset=utf-8' };
const IMAGE_TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png' };

/**
 * A middleware serving files of the folder `findDir()` returns under the URL prefix `prefix`
 * (ending in '/'), and nothing else: only the extensions (or exact file names) in `types` (else 403), never a dotfile
 * or a path with a segment starting with '.' (403: `..` included, so no traversal), and only
 * files whose real path (symlinks resolved) lies inside the folder's real path (403); a file
 * that is not there is 404.
 */
export function serveFolder(prefix: string, findDir: () => string, types: Record<string, string>): Connect.NextHandleFunction {
  return (req: IncomingMessage, res: ServerResponse, next: Connect.NextFunction) => {
    const url = req.url ?? '';
    if (!url.startsWith(prefix) || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    const fail = (status: number, message: string) => {
      res.statusCode = status;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`${message}\n`);
    };
    let dir: string;
    try {
      dir = findDir(); // resolved per request: cheap, and a folder added later is picked up
    } catch (e) {
      return fail(404, (e as Error).message);
    }
    let rel: string;
    try {
      rel = decodeURIComponent(url.slice(prefix.length).split(/[?#]/)[0]);
    } catch {
      return fail(400, `bad URL ${url}`);
    }
    const segments = rel.split(/[\\/]/);
    if (rel === '' || rel.includes('\0') || segments.some((p) => p === '' || p.startsWith('.'))) {
      return fail(403, `${url}: only plain file names are served here (no dotfiles, no '..')`);
    }
    const type = types[extname(rel).toLowerCase()] ?? types[rel.split('/').pop()!];
    if (!type) return fail(403, `${url}: ${prefix} serves only ${Object.keys(types).join(', ')} files`);
    let file: string;
    let size: number;
    try {
      const realDir = realpathSync(dir);
      file = realpathSync(resolve(dir, rel)); // symlinks resolved
      if (!file.startsWith(realDir + sep)) return fail(403, `${url}: not a file in ${dir}`);
      const st = statSync(file);
      if (!st.isFile()) return fail(404, `${url}: not a file`);
      size = st.size;
    } catch {
      return fail(404, `${url}: file not found in ${dir}`);
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', String(size));
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (req.method === 'HEAD') return res.end();
    createReadStream(file)
      .on('error', (e) => res.destroy(e))
      .pipe(res);
  };
}

/** Serves the weights and example images folders (see the header) in `vite` and `vite preview`. */
function dataFolders(): Plugin {
  const install = (middlewares: Connect.Server) => {
    middlewares.use(serveFolder('/weights/vgg19/', () => resolveWeightsDir().dir, WEIGHT_TYPES));
    middlewares.use(serveFolder('/images/', () => resolveImagesDir().dir, IMAGE_TYPES));
  };
  return {
    name: 'neural-style-data-folders',
    configureServer: (server) => install(server.middlewares), // before vite's own middlewares
    configurePreviewServer: (server) => install(server.middlewares),
  };
}

/** The parts of the checkout the page and the browser tests load (node_modules also by its real path: it may be a symlink). */
const PAGE_PATHS = ['index.html', 'src', 'shaders', 'test', 'bench', 'node_modules'].map((p) => resolve(REPO_ROOT, p));
try {
  PAGE_PATHS.push(realpathSync(resolve(REPO_ROOT, 'node_modules')));
} catch {
  // no node_modules: nothing to add
}

export default defineConfig({
  root: REPO_ROOT,
  base: './',
  plugins: [dataFolders()],
  resolve: {
    alias: [{ find: /^pngjs$/, replacement: 'pngjs/browser.js' }],
  },
  server: {
    // What the dev server may serve besides the two data folders above (which it does not reach:
    // their middleware answers first): the page, its code and shaders, the browser tests' and
    // benchmark's pages with the code they import (test/, bench/), and the dependencies; no
    // longer ../shared through /@fs/ (nothing used it). Nothing else of the checkout (package.json,
    // README, weights/, .git, dotfiles) and nothing outside it, so `vite --host` exposes only
    // these. strict (vite's default, stated): a file outside `allow` is 403 unless the page
    // imports it; `deny` wins over `allow`: dotfiles, .git, keys and certificates.
    fs: {
      strict: true,
      allow: PAGE_PATHS,
      deny: ['.env', '.env.*', '*.{crt,pem,key}', '**/.git/**', '**/.*'],
    },
  },
  build: {
    target: 'es2022',
    // h5wasm's chunk (4.8 MB: HDF5 compiled to wasm, embedded) is fetched only for .h5 weights.
    chunkSizeWarningLimit: 5000,
  },
});
