// GPU memory we can state: every GPUBuffer the project creates is counted.
//
// trackMemory(device) (called once by acquireGpu in device.ts) wraps device.createBuffer so that
// each buffer's size is added to the live total when it is created, and its destroy() is wrapped
// so that the size is taken off again (once, however often destroy() is called). Everything in
// src/ that allocates (runtime.ts createStorage/uploadStorage/createUniform/readBuffer's
// staging buffer, optim/vecops.ts, the objective's read-back buffer, the GPU timer, the page's
// canvas) goes through device.createBuffer, so one wrapper sees all of them.
//
//   live bytes / live buffers      what exists now (created, not yet destroyed)
//   peak bytes                     the largest live bytes since the tracker was made or resetPeak()
//   buffers at peak                live buffers at the moment the peak bytes were reached
//   peak buffers                   the largest live buffer count (may occur at another moment)
//
// What is not counted: textures and query sets (the page's canvas texture, the timer's query
// set), the driver's own overheads and alignment padding, pipelines and shader code. A buffer
// that is dropped without destroy() stays counted as live (the GPU memory is held until the
// garbage collector frees it, which we cannot see); device.destroy() frees everything but is
// not tracked (the tracker is not used after that).
//
// Scopes: beginScope() returns a BufferScope that records the buffers created from then on;
// its destroyAll(keep) destroys those still alive except `keep`; buffers created inside
// scope.unrecorded(f) are not recorded (callbacks into the caller's code). The multi-scale transfer
// (src/style/transfer.ts) uses it to free one stage's objective (network plan, targets, Gram
// buffers, optimizer) before the next stage allocates its own.

/** A snapshot of the counts. */
export interface MemoryStats {
  liveBytes: number;
  liveBuffers: number;
  peakBytes: number;
  /** live buffers when peakBytes was reached */
  buffersAtPeak: number;
  peakBuffers: number;
  /** buffers created since the tracker was installed */
  created: number;
}

/** The part of a JSON report about memory: peak GPU bytes and the live buffers at that peak. */
export interface MemoryReport {
  peakGpuBytes: number;
  /** the number of live buffers at the moment of the peak */
  buffers: number;
}

export class BufferScope {
  private readonly buffers = new Set<GPUBuffer>();
  private closed = false;
  private finished = false;
  private paused = 0;
  constructor(private readonly tracker: GpuMemory) {}
  /** @internal called by the tracker for every buffer created while the scope is open */
  add(b: GPUBuffer): void {
    if (!this.closed && this.paused === 0) this.buffers.add(b);
  }
  /**
   * Runs f without recording the buffers it creates (a caller's callback, e.g. the page making
   * its display buffer during a progress report: those are not the scope's to free).
   */
  async unrecorded<T>(f: () => T | Promise<T>): Promise<T> {
    this.paused++;
    try {
      return await f();
    } finally {
      this.paused--;
    }
  }
  /** @internal */
  forget(b: GPUBuffer): void {
    this.buffers.delete(b);
  }
  /** @internal GpuMemory.adopt: b is this scope's to free, even if it stopped recording (not once it has freed its own) */
  take(b: GPUBuffer): void {
    if (!this.finished) this.buffers.add(b);
  }
  /** Buffers created in this scope and still alive. */
  get live(): number {
    return this.buffers.size;
  }
  /**
   * Stops recording; destroys every buffer created in the scope and still alive, except `keep`
   * and those being mapped right now (a read-back in flight destroys its own staging buffer).
   */
  destroyAll(keep: readonly GPUBuffer[] = []): void {
    this.close();
    const kept = new Set(keep);
    for (const b of [...this.buffers]) if (!kept.has(b) && b.mapState !== 'pending') b.destroy();
    this.buffers.clear();
    this.finished = true;
  }
  /** Stops recording without destroying anything. */
  close(): void {
    this.closed = true;
    this.tracker.endScope(this);
  }
}

export class GpuMemory {
  private live = new Map<GPUBuffer, number>();
  private liveBytes = 0;
  private peakBytes = 0;
  private buffersAtPeak = 0;
  private peakBuffers = 0;
  private created = 0;
  private readonly scopes = new Set<BufferScope>();

  /** @internal called by the wrapped createBuffer */
  onCreate(b: GPUBuffer, size: number): void {
    this.live.set(b, size);
    this.created++;
    this.liveBytes += size;
    if (this.liveBytes > this.peakBytes) {
      this.peakBytes = this.liveBytes;
      this.buffersAtPeak = this.live.size;
    }
    if (this.live.size > this.peakBuffers) this.peakBuffers = this.live.size;
    for (const s of this.scopes) s.add(b);
  }

  /** @internal called by the wrapped destroy */
  onDestroy(b: GPUBuffer): void {
    const size = this.live.get(b);
    if (size === undefined) return;
    this.live.delete(b);
    this.liveBytes -= size;
    for (const s of this.scopes) s.forget(b);
  }

  stats(): MemoryStats {
    return {
      liveBytes: this.liveBytes,
      liveBuffers: this.live.size,
      peakBytes: this.peakBytes,
      buffersAtPeak: this.buffersAtPeak,
      peakBuffers: this.peakBuffers,
      created: this.created,
    };
  }

  /** Peak bytes and the live buffers at that peak, as the JSON reports give them. */
  report(): MemoryReport {
    return { peakGpuBytes: this.peakBytes, buffers: this.buffersAtPeak };
  }

  /** Starts a new peak from what is live now. */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
    this.buffersAtPeak = this.live.size;
    this.peakBuffers = this.live.size;
  }

  /** The scopes open now: an object that makes buffers later, lazily, records them at its creation (see adopt). */
  openScopes(): ReadonlySet<BufferScope> {
    return new Set(this.scopes);
  }

  /**
   * Counts b as made by an object created while `owner` (openScopes() then) were open: b leaves
   * every open scope not among them and joins the owners (also those that stopped recording,
   * not those that already freed their buffers). For the buffers a longer-lived object makes
   * lazily, e.g. the network's flip-transposed kernel, first made by one stage's plan: the
   * stage's scope must not free it, the scope that holds the network must.
   */
  adopt(b: GPUBuffer, owner: ReadonlySet<BufferScope>): GPUBuffer {
    for (const s of this.scopes) if (!owner.has(s)) s.forget(b);
    for (const s of owner) s.take(b);
    return b;
  }

  /** Records the buffers created from now on (see BufferScope). */
  beginScope(): BufferScope {
    const s = new BufferScope(this);
    this.scopes.add(s);
    return s;
  }

  /** @internal */
  endScope(s: BufferScope): void {
    this.scopes.delete(s);
  }
}

const trackers = new WeakMap<GPUDevice, GpuMemory>();

/**
 * Installs the counting wrapper on `device` (once; later calls return the same tracker).
 * Buffers created before this call are not counted.
 */
export function trackMemory(device: GPUDevice): GpuMemory {
  let t = trackers.get(device);
  if (t) return t;
  const tracker = new GpuMemory();
  t = tracker;
  trackers.set(device, tracker);
  const create = device.createBuffer.bind(device);
  device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    const b = create(desc);
    tracker.onCreate(b, desc.size);
    const destroy = b.destroy.bind(b);
    b.destroy = () => {
      tracker.onDestroy(b);
      destroy();
    };
    return b;
  };
  return tracker;
}

/** The tracker of a context's device (installed by acquireGpu; installed now if it is not). */
export function gpuMemory(ctx: { device: GPUDevice }): GpuMemory {
  return trackMemory(ctx.device);
}
