// src/image/inflate.ts — the length a zlib stream (RFC 1950 around RFC 1951 deflate) inflates
// to, without inflating it: a PNG's pixel data is checked against its header before any pixel
// buffer is allocated (decode.ts).
//
//   inflatedLength(z, limit)   the number of bytes z inflates to, counting stops (and the
//                              function returns) as soon as the count passes `limit`; throws an
//                              Error (no name prefix) when z is not a valid zlib stream or ends
//                              before its last block.
//
// Counting needs no output window: a literal adds 1, a match (length, distance) adds its length
// once its distance is checked against the bytes produced so far (and the 32 KiB window). The
// Huffman decoding (canonical codes, RFC 1951 §3.2.2; a lookup table indexed by the next
// maxLen bits, least significant bit first) never depends on the output's values. Structure
// after puff.c (Mark Adler, zlib's contrib/puff), with table lookups instead of bit-by-bit
// decoding. The Adler-32 checksum is not checked (the pixel data goes through pngjs's zlib
// afterwards, which does).
//
// Cost: one pass over the compressed bytes, no allocation beyond the tables (2^15 entries at
// most): a decompression bomb is refused after reading `limit` bytes' worth of codes.

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** the order in which a dynamic block sends its code-length code lengths */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code as a lookup table: entry = symbol << 4 | length (0: no code). */
interface Huffman {
  table: Int32Array;
  bits: number;
}

function buildHuffman(lengths: ArrayLike<number>, what: string): Huffman {
  let maxLen = 0;
  const count = new Int32Array(16);
  for (let i = 0; i < lengths.length; i++) {
    count[lengths[i]]++;
    if (lengths[i] > maxLen) maxLen = lengths[i];
  }
  if (maxLen === 0) return { table: new Int32Array(1), bits: 0 }; // no codes: any use is an error
  // over-subscribed lengths have no code; incomplete ones are allowed (unused entries stay 0)
  let left = 1;
  for (let len = 1; len <= 15; len++) {
    left = left * 2 - count[len];
    if (left < 0) throw new Error(`invalid ${what} Huffman code (over-subscribed)`);
  }
  const next = new Int32Array(16); // the first code of each length (RFC 1951 §3.2.2, step 2)
  count[0] = 0; // length 0: no code
  for (let len = 1, code = 0; len <= 15; len++) {
    code = (code + count[len - 1]) << 1;
    next[len] = code;
  }
  const table = new Int32Array(1 << maxLen);
  for (let sym = 0; sym < lengths.length; sym++) {
    const len = lengths[sym];
    if (!len) continue;
    const code = next[len]++;
    let rev = 0; // codes are sent most significant bit first: reverse for LSB-first lookup
    for (let b = 0; b < len; b++) rev |= ((code >> b) & 1) << (len - 1 - b);
    for (let i = rev; i < table.length; i += 1 << len) table[i] = (sym << 4) | len;
  }
  return { table, bits: maxLen };
}

let fixed: { lit: Huffman; dist: Huffman } | null = null;
function fixedCodes(): { lit: Huffman; dist: Huffman } {
  if (!fixed) {
    const lit = new Uint8Array(288);
    lit.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    fixed = { lit: buildHuffman(lit, 'fixed literal'), dist: buildHuffman(new Uint8Array(30).fill(5), 'fixed distance') };
  }
  return fixed;
}

/**
 * The number of bytes the zlib stream `z` inflates to, or the first count above `limit` (the
 * caller only needs to know that it is more). Throws on a malformed or truncated stream.
 */
export function inflatedLength(z: Uint8Array, limit: number): number {
  if (z.length < 2) throw new Error('the compressed data is missing or shorter than its 2-byte header');
  const cmf = z[0];
  const flg = z[1];
  if ((cmf & 15) !== 8 || cmf >> 4 > 7 || (cmf * 256 + flg) % 31 !== 0) throw new Error('the compressed data does not start with a zlib deflate header');
  if (flg & 0x20) throw new Error('the compressed data asks for a preset dictionary (not allowed in PNG)');

  let pos = 2;
  let buf = 0; // bit buffer, least significant bit first
  let cnt = 0; // bits in buf
  let padded = 0; // zero bytes added past the end (for table look-ups near the end)
  const truncated = () => new Error(`the compressed data ends early (after ${z.length} bytes, before its last block)`);
  const fill = (n: number) => {
    while (cnt < n) {
      if (pos < z.length) buf |= z[pos++] << cnt;
      else padded++;
      cnt += 8;
    }
  };
  const drop = (n: number) => {
    buf >>>= n;
    cnt -= n;
    if (padded && cnt < padded * 8) throw truncated();
  };
  const bits = (n: number): number => {
    if (n === 0) return 0;
    fill(n);
    const v = buf & ((1 << n) - 1);
    drop(n);
    return v;
  };
  const decode = (h: Huffman, what: string): number => {
    if (h.bits === 0) throw new Error(`the compressed data uses an empty ${what} code`);
    fill(h.bits);
    const e = h.table[buf & ((1 << h.bits) - 1)];
    if (e === 0) throw new Error(`the compressed data has an invalid ${what} code`);
    drop(e & 15);
    return e >> 4;
  };

  let out = 0;
  for (;;) {
    const last = bits(1);
    const type = bits(2);
    if (type === 0) {
      drop(cnt & 7); // stored: skip to a byte boundary
      const len = bits(16);
      const nlen = bits(16);
      if ((len ^ 0xffff) !== nlen) throw new Error('the compressed data has a stored block whose length check fails');
      // the bit buffer holds whole bytes now: skip len bytes of it and of the input
      let skip = len;
      while (skip > 0 && cnt >= 8) {
        drop(8);
        skip--;
      }
      if (pos + skip > z.length) throw truncated();
      pos += skip;
      out += len;
    } else if (type === 1 || type === 2) {
      let lit: Huffman;
      let dist: Huffman;
      if (type === 1) ({ lit, dist } = fixedCodes());
      else {
        const nlen = bits(5) + 257;
        const ndist = bits(5) + 1;
        const ncode = bits(4) + 4;
        if (nlen > 286 || ndist > 30) throw new Error('the compressed data has a dynamic block with too many codes');
        const cl = new Uint8Array(19);
        for (let i = 0; i < ncode; i++) cl[CL_ORDER[i]] = bits(3);
        const clCode = buildHuffman(cl, 'code-length');
        const lengths = new Uint8Array(nlen + ndist);
        for (let i = 0; i < nlen + ndist; ) {
          const sym = decode(clCode, 'code-length');
          if (sym < 16) lengths[i++] = sym;
          else {
            let repeat: number;
            let value = 0;
            if (sym === 16) {
              if (i === 0) throw new Error('the compressed data repeats a code length before the first');
              value = lengths[i - 1];
              repeat = 3 + bits(2);
            } else repeat = sym === 17 ? 3 + bits(3) : 11 + bits(7);
            if (i + repeat > nlen + ndist) throw new Error('the compressed data has too many code lengths');
            lengths.fill(value, i, i + repeat);
            i += repeat;
          }
        }
        if (lengths[256] === 0) throw new Error('the compressed data has no end-of-block code');
        lit = buildHuffman(lengths.subarray(0, nlen), 'literal/length');
        dist = buildHuffman(lengths.subarray(nlen), 'distance');
      }
      for (;;) {
        const sym = decode(lit, 'literal/length');
        if (sym < 256) out++;
        else if (sym === 256) break;
        else {
          const li = sym - 257;
          if (li >= 29) throw new Error('the compressed data has an invalid length symbol');
          const len = LEN_BASE[li] + bits(LEN_EXTRA[li]);
          const di = decode(dist, 'distance');
          if (di >= 30) throw new Error('the compressed data has an invalid distance symbol');
          const d = DIST_BASE[di] + bits(DIST_EXTRA[di]);
          if (d > out) throw new Error(`the compressed data refers back ${d} bytes after only ${out}`);
          out += len;
        }
        if (out > limit) return out;
      }
    } else {
      throw new Error('the compressed data has a block of the reserved type 3');
    }
    if (out > limit) return out;
    if (last) return out;
  }
}
