// The live image: a WebGPU canvas drawn straight from a GPU buffer, with no read-back.
//
//   x (the optimizer's iterate, [rows, cols, 3] f32 caffe BGR, valid during onProgress)
//     --copyBufferToBuffer--> display buffer (ours, same layout; outlives the callback)
//     --render pass, shaders/display_caffe.wgsl (full-screen triangle)--> canvas texture
//
// The canvas is kept at the working size (cols x rows device pixels; CSS scales it), so each
// canvas pixel shows exactly one image pixel. The display buffer is also what Download reads
// back (and, throttled, the page's checkpoint for resuming after a lost device).
//
// checkDisplay() is the shader's unit check in the page: a small known buffer drawn into a
// small canvas, read back through a 2D canvas, compared with fromCaffe (src/image/preprocess.ts);
// it returns the input and the pixels, and test/web.test.ts compares them with the shader's
// own reference, displayCaffeBytesCpu (src/ref/display.ts: the page does not import the oracle).

import type { GpuContext } from '../gpu/device.ts';
import { getShaderModule, perDevice, readFloats, submitChecked } from '../gpu/runtime.ts';
import { fromCaffe, toCaffe } from '../image/preprocess.ts';
import type { RgbaImage } from '../image/types.ts';

const SHADER = 'display_caffe';

const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPURenderPipeline>>>();

/** The display_caffe render pipeline for a target format, compiled once per device. */
function displayPipeline(ctx: GpuContext, format: GPUTextureFormat): Promise<GPURenderPipeline> {
  return perDevice(pipelines, ctx.device, format, async () =>
    ctx.device.createRenderPipelineAsync({
      label: SHADER,
      layout: 'auto',
      vertex: { module: await getShaderModule(ctx, SHADER), entryPoint: 'vs_main' },
      fragment: { module: await getShaderModule(ctx, SHADER), entryPoint: 'fs_main', targets: [{ format }] },
      primitive: { topology: 'triangle-list' },
    }),
  );
}

/** A canvas showing a [rows, cols, 3] caffe-BGR image held in a GPU buffer. */
export class CaffeCanvas {
  rows = 0;
  cols = 0;
  /** [rows, cols, 3] f32 caffe BGR: the image on screen */
  private display: GPUBuffer | null = null;
  private readonly params: GPUBuffer;
  private bindGroup: GPUBindGroup | null = null;

  private constructor(
    readonly ctx: GpuContext,
    readonly canvas: HTMLCanvasElement,
    private readonly context: GPUCanvasContext,
    private readonly pipeline: GPURenderPipeline,
  ) {
    this.params = ctx.device.createBuffer({ label: 'display_caffe params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  /** Configures `canvas` for the device (the browser's preferred format, opaque) and compiles the pipeline. */
  static async create(ctx: GpuContext, canvas: HTMLCanvasElement): Promise<CaffeCanvas> {
    const context = canvas.getContext('webgpu');
    if (!context) throw new Error('this canvas cannot give a WebGPU context (was it already used for 2D drawing?)');
    const format = navigator.gpu.getPreferredCanvasFormat();
    context.configure({ device: ctx.device, format, alphaMode: 'opaque' });
    const pipeline = await displayPipeline(ctx, format);
    return new CaffeCanvas(ctx, canvas, context, pipeline);
  }

  /** True when an image of this size is on the canvas. */
  get hasImage(): boolean {
    return this.display !== null;
  }

  /** Sets the working size: canvas cols x rows pixels and a display buffer to match. */
  setSize(rows: number, cols: number): void {
    if (rows === this.rows && cols === this.cols && this.display) return;
    this.display?.destroy();
    this.rows = rows;
    this.cols = cols;
    this.canvas.width = cols;
    this.canvas.height = rows;
    const { device } = this.ctx;
    this.display = device.createBuffer({
      label: 'display image',
      size: Math.max(16, Math.ceil((rows * cols * 3 * 4) / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    device.queue.writeBuffer(this.params, 0, new Uint32Array([rows, cols, cols, rows]));
    this.bindGroup = device.createBindGroup({
      label: SHADER,
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.display } },
        { binding: 1, resource: { buffer: this.params } },
      ],
    });
  }

  private encodeDraw(encoder: GPUCommandEncoder): void {
    const pass = encoder.beginRenderPass({
      label: SHADER,
      colorAttachments: [{ view: this.context.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 1] }],
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup!);
    pass.draw(3);
    pass.end();
  }

  /**
   * Called right after each draw is submitted, in the same task (tests read the canvas here:
   * a WebGPU canvas reads back as transparent black once its frame has been presented).
   */
  afterDraw: ((canvas: HTMLCanvasElement) => void) | null = null;

  /**
   * Copies x ([rows, cols, 3] f32, the current size; one buffer per row band of `segments`
   * floats) into the display buffer and draws it.
   */
  async show(parts: readonly GPUBuffer[], segments: readonly number[]): Promise<void> {
    if (!this.display) throw new Error('CaffeCanvas.show before setSize');
    if (parts.length !== segments.length || segments.reduce((a, b) => a + b, 0) !== this.rows * this.cols * 3) {
      throw new Error(`CaffeCanvas.show: ${parts.length} buffer(s) of ${segments.join('+')} floats for a ${this.rows}x${this.cols} image`);
    }
    const enc = this.ctx.device.createCommandEncoder({ label: 'show iterate' });
    let offset = 0;
    for (const [k, len] of segments.entries()) {
      enc.copyBufferToBuffer(parts[k], 0, this.display, offset, len * 4);
      offset += len * 4;
    }
    this.encodeDraw(enc);
    await this.submit(enc);
  }

  private submit(enc: GPUCommandEncoder): Promise<void> {
    const done = submitChecked(this.ctx, [enc.finish()], 'drawing the canvas'); // submits now, checks later
    this.afterDraw?.(this.canvas);
    return done;
  }

  /**
   * Draws the display buffer and reads the canvas back in the same task (RGBA, [rows, cols, 4]):
   * what the canvas shows, through the render pass (for tests; the page never needs it).
   */
  readPixels(): Uint8ClampedArray {
    if (!this.display) throw new Error('no image yet');
    const enc = this.ctx.device.createCommandEncoder({ label: 'redraw for reading' });
    this.encodeDraw(enc);
    this.ctx.device.queue.submit([enc.finish()]);
    return canvasPixels(this.canvas);
  }

  /** Uploads caffe-BGR values ([rows, cols, 3], the current size) and draws them. */
  async showValues(values: Float32Array): Promise<void> {
    if (!this.display) throw new Error('CaffeCanvas.showValues before setSize');
    if (values.length !== this.rows * this.cols * 3) throw new Error(`showValues: ${values.length} values for ${this.rows}x${this.cols}x3`);
    this.ctx.device.queue.writeBuffer(this.display, 0, values.buffer, values.byteOffset, values.byteLength);
    await this.redraw();
  }

  /** Shows an RGBA image of the current size. */
  showImage(img: RgbaImage): Promise<void> {
    return this.showValues(toCaffe(img));
  }

  /** Draws the display buffer again (e.g. after the canvas was cleared). */
  async redraw(): Promise<void> {
    if (!this.display) return;
    const enc = this.ctx.device.createCommandEncoder({ label: 'redraw' });
    this.encodeDraw(enc);
    await this.submit(enc);
  }

  /** The image on the canvas as RGBA (a read-back of the display buffer: for Download and checkpoints only). */
  async snapshot(): Promise<RgbaImage> {
    if (!this.display) throw new Error('no image yet');
    const n = this.rows * this.cols * 3;
    return fromCaffe(await readFloats(this.ctx, this.display, n), this.rows, this.cols);
  }

  /** The display buffer's values ([rows, cols, 3] caffe BGR; a read-back, for tests). */
  async values(): Promise<Float32Array> {
    if (!this.display) throw new Error('no image yet');
    return readFloats(this.ctx, this.display, this.rows * this.cols * 3);
  }

  destroy(): void {
    this.display?.destroy();
    this.display = null;
    this.params.destroy();
    try {
      this.context.unconfigure();
    } catch {
      // a lost device's context may refuse; nothing to free then
    }
  }
}

/**
 * The pixels of a canvas, read through a 2D canvas (RGBA, [height, width, 4]). For a WebGPU
 * canvas this is only meaningful in the task that drew it, before the frame is presented.
 */
export function canvasPixels(canvas: HTMLCanvasElement): Uint8ClampedArray {
  const copy = document.createElement('canvas');
  copy.width = canvas.width;
  copy.height = canvas.height;
  const g = copy.getContext('2d', { willReadFrequently: true });
  if (!g) throw new Error('no 2D canvas context');
  g.drawImage(canvas, 0, 0);
  return g.getImageData(0, 0, canvas.width, canvas.height).data;
}

export interface DisplayCheck {
  rows: number;
  cols: number;
  /** largest |canvas - fromCaffe| over RGB, in 1/255 steps */
  maxDiffFromCaffe: number;
  /** the buffer drawn, [rows, cols, 3] caffe BGR (the test compares `pixels` with displayCaffeBytesCpu of it) */
  input: number[];
  /** the canvas read back, [rows, cols, 4] RGBA bytes */
  pixels: number[];
  /** pixels whose alpha is not 255 */
  nonOpaque: number;
  ok: boolean;
}

/**
 * Draws a known 5 x 7 buffer (values below 0 and above 255 after adding the mean, and
 * fractions near .5) with display_caffe.wgsl into a fresh canvas and compares the canvas with
 * fromCaffe.
 */
export async function checkDisplay(ctx: GpuContext): Promise<DisplayCheck> {
  const rows = 5;
  const cols = 7;
  const x = new Float32Array(rows * cols * 3);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 37) % 301) - 150 + ((i % 4) * 0.25 + 0.125); // -150 .. +151, quarter steps
  x[0] = -500; // clips to 0
  x[1] = 500; // clips to 255
  const canvas = document.createElement('canvas');
  const view = await CaffeCanvas.create(ctx, canvas);
  try {
    view.setSize(rows, cols);
    await view.showValues(x);
    const got = view.readPixels();
    const ref = fromCaffe(x, rows, cols).data;
    let maxDiffFromCaffe = 0;
    let nonOpaque = 0;
    for (let p = 0; p < rows * cols; p++) {
      for (let c = 0; c < 3; c++) {
        maxDiffFromCaffe = Math.max(maxDiffFromCaffe, Math.abs(got[p * 4 + c] - ref[p * 4 + c]));
      }
      if (got[p * 4 + 3] !== 255) nonOpaque++;
    }
    return { rows, cols, maxDiffFromCaffe, nonOpaque, input: Array.from(x), pixels: Array.from(got), ok: maxDiffFromCaffe <= 1 && nonOpaque === 0 };
  } finally {
    view.destroy();
  }
}
