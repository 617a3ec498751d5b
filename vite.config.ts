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
//   `vite build` does not copy them: a deployed page gets its weights from wherever it is hosted.
// - base './': the built page (dist/) refers to its assets relatively, so any static host
//   serves it from any folder; it looks for weights/vgg19/ beside itself (src/web/weights.ts).

import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { defineConfig, type Connect, type Plugin } from 'vite';
import { REPO_ROOT, resolveImagesDir, resolveWeightsDir } from './src/model/locate.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.md': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** A middleware serving the files of the folder `findDir()` returns under the URL prefix `prefix` (ending in '/'). */
function serveFolder(prefix: string, findDir: () => string): Connect.NextHandleFunction {
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
    const file = resolve(dir, rel);
    if (rel === '' || rel.includes('\0') || !file.startsWith(dir + sep)) return fail(404, `${url}: not a file in ${dir}`);
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return fail(404, `${file}: not a file`);
      size = st.size;
    } catch {
      return fail(404, `${file}: file not found`);
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
    res.setHeader('Content-Length', String(size));
    res.setHeader('Cache-Control', 'no-cache');
    if (req.method === 'HEAD') return res.end();
    createReadStream(file)
      .on('error', (e) => res.destroy(e))
      .pipe(res);
  };
}

/** Serves the weights and example images folders (see the header) in `vite` and `vite preview`. */
function dataFolders(): Plugin {
  const install = (middlewares: Connect.Server) => {
    middlewares.use(serveFolder('/weights/vgg19/', () => resolveWeightsDir().dir));
    middlewares.use(serveFolder('/images/', () => resolveImagesDir().dir));
  };
  return {
    name: 'neural-style-data-folders',
    configureServer: (server) => install(server.middlewares), // before vite's own middlewares
    configurePreviewServer: (server) => install(server.middlewares),
  };
}

export default defineConfig({
  root: REPO_ROOT,
  base: './',
  plugins: [dataFolders()],
  resolve: {
    alias: [{ find: /^pngjs$/, replacement: 'pngjs/browser.js' }],
  },
  server: {
    // The project root, plus the data folder next to it (../shared: weights and images) for
    // pages that address those files through /@fs/ rather than the routes above.
    fs: { allow: [REPO_ROOT, resolve(REPO_ROOT, '..', 'shared')] },
  },
  build: {
    target: 'es2022',
    // h5wasm's chunk (4.8 MB: HDF5 compiled to wasm, embedded) is fetched only for .h5 weights.
    chunkSizeWarningLimit: 5000,
  },
});
