// The page's code (placeholder): reports whether this browser offers a WebGPU adapter.
import { getGpu, NO_WEBGPU_HELP_BROWSER } from '../gpu/device.ts';

async function main(status: HTMLElement): Promise<void> {
  const gpu = await getGpu();
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: 'high-performance' }) : null;
  if (!adapter) {
    status.textContent = `WebGPU available: no. ${NO_WEBGPU_HELP_BROWSER}`;
    return;
  }
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.description].filter((s) => !!s).join(' / ') || 'unknown adapter';
  status.textContent = `WebGPU available: yes (${name})`;
}

const status = document.getElementById('status')!;
main(status).catch((e: unknown) => {
  status.textContent = `WebGPU available: no (${e instanceof Error ? e.message : String(e)})`;
});
