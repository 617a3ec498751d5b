// Reading the layer weights of a Keras HDF5 (.h5) file, in Node and in a browser.
//
// HDF5 itself is read by h5wasm (the HDF5 C library compiled to WebAssembly, npm `h5wasm`,
// maintained by NIST; its ES module embeds the wasm, so it needs no file server and no
// bundler configuration). It is imported on first use only: a page that never opens an .h5
// never downloads it. The bytes are copied into h5wasm's in-memory file system, opened
// read-only, and removed again when the file is closed.
//
// The Keras layouts read (the ones `keras.Model.load_weights` reads, legacy HDF5 format):
//   model.save_weights('w.h5')   root attribute layer_names = [layer, ...]; one group per
//                                layer with attribute weight_names = ['<layer>/kernel:0',
//                                '<layer>/bias:0'], datasets at <layer>/<layer>/kernel:0 ...
//   the file Keras downloads      the same, with the Keras 1 names of the time: datasets
//   (…_tf_kernels_notop.h5)       <layer>/<layer>_W_1:0 (kernel) and <layer>/<layer>_b_1:0
//   model.save('m.h5')            the same layout inside the group model_weights/ (the root
//                                holds model_config and, maybe, optimizer_weights/)
// Every weight of a layer is the dataset at <layer group>/<weight name>, in weight_names
// order (Keras's own rule); a layer group without weight_names is searched for datasets.
//
// Errors are one line each and start with the file's name (`source`):
//   not HDF5 at all, unreadable HDF5, a missing layer, a weight that is not a float array;
//   a truncated file: HDF5 refuses to open it (the superblock records the file's length), so
//   the copy is padded to that length with 0xFF bytes, which read as NaN floats and as
//   undefined addresses; the first layer whose group, header or values then fail is named.
//   HDF5 writers (h5py, h5wasm) leave the root group's index at the end of the file, so a cut
//   usually loses it and the first layer, block1_conv1, "cannot be found"; when the index
//   survives, the layer whose data was cut is named. A truncated file is refused even when
//   every layer reads.

/** One dataset of a layer: its name (as in weight_names), shape and values as float32. */
export interface H5Weight {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** An open Keras weights file; close() releases h5wasm's copy. */
export interface KerasH5File {
  source: string;
  /** where the layers are: '/' (save_weights, the download) or '/model_weights' (model.save) */
  root: string;
  /** the root's layer_names attribute (or its groups when it has none), in file order */
  layerNames: string[];
  /** null when the file is whole, else its length and the length HDF5 recorded */
  truncated: { bytes: number; expected: number } | null;
  hasLayer(name: string): boolean;
  /** the layer's weights in weight_names order; throws naming the file and the layer */
  readLayer(name: string): H5Weight[];
  close(): void;
}

type H5wasm = typeof import('h5wasm').default;
type H5Group = InstanceType<H5wasm['Group']>;
type H5Dataset = InstanceType<H5wasm['Dataset']>;

let h5Promise: Promise<{ h5: H5wasm; FS: { writeFile(p: string, d: Uint8Array): void; unlink(p: string): void } }> | null = null;

/** h5wasm, loaded once, with HDF5's errors thrown as JS errors instead of printed. */
function loadH5wasm() {
  if (!h5Promise) {
    h5Promise = (async () => {
      const h5 = (await import('h5wasm')).default;
      const module = await h5.ready;
      module.activate_throwing_error_handler(); // HDF5-DIAG text becomes the thrown Error's message
      return { h5, FS: module.FS as unknown as { writeFile(p: string, d: Uint8Array): void; unlink(p: string): void } };
    })();
    h5Promise.catch(() => (h5Promise = null));
  }
  return h5Promise;
}

/** The 8-byte HDF5 signature: \x89 H D F \r \n \x1a \n. */
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when `bytes` starts with the HDF5 signature (at 0 or after a user block of 512·2^k bytes). */
export function looksLikeHdf5(bytes: Uint8Array): boolean {
  for (let at = 0; at + 8 <= bytes.length && at <= 1 << 20; at = at === 0 ? 512 : at * 2) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[at + i] === b)) return true;
  }
  return false;
}

/** The innermost message of an HDF5 error stack ("truncated file: eof = ..."), else the text. */
export function hdf5Reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const lines = [...text.matchAll(/#\d+: .* in [\w.]+\(\): (.*)/g)].map((m) => m[1].trim());
  return lines.length ? lines[lines.length - 1] : text.split('\n')[0].trim();
}

const fmtShape = (s: readonly number[]): string => `[${s.join(',')}]`;

function stringList(v: unknown): string[] | null {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  return null;
}

let fileCounter = 0;

/**
 * Opens the bytes of a Keras .h5 file. Throws a one-line Error starting with `source` when the
 * bytes are not HDF5 or HDF5 cannot open them (a truncated file is opened padded: see the header).
 */
export async function openKerasH5(bytes: Uint8Array, source: string): Promise<KerasH5File> {
  if (!looksLikeHdf5(bytes)) {
    const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`${source}: not an HDF5 file (it starts with ${head || 'nothing: the file is empty'}; an .h5 file starts with 89 48 44 46 0d 0a 1a 0a)`);
  }
  const { h5, FS } = await loadH5wasm();
  const path = `/neural-style-${++fileCounter}.h5`;
  FS.writeFile(path, bytes);
  let file: InstanceType<H5wasm['File']>;
  let truncated: KerasH5File['truncated'] = null;
  try {
    try {
      file = new h5.File(path, 'r');
    } catch (e) {
      const reason = hdf5Reason(e);
      const m = /truncated file: eof = (\d+).*stored_eof = (\d+)/.exec(reason);
      if (!m) throw new Error(`${source}: HDF5 cannot open it: ${reason}`);
      truncated = { bytes: Number(m[1]), expected: Number(m[2]) };
      const padded = new Uint8Array(truncated.expected).fill(0xff);
      padded.set(bytes.subarray(0, Math.min(bytes.length, truncated.expected)));
      FS.writeFile(path, padded);
      try {
        file = new h5.File(path, 'r');
      } catch (e2) {
        throw new Error(`${source}: truncated: it has ${truncated.bytes} bytes, its header says ${truncated.expected}; nothing in it can be read (${hdf5Reason(e2)}). Download it again.`);
      }
    }
  } catch (e) {
    FS.unlink(path);
    throw e;
  }

  const cut = truncated;
  const pastEnd = (layer: string, why: string) =>
    new Error(`${source}: truncated: it has ${cut!.bytes} bytes, its header says ${cut!.expected}; layer ${layer} ${why}. Download the file again.`);

  // Where the layers are: the root, or model_weights/ of a whole saved model. (Any HDF5 error
  // here, e.g. in a truncated file, leaves the defaults; reading the layers reports it.)
  const attempt = <T>(f: () => T, fallback: T): T => {
    try {
      return f();
    } catch {
      return fallback;
    }
  };
  const attrNames = (g: H5Group): string[] => attempt(() => Object.keys(g.attrs), []);
  let root: H5Group = file;
  let rootPath = '/';
  if (!attrNames(file).includes('layer_names')) {
    const mw = attempt(() => file.get('model_weights'), null);
    if (mw instanceof h5.Group) {
      root = mw;
      rootPath = '/model_weights';
    }
  }
  const listed = attrNames(root).includes('layer_names') ? attempt(() => stringList(root.attrs['layer_names'].value), null) : null;
  const layerNames = listed ?? attempt(() => root.keys().filter((k) => root.get(k) instanceof h5.Group), [] as string[]);
  const groupOf = (layer: string): H5Group | null => {
    try {
      const g = root.get(layer);
      return g instanceof h5.Group ? g : null;
    } catch {
      return null;
    }
  };

  /** Every dataset under g (depth first, in key order), as paths relative to g. */
  const datasetsUnder = (g: H5Group, prefix = ''): string[] =>
    g.keys().flatMap((k) => {
      const child = g.get(k);
      if (child instanceof h5.Dataset) return [prefix + k];
      if (child instanceof h5.Group) return datasetsUnder(child, `${prefix}${k}/`);
      return [];
    });

  const readDataset = (layer: string, g: H5Group, name: string): H5Weight => {
    const d = g.get(name);
    if (!(d instanceof h5.Dataset)) throw new Error(`${source}: layer ${layer}: weight ${name} (listed in weight_names) is not in the file`);
    const ds = d as H5Dataset;
    const meta = ds.metadata;
    const shape = ds.shape ?? [];
    if (meta.type !== 1 /* H5T_FLOAT */ || (meta.size !== 4 && meta.size !== 8)) {
      throw new Error(`${source}: layer ${layer}: weight ${name} is not a float32/float64 array (HDF5 type class ${meta.type}, ${meta.size} bytes a value)`);
    }
    const value = ds.value;
    if (!(value instanceof Float32Array || value instanceof Float64Array)) throw new Error(`${source}: layer ${layer}: weight ${name} did not read as numbers`);
    const data = value instanceof Float32Array ? value : Float32Array.from(value);
    return { name, shape: [...shape], data };
  };

  const readLayer = (layer: string): H5Weight[] => {
    try {
      const g = groupOf(layer);
      if (!g) throw cut ? pastEnd(layer, 'cannot be found (the index of the layers, or the layer\'s own header, lies past the end)') : new Error(`${source}: layer ${layer} is not in the file`);
      const names = attrNames(g).includes('weight_names') ? stringList(g.attrs['weight_names'].value) : null;
      const weights = (names ?? datasetsUnder(g)).map((n) => readDataset(layer, g, n));
      if (cut && weights.some((w) => w.data.some((v) => Number.isNaN(v)))) throw pastEnd(layer, 'lies past the end (its values read from the padding)');
      return weights;
    } catch (e) {
      if (!cut) {
        if (e instanceof Error && e.message.startsWith(source)) throw e;
        throw new Error(`${source}: layer ${layer} cannot be read: ${hdf5Reason(e)}`);
      }
      if (e instanceof Error && e.message.startsWith(`${source}: truncated`)) throw e;
      throw pastEnd(layer, `cannot be read: its data or header lies past the end (${hdf5Reason(e)})`);
    }
  };

  let closed = false;
  return {
    source,
    root: rootPath,
    layerNames,
    truncated,
    hasLayer: (name) => groupOf(name) !== null,
    readLayer,
    close() {
      if (closed) return;
      closed = true;
      try {
        file.close();
      } finally {
        FS.unlink(path);
      }
    },
  };
}
