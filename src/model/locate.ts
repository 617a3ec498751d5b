// Finding the VGG19 weights and the example images on disk (Node only).
//
// Weights, first match wins (see weights/README.md):
//   1. an explicit path (the CLI's --weights DIR or FILE.h5, or the argument of these functions)
//   2. the environment variable NEURAL_STYLE_WEIGHTS (a folder or an .h5 file)
//   3. <repo>/weights/vgg19      a folder the user placed there (git-ignored)
//   4. <repo>/../shared/vgg19    the pack tests and CI use
//   5. the Keras download: $KERAS_HOME/models/, else ~/.keras/models/,
//      vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (where Keras keeps it)
// A folder qualifies when it holds weights_manifest.json or model.json; a file is read as a
// Keras .h5 (src/model/keras_h5.ts says what is wrong with it if it is not one). An explicit or
// env path that does not qualify is an error (never silently replaced by a default).
// Images folder: explicit path, then NEURAL_STYLE_IMAGES, then <repo>/../shared/images.
// <repo> is the project root: two folders above the one holding this file (src/model/).

import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeChecksumCache } from './checksum_cache.ts';
import { fileNotFoundError, type ReadFile } from './tfjs_manifest.ts';
import { loadVgg19Weights, loadVgg19WeightsFromH5, type LoadVgg19Options, type Vgg19Weights } from './weights.ts';

/** The project root (two folders above src/model/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WEIGHTS_README = join(REPO_ROOT, 'weights', 'README.md');

export type FoundHow = 'argument' | 'env' | 'default';

/** What one kind of data folder is, where to look by default, and what makes a folder usable. */
export interface DataDirSpec {
  what: string; // "VGG19 weights", in messages
  flag: string; // "--weights"
  envVar: string; // "NEURAL_STYLE_WEIGHTS"
  defaults: string[]; // absolute paths, in order
  /** null when `dir` (an existing directory) is usable, else what is wrong with it */
  problem: (dir: string) => string | null;
  help: string; // one sentence: where to read more
}

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

const howText = (how: FoundHow, spec: DataDirSpec): string =>
  how === 'argument' ? `given as an argument (${spec.flag})` : how === 'env' ? `from the environment variable ${spec.envVar}` : 'a default location';

/**
 * Resolves a data folder by the order of `spec`: explicit → env → defaults. Throws a clear
 * Error when the chosen folder is unusable or no default exists.
 */
export function resolveDataDir(spec: DataDirSpec, explicit?: string): { dir: string; how: FoundHow } {
  const envValue = process.env[spec.envVar];
  const chosen: { dir: string; how: FoundHow } | null = explicit
    ? { dir: resolve(explicit), how: 'argument' }
    : envValue
      ? { dir: resolve(envValue), how: 'env' }
      : null;

  const check = (dir: string, how: FoundHow): void => {
    const problem = !existsSync(dir) ? 'does not exist' : !isDir(dir) ? 'is not a directory' : spec.problem(dir);
    if (problem) throw new Error(`${spec.what} folder ${dir}, ${howText(how, spec)}, ${problem}. ${spec.help}`);
  };

  if (chosen) {
    check(chosen.dir, chosen.how);
    return chosen;
  }
  for (const dir of spec.defaults) {
    if (!existsSync(dir)) continue;
    check(dir, 'default'); // a default folder that exists but is unusable is reported, not skipped
    return { dir, how: 'default' };
  }
  throw new Error(
    `${spec.what} not found. Looked in: ${spec.envVar} (not set), ${spec.defaults.join(', ')} (none exists). ` +
      `Fix: pass ${spec.flag} DIR, or set ${spec.envVar}=DIR, or put the files in ${spec.defaults[0]}. ${spec.help}`,
  );
}

/** Where the VGG19 weights are looked for; see the header. */
export const WEIGHTS_DIR_SPEC: DataDirSpec = {
  what: 'VGG19 weights',
  flag: '--weights',
  envVar: 'NEURAL_STYLE_WEIGHTS',
  defaults: [join(REPO_ROOT, 'weights', 'vgg19'), resolve(REPO_ROOT, '..', 'shared', 'vgg19')],
  problem: (dir) =>
    existsSync(join(dir, 'weights_manifest.json')) || existsSync(join(dir, 'model.json'))
      ? null
      : 'has neither weights_manifest.json nor model.json',
  help: `See ${WEIGHTS_README} for how to get the weights and point the tool at them.`,
};

/** Where the example images are looked for; see the header. */
export const IMAGES_DIR_SPEC: DataDirSpec = {
  what: 'Example images',
  flag: '--images',
  envVar: 'NEURAL_STYLE_IMAGES',
  defaults: [resolve(REPO_ROOT, '..', 'shared', 'images')],
  problem: () => null,
  help: 'Any folder of .jpg/.png images will do (the examples come from jcjohnson/neural-style, examples/inputs).',
};

/** The file Keras downloads for VGG19 without its top (keras.applications.VGG19(include_top=False)). */
export const KERAS_WEIGHTS_FILE = 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5';

/** Where Keras keeps that file: $KERAS_HOME/models/, else ~/.keras/models/. */
export function kerasCachedWeights(): string {
  return join(process.env.KERAS_HOME || join(homedir(), '.keras'), 'models', KERAS_WEIGHTS_FILE);
}

/** The one Python line that makes Keras download the weights into kerasCachedWeights(). */
export const KERAS_DOWNLOAD_LINE = 'python3 -c "import keras; keras.applications.VGG19(include_top=False)"';

export interface WeightsLocation {
  /** a folder (TF.js manifest) or a file (Keras .h5), absolute */
  path: string;
  kind: 'folder' | 'h5';
  how: FoundHow;
}

const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * The weights: explicit path, then $NEURAL_STYLE_WEIGHTS (each a folder or an .h5 file), then the
 * default folders (spec.defaults), then the Keras download (see the header). Throws a clear Error
 * when the path given is unusable or nothing is found.
 */
export function resolveWeights(explicit?: string, spec: DataDirSpec = WEIGHTS_DIR_SPEC): WeightsLocation {
  const given = explicit || process.env[spec.envVar];
  if (given && isFile(resolve(given))) return { path: resolve(given), kind: 'h5', how: explicit ? 'argument' : 'env' };
  if (given || spec.defaults.some((d) => existsSync(d))) {
    const { dir, how } = resolveDataDir(spec, explicit);
    return { path: dir, kind: 'folder', how };
  }
  const keras = kerasCachedWeights();
  if (isFile(keras)) return { path: keras, kind: 'h5', how: 'default' };
  throw new Error(
    `VGG19 weights not found. Looked in: ${spec.envVar} (not set), ${spec.defaults.join(', ')}, ${keras} (none exists). ` +
      `Fix: pass --weights DIR or --weights FILE.h5, or set ${spec.envVar}, or let Keras download the file once: ${KERAS_DOWNLOAD_LINE}. ${spec.help}`,
  );
}

/** The weights folder: explicit path, then $NEURAL_STYLE_WEIGHTS, then the defaults (folders only). */
export function resolveWeightsDir(explicit?: string): { dir: string; how: FoundHow } {
  return resolveDataDir(WEIGHTS_DIR_SPEC, explicit);
}

/** The example images folder: explicit path, then $NEURAL_STYLE_IMAGES, then ../shared/images. */
export function resolveImagesDir(explicit?: string): { dir: string; how: FoundHow } {
  return resolveDataDir(IMAGES_DIR_SPEC, explicit);
}

/**
 * Full path of an image: `fileName` itself when it is a path to an existing file (absolute, or
 * relative to the working directory and containing a '/'), else `fileName` inside the images
 * folder. A missing image → Error naming where it looked and the images that are there.
 */
export function resolveExampleImage(fileName: string, explicitDir?: string): string {
  if (isAbsolute(fileName) || fileName.includes('/') || fileName.includes('\\')) {
    const full = resolve(fileName);
    if (existsSync(full) && !isDir(full)) return full;
    throw new Error(`image ${full}: file not found`);
  }
  const { dir, how } = resolveImagesDir(explicitDir);
  const full = join(dir, fileName);
  if (existsSync(full) && !isDir(full)) return full;
  const images = readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f));
  throw new Error(
    `image ${full}: file not found (images folder ${dir}, ${howText(how, IMAGES_DIR_SPEC)}). ` +
      `Images there: ${images.length ? images.join(', ') : '(none)'}`,
  );
}

/** A ReadFile over the folder `dir`; a missing file → Error `<full path>: file not found`. */
export function nodeReadFile(dir: string): ReadFile {
  return async (path) => {
    const full = join(dir, path);
    try {
      const buf = await readFile(full);
      // A plain Uint8Array view: its .slice() copies, unlike Buffer's.
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') throw fileNotFoundError(full);
      throw new Error(`${full}: cannot read: ${(err as Error).message}`);
    }
  };
}

/**
 * Finds the weights (resolveWeights: a folder or a Keras .h5 file) and loads VGG19 from them;
 * `source` = that folder or file. Files of a folder verified by an earlier run and unchanged since
 * are not hashed again (checksum_cache.ts, in the user's cache folder).
 */
export async function loadVgg19WeightsFromDir(explicit?: string, opts: Omit<LoadVgg19Options, 'source'> = {}): Promise<Vgg19Weights> {
  const found = resolveWeights(explicit);
  if (found.kind === 'folder') return loadVgg19Weights(nodeReadFile(found.path), { checksumCache: nodeChecksumCache(found.path), ...opts, source: found.path });
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(found.path));
  } catch (err) {
    throw new Error(`${found.path}: cannot read: ${(err as Error).message}`);
  }
  return loadVgg19WeightsFromH5(bytes, { source: found.path, onProgress: opts.onProgress });
}
