// What both package entries (src/index.ts for Node, src/index.browser.ts for bundlers) export
// besides loadWeights, styleTransfer and evaluateOnce, which each defines for its platform.

export { acquireGpu, type AcquireOptions, type GpuContext } from './gpu/device.ts';
export type { MemoryReport } from './gpu/memory.ts';
export { decodeImage, encodePng, readPngText } from './image/decode.ts';
export type { RgbaImage } from './image/types.ts';
export type { PreserveColors } from './image/colour.ts';
export type { ResizeMethod } from './image/resize.ts';
export { Vgg19 } from './model/vgg19.ts';
export { VGG19_LAYER_NAMES } from './model/vgg19_layers.ts';
export type { Vgg19Weights } from './model/weights.ts';
export { PRESETS, type PresetName, type StyleConfig } from './style/config.ts';
export type { LossBreakdown, ScheduleOptions, StageReport, TransferProgress, TransferResult } from './style/types.ts';
export { configFields, configOf, type EvaluateOptions, type EvaluateResult, type ImageInput, type LoadWeightsOptions, type StyleTransferOptions } from './api.ts';
