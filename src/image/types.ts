// src/image/types.ts — the one image type every image module speaks.
//
// An RgbaImage is 8-bit RGBA, row-major, top row first, no padding:
//   data[(y * width + x) * 4 + c], c = 0 R, 1 G, 2 B, 3 A     // [H, W, 4] u8
// It matches the browser's ImageData layout, so a canvas can show it directly.
// The style-transfer code ignores alpha; decoders keep whatever the file had
// (255 for JPEG and for PNGs without transparency).

export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray; // [H, W, 4] RGBA, row-major
}
