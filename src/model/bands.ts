// Row bands: how a tensor larger than one GPU buffer is stored, and how kernels that know only
// whole buffers run on it.
//
// A tensor [H, W, C] (f32, NHWC) is row-major, so any range of its rows is one contiguous byte
// range. A banded tensor is split at row boundaries into bands, each its own GPUBuffer of at most
// `maxBytes`:
//
//     rows [0, r1) -> buffer 0,  rows [r1, r2) -> buffer 1,  ...    (every band but the last: R rows)
//
// A tensor that fits one buffer has one band, and every op then binds that buffer directly, as
// before banding existed: the unbanded path is unchanged and costs nothing.
//
// Kernels are not rewritten for bands. Where a tensor has several bands, an op runs in chunks of
// output rows: it gathers the input rows a chunk needs into a contiguous scratch buffer (with
// copyBufferToBuffer, across band boundaries), runs the unchanged kernel on the scratch as if it
// were a small image, and copies the chunk's rows back out. A 3x3 convolution needs one halo row
// above and below its output rows; the chunk's scratch image therefore holds rows [a, b) =
// [r0 - 1, r1 + 1) clipped to the image, the kernel computes all b - a rows, and only rows
// [r0, r1) are copied out: the first and last computed rows saw the scratch's zero padding instead
// of their true neighbour, and are discarded ("computing overlapping rows"). At the image's own
// top and bottom the zero padding is the true padding, so no halo is needed there. Every row
// that is kept was computed from exactly the values the unbanded kernel reads, so banding changes
// nothing but float32 summation order in the reductions (Gram matrices, losses), which are summed
// band by band.

import type { GpuContext } from '../gpu/device.ts';
import { createStorage } from '../gpu/runtime.ts';

/** One row band: rows [r0, r1) of a tensor, stored from byte 0 of `buf`. */
export interface Band {
  r0: number;
  r1: number;
  buf: GPUBuffer;
}

/** A [H, W, C] f32 tensor stored as row bands (one band when it fits one buffer). */
export interface Banded {
  H: number;
  W: number;
  C: number;
  bands: Band[];
}

/** One step of a recorded pass: a dispatch, or a copy of a byte range between two buffers. */
export type CopyStep = { kind: 'copy'; src: GPUBuffer; dst: GPUBuffer; bytes: number; srcOffset?: number; dstOffset?: number };

/** Rows per band for a row of W x C floats within maxBytes; throws if not even one row fits. */
export function rowsPerBand(W: number, C: number, maxBytes: number, what = 'tensor'): number {
  const row = W * C * 4;
  const rows = Math.floor(maxBytes / row);
  if (rows < 1) {
    throw new Error(`one row of the ${what} (${W} x ${C} floats, ${(row / 2 ** 20).toFixed(2)} MiB) is larger than the buffer limit of ${(maxBytes / 2 ** 20).toFixed(2)} MiB`);
  }
  return rows;
}

/** The row ranges of a [H, W, C] tensor split into bands of at most maxBytes. */
export function bandRanges(H: number, W: number, C: number, maxBytes: number, what?: string): Array<[number, number]> {
  const R = H * W * C * 4 <= maxBytes ? H : rowsPerBand(W, C, maxBytes, what);
  const out: Array<[number, number]> = [];
  for (let r0 = 0; r0 < H; r0 += R) out.push([r0, Math.min(H, r0 + R)]);
  return out;
}

/** Allocates a banded tensor: one buffer when it fits maxBytes, else bands of equal rows (the last shorter). */
export function createBanded(ctx: GpuContext, H: number, W: number, C: number, maxBytes: number, label: string): Banded {
  const ranges = bandRanges(H, W, C, maxBytes, label);
  const bands = ranges.map(([r0, r1]) => ({ r0, r1, buf: createStorage(ctx, (r1 - r0) * W * C * 4, ranges.length > 1 ? `${label} [rows ${r0}-${r1 - 1}]` : label) }));
  return { H, W, C, bands };
}

/** A one-band view of a whole buffer. */
export function whole(buf: GPUBuffer, H: number, W: number, C: number): Banded {
  return { H, W, C, bands: [{ r0: 0, r1: H, buf }] };
}

/** The buffer of a one-band tensor; throws naming `what` if it is banded. */
export function single(t: Banded, what: string): GPUBuffer {
  if (t.bands.length !== 1) throw new Error(`${what} is stored in ${t.bands.length} row bands; use the banded accessor`);
  return t.bands[0].buf;
}

/** Bytes of a banded tensor's data (not counting buffer rounding). */
export function bandedBytes(t: Banded): number {
  return t.H * t.W * t.C * 4;
}

/**
 * Copy steps for `rows` rows from src (starting at row srcRow) to dst (starting at row dstRow);
 * src and dst must have the same W and C. Splits at every band boundary of either side.
 */
export function copyRows(src: Banded, srcRow: number, dst: Banded, dstRow: number, rows: number): CopyStep[] {
  if (src.W !== dst.W || src.C !== dst.C) throw new Error(`copyRows: row shapes differ (${src.W}x${src.C} vs ${dst.W}x${dst.C})`);
  if (srcRow < 0 || dstRow < 0 || srcRow + rows > src.H || dstRow + rows > dst.H) {
    throw new Error(`copyRows: rows [${srcRow}, ${srcRow + rows}) -> [${dstRow}, ${dstRow + rows}) outside ${src.H} / ${dst.H} rows`);
  }
  const rowBytes = src.W * src.C * 4;
  const steps: CopyStep[] = [];
  let done = 0;
  while (done < rows) {
    const s = src.bands.find((b) => srcRow + done >= b.r0 && srcRow + done < b.r1)!;
    const d = dst.bands.find((b) => dstRow + done >= b.r0 && dstRow + done < b.r1)!;
    const n = Math.min(rows - done, s.r1 - (srcRow + done), d.r1 - (dstRow + done));
    steps.push({
      kind: 'copy',
      src: s.buf,
      srcOffset: (srcRow + done - s.r0) * rowBytes,
      dst: d.buf,
      dstOffset: (dstRow + done - d.r0) * rowBytes,
      bytes: n * rowBytes,
    });
    done += n;
  }
  return steps;
}

/**
 * A set of buffers of one size that several tensors of different shapes take turns to use (the
 * backward's gradient ping-pong and scratch): view(H, W, C) lays a tensor over the first
 * buffers, in bands of as many rows as one buffer holds.
 */
export class BandPool {
  readonly buffers: GPUBuffer[] = [];
  constructor(
    private readonly ctx: GpuContext,
    readonly bufferBytes: number,
    private readonly label: string,
  ) {}

  view(H: number, W: number, C: number): Banded {
    const ranges = bandRanges(H, W, C, this.bufferBytes, this.label);
    while (this.buffers.length < ranges.length) {
      this.buffers.push(createStorage(this.ctx, this.bufferBytes, `${this.label} ${this.buffers.length}`));
    }
    return { H, W, C, bands: ranges.map(([r0, r1], i) => ({ r0, r1, buf: this.buffers[i] })) };
  }
}

/** A scratch tensor of `rows` rows on one buffer (which must be large enough). */
export function scratchView(buf: GPUBuffer, rows: number, W: number, C: number): Banded {
  if (rows * W * C * 4 > buf.size) throw new Error(`scratch ${buf.label}: ${rows} rows of ${W}x${C} floats do not fit ${buf.size} bytes`);
  return whole(buf, rows, W, C);
}
