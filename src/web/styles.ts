// src/web/styles.ts — the page's extra style controls: a blend slider and a mask for the first
// style (the image in the style drop zone), and any number of further styles, each with its
// image, blend slider and mask (a grey image, white = this style applies there; uploaded).
//
// read() says what the transfer gets: null while there is one style and no mask (the page then
// runs exactly the single-style transfer, `style` only), else the library's several-style
// fields { styles, styleBlend, styleMasks } (blend weights as the sliders give them, 0..1; the
// library normalises them to sum 1). A further style without an image is left out.

import { acceptFiles, decodeFile, drawThumbnail, type PickedImage } from './images.ts';
import type { RgbaImage } from '../image/types.ts';

/** The several-style fields of TransferOptions (src/style/types.ts). */
export interface StyleFields {
  styles: RgbaImage[];
  styleBlend: number[];
  styleMasks: Array<RgbaImage | null>;
}

interface Entry {
  /** null for the first style (its image lives in the style drop zone) */
  image: PickedImage | null;
  mask: PickedImage | null;
  blend: HTMLInputElement;
  root: HTMLElement;
  inputs: HTMLInputElement[];
}

const ACCEPT = 'image/jpeg,image/png,.jpg,.jpeg,.png';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, attrs: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** The blend weights and masks that go with `images`; validation problems as sentences. */
export function styleFields(images: RgbaImage[], blend: number[], masks: Array<RgbaImage | null>): { fields: StyleFields | null; problems: string[] } {
  if (images.length <= 1 && !masks.some(Boolean)) return { fields: null, problems: [] };
  const problems: string[] = [];
  if (blend.some((w) => !Number.isFinite(w) || w < 0)) problems.push('style blend weights must be numbers >= 0');
  else if (!blend.some((w) => w > 0)) problems.push('at least one style needs a blend weight above 0');
  return { fields: problems.length ? null : { styles: images, styleBlend: blend, styleMasks: masks }, problems };
}

export class StyleExtras {
  private readonly entries: Entry[] = [];
  private counter = 0;

  constructor(
    private readonly list: HTMLElement,
    private readonly addButton: HTMLButtonElement,
    private readonly onChange: (message?: string) => void,
  ) {
    this.entries.push(this.makeEntry(0));
    addButton.addEventListener('click', () => {
      this.entries.push(this.makeEntry(++this.counter));
      this.onChange();
    });
  }

  /** How many styles (with an image) and masks the next run gets, first style counted. */
  counts(): { styles: number; masks: number } {
    const used = this.entries.filter((e, i) => i === 0 || e.image);
    return { styles: used.length, masks: used.filter((e) => e.mask).length };
  }

  /** The fields for the transfer given the first style's image (see the file comment). */
  read(first: RgbaImage): { fields: StyleFields | null; problems: string[] } {
    const used = this.entries.filter((e, i) => i === 0 || e.image);
    return styleFields(
      used.map((e, i) => (i === 0 ? first : e.image!.image)),
      used.map((e) => Number(e.blend.value)),
      used.map((e) => e.mask?.image ?? null),
    );
  }

  setLocked(locked: boolean): void {
    this.addButton.disabled = locked;
    for (const e of this.entries) for (const i of e.inputs) i.disabled = locked;
  }

  private makeEntry(n: number): Entry {
    const root = el('div', { className: 'style-entry' }, { 'data-testid': `style-entry-${n}` });
    const inputs: HTMLInputElement[] = [];
    const entry: Entry = { image: null, mask: null, blend: null as unknown as HTMLInputElement, root, inputs };
    const title = el('span', { className: 'style-entry-title', textContent: n === 0 ? 'Style 1 (above)' : `Style ${this.entries.length + 1}` });
    root.append(title);

    if (n > 0) {
      const drop = el('label', { className: 'style-entry-image' });
      const thumb = el('canvas', { className: 'mini-thumb', hidden: true });
      const hint = el('span', { className: 'drop-hint', textContent: 'image…' });
      const file = el('input', { type: 'file', accept: ACCEPT, id: `style-file-${n}` }, { 'data-testid': `style-file-${n}`, 'aria-label': `style ${n + 1} image` });
      inputs.push(file);
      drop.append(thumb, hint, file);
      root.append(drop);
      acceptFiles(drop, file, (f) =>
        void decodeFile(f).then(
          (p) => {
            entry.image = p;
            drawThumbnail(thumb, p.image);
            thumb.hidden = false;
            hint.textContent = p.name;
            this.onChange();
          },
          (e: unknown) => this.onChange(`Could not read that style image: ${e instanceof Error ? e.message : String(e)}`),
        ),
      );
    }

    const blendLabel = el('label', { className: 'style-entry-blend', textContent: 'blend ' });
    const blend = el('input', { type: 'range', min: '0', max: '1', step: '0.05', value: '1', id: `style-blend-${n}` }, { 'data-testid': `style-blend-${n}` });
    const blendValue = el('output', { textContent: '1.00' });
    blend.addEventListener('input', () => {
      blendValue.textContent = Number(blend.value).toFixed(2);
      this.onChange();
    });
    blendLabel.append(blend, blendValue);
    entry.blend = blend;
    inputs.push(blend);
    root.append(blendLabel);

    const maskLabel = el('label', { className: 'style-entry-mask', title: 'a grey image: white = this style applies there (resized to the working size)' });
    const maskName = el('span', { textContent: 'mask: none' });
    const mask = el('input', { type: 'file', accept: ACCEPT, id: `style-mask-${n}` }, { 'data-testid': `style-mask-${n}`, 'aria-label': `style ${n + 1} mask` });
    mask.addEventListener('change', () => {
      const f = mask.files?.[0];
      if (!f) return;
      void decodeFile(f).then(
        (p) => {
          entry.mask = p;
          maskName.textContent = `mask: ${p.name}`;
          this.onChange();
        },
        (e: unknown) => this.onChange(`Could not read that mask: ${e instanceof Error ? e.message : String(e)}`),
      );
    });
    inputs.push(mask);
    maskLabel.append(maskName, mask);
    root.append(maskLabel);

    if (n > 0) {
      const remove = el('button', { type: 'button', className: 'secondary', textContent: 'Remove' }, { 'data-testid': `style-remove-${n}` });
      remove.addEventListener('click', () => {
        this.entries.splice(this.entries.indexOf(entry), 1);
        root.remove();
        this.onChange();
      });
      inputs.push(remove as unknown as HTMLInputElement);
    }
    this.list.append(root);
    return entry;
  }
}
