// The WGSL sources built into the library. Empty in the source tree: the shaders are read from
// shaders/*.wgsl (src/gpu/shaders.ts). The package build (src/package/build.ts) replaces the
// compiled lib/gpu/shader_sources.js with one that holds the text of every shaders/*.wgsl file,
// whole, so that the published library needs no file access or asset handling from a bundler.
export const SHADER_SOURCES: Readonly<Record<string, string>> = {};
