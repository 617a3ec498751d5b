// src/image/node.ts — image files on disk (Node only; the browser uses decode.ts
// directly on File bytes).
//
//   readImageFile(path)                 read + decode, with errors that say what is
//                                       wrong with which path
//   writePngAtomic(path, bytes, opts)   never leaves a half-written file: the bytes
//                                       go to a new temporary file ".<name>.<pid>.<random>.tmp"
//                                       in the same directory, created exclusively
//                                       (O_CREAT | O_EXCL: a file or symlink planted
//                                       under that name is never followed or reused),
//                                       then moved into place in one step; refuses to
//                                       replace an existing file unless opts.force.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { decodeImage, type DecodeOptions } from './decode.ts';
import type { RgbaImage } from './types.ts';

/** The errno code of a Node system error ("ENOENT", …), if any. */
function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function describe(e: unknown): string {
  const code = codeOf(e);
  const reasons: Record<string, string> = {
    ENOENT: 'not found',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENOSPC: 'no space left on the device',
    EROFS: 'read-only file system',
  };
  return code && reasons[code] ? `${reasons[code]} (${code})` : e instanceof Error ? e.message : String(e);
}

/**
 * Reads and decodes a JPEG or PNG file. Every error message starts with the path; an image over
 * opts.maxPixels (decode.ts) is refused before its pixels are decoded.
 */
export async function readImageFile(path: string, opts: DecodeOptions = {}): Promise<RgbaImage> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (e) {
    if (codeOf(e) === 'ENOENT') throw new Error(`${path}: file not found`);
    throw new Error(`${path}: cannot access file: ${describe(e)}`);
  }
  if (stat.isDirectory()) throw new Error(`${path}: is a directory, not an image file`);
  if (!stat.isFile()) throw new Error(`${path}: not a regular file`);
  let buf: Buffer;
  try {
    buf = await fs.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read file: ${describe(e)}`);
  }
  return decodeImage(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path, opts);
}

/**
 * Writes `bytes` into a new file "<prefix>.<random>.tmp" in `dir`, opened with 'wx'
 * (O_CREAT | O_EXCL: fails rather than follow a symlink or reuse a file someone placed under
 * that name; another random name is tried then). Returns its path.
 */
export async function createExclusive(dir: string, prefix: string, bytes: Uint8Array): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const tmp = nodePath.join(dir, `${prefix}.${randomBytes(6).toString('hex')}.tmp`);
    let handle;
    try {
      handle = await fs.open(tmp, 'wx', 0o644);
    } catch (e) {
      if (codeOf(e) === 'EEXIST' && attempt < 8) continue;
      throw e;
    }
    try {
      await handle.writeFile(bytes);
    } catch (e) {
      await handle.close().catch(() => {});
      await fs.rm(tmp, { force: true }).catch(() => {});
      throw e;
    }
    await handle.close();
    return tmp;
  }
}

/**
 * Writes `bytes` to `path` atomically: readers see either no file (or the old
 * one, with force) or the complete new one, never a partial PNG.
 *
 * Without force the final step is link(tmp, path), which fails if `path`
 * exists, so even a file created meanwhile by another process is never
 * replaced; file systems without hard links fall back to a checked rename.
 * The temporary file is removed whatever happens.
 */
export async function writePngAtomic(
  path: string,
  bytes: Uint8Array,
  opts: { force?: boolean } = {},
): Promise<void> {
  const dir = nodePath.dirname(nodePath.resolve(path));
  const existsError = () => new Error(`${path} exists; pass --force to overwrite`);

  // Clear messages for the common mistakes before touching anything.
  const dirStat = await fs.stat(dir).catch((e: unknown) => {
    if (codeOf(e) === 'ENOENT') throw new Error(`${dir}: directory does not exist (cannot write ${path})`);
    throw new Error(`${dir}: cannot access directory: ${describe(e)} (cannot write ${path})`);
  });
  if (!dirStat.isDirectory()) throw new Error(`${dir}: not a directory (cannot write ${path})`);
  const existing = await fs.lstat(path).catch(() => null);
  if (existing?.isDirectory()) throw new Error(`${path}: is a directory; choose a file name`);
  if (existing && !opts.force) throw existsError();

  const cannot = (e: unknown) => new Error(`${path}: cannot write file: ${describe(e)}`);
  const tmp = await createExclusive(dir, `.${nodePath.basename(path)}.${process.pid}`, bytes).catch((e: unknown) => {
    throw new Error(`${dir}: cannot write into directory: ${describe(e)} (while writing ${path})`);
  });
  try {
    if (opts.force) {
      await fs.rename(tmp, path).catch((e: unknown) => { throw cannot(e); }); // replaces atomically
    } else {
      try {
        await fs.link(tmp, path); // atomic create-if-absent
      } catch (e) {
        if (codeOf(e) === 'EEXIST') throw existsError();
        // No hard links here (some network / FAT file systems): check, then rename.
        if (await fs.lstat(path).catch(() => null)) throw existsError();
        await fs.rename(tmp, path).catch((e2: unknown) => { throw cannot(e2); });
      }
    }
  } finally {
    // Already gone after a rename; the second name after link; the leftover after a failure.
    await fs.rm(tmp, { force: true }).catch(() => {});
  }
}
