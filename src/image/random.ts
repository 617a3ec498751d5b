// src/image/random.ts — a tiny seeded PRNG for reproducible "random" images
// and test inputs.
//
// mulberry32 (Tommy Ettinger, public domain): a 32-bit state, one add and a
// few xor-shift-multiplies per draw; period 2^32, fine statistical quality for
// initialising pixels and generating test data (not for cryptography). The same
// seed gives the same sequence in Node and every browser.

/** Returns a generator of uniform floats in [0, 1), fully determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0; // any number is folded to a 32-bit unsigned state
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
