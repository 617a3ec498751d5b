// The weights' checksum cache (Node): which weight files were verified against SHA256SUMS, so
// that the next run does not hash them again.
//
// File: <cache>/weights-sha256.json, <cache> = $XDG_CACHE_HOME/neural-style-webgpu, else
// ~/.cache/neural-style-webgpu. Content: { version: 1, files: { "<absolute path>":
// { size, mtimeMs, sha256 } } }. A file counts as verified when its size and modification time
// are those recorded and SHA256SUMS still expects the recorded hash; anything else (a changed,
// replaced or touched file, an edited SHA256SUMS) is hashed again. Like make and rsync's quick
// check, this trusts the modification time: a file rewritten with the same size and its old
// mtime restored would not be re-hashed (to force a full check, delete the cache file). The
// cache is best effort: one that cannot be read or written is ignored (the files are hashed,
// as without it).

import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { ChecksumCache } from './tfjs_manifest.ts';

/** The project's cache folder: $XDG_CACHE_HOME/neural-style-webgpu, else ~/.cache/neural-style-webgpu. */
export function userCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'neural-style-webgpu');
}

/** Where the checksum cache is kept. */
export function checksumCachePath(): string {
  return join(userCacheDir(), 'weights-sha256.json');
}

interface Entry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

function readEntries(path: string): Record<string, Entry> {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as { version?: number; files?: Record<string, Entry> };
    return j.version === 1 && j.files && typeof j.files === 'object' ? j.files : {};
  } catch {
    return {};
  }
}

/** A ChecksumCache for the files of the weights folder `dir` (see the header). */
export function nodeChecksumCache(dir: string, path = checksumCachePath()): ChecksumCache {
  const stat = (file: string) => {
    try {
      const st = statSync(resolve(dir, file));
      return { size: st.size, mtimeMs: st.mtimeMs };
    } catch {
      return null;
    }
  };
  return {
    async known(file, expected) {
      const e = readEntries(path)[resolve(dir, file)];
      const st = stat(file);
      return !!e && !!st && e.size === st.size && e.mtimeMs === st.mtimeMs && e.sha256 === expected;
    },
    async remember(file, sha256) {
      const st = stat(file);
      if (!st) return;
      const files = readEntries(path);
      files[resolve(dir, file)] = { ...st, sha256 };
      try {
        mkdirSync(dirname(path), { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify({ version: 1, files }, null, 1) + '\n');
        renameSync(tmp, path);
      } catch {
        // best effort: without the cache the files are hashed again next time
      }
    },
  };
}
