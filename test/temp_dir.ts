// A fresh temporary folder for the describe block (or file) that calls tempDir: made before its
// tests, removed with its contents after them. Read its path inside the tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export function tempDir(prefix: string): { readonly path: string } {
  let path = '';
  beforeAll(async () => {
    path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (path) await rm(path, { recursive: true, force: true });
  });
  return {
    get path() {
      if (!path) throw new Error(`the temporary folder ${prefix}* is made before the tests, not while they are collected`);
      return path;
    },
  };
}
