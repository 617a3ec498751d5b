// Getting the content and style images: a file chooser, drag and drop, or the bundled example
// pair (served at /images/ by the dev and preview servers). Decoding is the project's own
// (src/image/decode.ts: JPEG and PNG, EXIF orientation, clear errors), so the page and the CLI
// see the same pixels.

import { decodeImage } from '../image/decode.ts';
import type { RgbaImage } from '../image/types.ts';

export interface PickedImage {
  /** file name (or URL's last part) for captions, messages and the PNG record */
  name: string;
  image: RgbaImage;
}

export const EXAMPLE_PAIR = { content: 'tubingen.jpg', style: 'starry_night.jpg' } as const;
export const DEFAULT_IMAGES_URL = '/images/';

/** Decodes a chosen or dropped file; throws "<name>: ..." when it is not a readable JPEG or PNG. */
export async function decodeFile(file: File): Promise<PickedImage> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { name: file.name, image: decodeImage(bytes, file.name) };
}

/** Fetches and decodes an image by URL. */
export async function fetchImage(url: string): Promise<PickedImage> {
  const name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() || url);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${url}: could not be fetched (${(e as Error).message})`);
  }
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}${res.status === 404 ? ' (the example images are served only by `npm run dev` / `vite preview`; choose your own images instead)' : ''}`);
  return { name, image: decodeImage(new Uint8Array(await res.arrayBuffer()), name) };
}

/** Draws an image into a (2D) thumbnail canvas at full resolution; CSS sizes it. */
export function drawThumbnail(canvas: HTMLCanvasElement, img: RgbaImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const g = canvas.getContext('2d');
  if (!g) return;
  g.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}

/**
 * Makes `zone` accept dropped files and `input` chosen ones; `onFile` gets the first file.
 * The zone is highlighted while a file is dragged over it.
 */
export function acceptFiles(zone: HTMLElement, input: HTMLInputElement, onFile: (file: File) => void): void {
  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (f) onFile(f);
    input.value = ''; // choosing the same file again fires change again
  });
  const over = (e: DragEvent) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    zone.classList.add('dragover');
  };
  zone.addEventListener('dragenter', over);
  zone.addEventListener('dragover', over);
  zone.addEventListener('dragleave', () => zone.classList.remove('dragover'));
  zone.addEventListener('drop', (e) => {
    zone.classList.remove('dragover');
    const f = e.dataTransfer?.files?.[0];
    if (!f) return;
    e.preventDefault();
    onFile(f);
  });
}
