// Hand-made PNG files for the hostile-image tests (Node only: zlib).
import { deflateSync } from 'node:zlib';
import { pngChunk } from '../src/image/decode.ts';

/** A PNG whose IHDR says width x height (RGB 8-bit) and whose IDAT holds `z` (default: raw deflated): hostile-image tests. */
export function headerPng(width: number, height: number, raw: Uint8Array, z: Uint8Array = deflateSync(raw)): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const sig = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const parts = [sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', z), pngChunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
