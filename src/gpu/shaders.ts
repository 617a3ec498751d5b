// Loading WGSL sources from shaders/*.wgsl: one mechanism for vitest, the vite page and the
// Node CLI. The file is addressed as a URL relative to this module; vite rewrites the
// `new URL(..., import.meta.url)` pattern into served asset URLs for the page, while in Node
// (and vitest) the URL is a file: URL that is read from disk. The published library has every
// source built in (shader_sources.ts, filled by the package build) and reads no file.

import { SHADER_SOURCES } from './shader_sources.ts';

import type { ShaderName } from './shader_names.ts';

const cache = new Map<string, Promise<string>>();

/** The URL of shaders/<name>.wgsl. */
export function shaderUrl(name: ShaderName): URL {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`invalid shader name "${name}" (expected [a-z0-9_]+)`);
  return new URL(`../../shaders/${name}.wgsl`, import.meta.url);
}

async function readUrl(url: URL): Promise<string> {
  if (url.protocol === 'file:') {
    // Names in variables: a bundler building for the browser leaves these Node-only imports alone.
    const [fsName, urlName] = ['node:fs/promises', 'node:url'];
    const { readFile } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    const { fileURLToPath } = (await import(/* @vite-ignore */ urlName)) as typeof import('node:url');
    try {
      return await readFile(fileURLToPath(url), 'utf8');
    } catch (e) {
      throw new Error(`cannot read shader ${fileURLToPath(url)}: ${(e as Error).message}`);
    }
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch shader ${url.href}: HTTP ${res.status}`);
  return res.text();
}

/** The text of shaders/<name>.wgsl (cached). */
export function loadShader(name: ShaderName): Promise<string> {
  let p = cache.get(name);
  if (!p) {
    const builtIn = SHADER_SOURCES[name];
    p = builtIn !== undefined ? Promise.resolve(builtIn) : readUrl(shaderUrl(name));
    cache.set(name, p);
    p.catch(() => cache.delete(name));
  }
  return p;
}
