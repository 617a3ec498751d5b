// src/model/working_size.ts — the one check of a working size against the network: every place
// that takes a number of rows (the CLI's --rows and --scales when parsing, again with the
// content image's aspect ratio, the transfer and eval entry points, the network's plan) calls
// fitWorkingSize, so there is one rule and one message, and the message says the fix.
//
//   fitWorkingSize({rows, deepest, image?, cols?, flag?}) → {rows, cols}
//
// The rule: the deepest layer used is reached after p poolings (each halves the size, rounding
// down), so both sides must be at least 2^p pixels (minInputSide). The columns follow the
// content image: cols = trunc(width · rows / height), as image/resize.ts workingSize (and the
// notebook's int(width * rows / height)).
//
// The message, e.g. for a 2×2000 image at 400 rows:
//   --rows 400 is too small for this image: the 2×2000 content image is 0×400 pixels at 400
//   rows, and the deepest layer used (block5_conv2, after 4 poolings) needs at least 16 rows and
//   16 columns: use --rows 16000 or more, or crop the image (its sides are 1:1000)

import { minInputSide } from './vgg19_layers.ts';

export interface WorkingSizeQuery {
  /** the working height asked for */
  rows: number;
  /** the deepest VGG19 layer the objective uses (e.g. block5_conv2) */
  deepest: string;
  /** the content image: the columns follow its aspect ratio */
  image?: { width: number; height: number };
  /** the columns, when known without an image (a plan's H x W) */
  cols?: number;
  /** what set the rows, named in the message: '--rows', '--scales' (CLI) or 'rows' (default) */
  flag?: string;
}

/** The smallest rows >= min at which an image of this aspect ratio has at least min columns. */
function rowsNeeded(min: number, image?: { width: number; height: number }): number {
  if (!image) return min;
  let need = Math.max(min, Math.ceil((min * image.height) / image.width));
  while (Math.trunc((image.width * need) / image.height) < min) need++;
  return need;
}

/**
 * The working size {rows, cols} for q, or an Error whose one-line message names the flag, the
 * size, the layer that needs more, and the rows that work.
 */
export function fitWorkingSize(q: WorkingSizeQuery): { rows: number; cols: number } {
  const flag = q.flag ?? 'rows';
  const { rows, image } = q;
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`${flag} must be an integer >= 1, got ${rows}`);
  if (image && !(image.width >= 1 && image.height >= 1)) throw new Error(`the content image has no pixels (${image.width}×${image.height})`);
  const cols = q.cols ?? (image ? Math.trunc((image.width * rows) / image.height) : undefined);
  const min = minInputSide(q.deepest);
  if (rows >= min && (cols === undefined || cols >= min)) return { rows, cols: cols ?? rows };

  const need = rowsNeeded(min, image);
  const what = image
    ? ` for this image: the ${image.width}×${image.height} content image is ${cols}×${rows} pixels at ${rows} rows, and`
    : cols !== undefined
      ? `: the working size is ${cols}×${rows} pixels, and`
      : ':';
  let fix = `use ${flag} ${need} or more`;
  if (cols !== undefined && !image) fix = `both sides must be at least ${min}`;
  if (image) {
    const ratio = Math.max(image.width, image.height) / Math.min(image.width, image.height);
    if (ratio > 8) fix += `, or crop the image (its sides are ${image.width < image.height ? `1:${Math.round(ratio)}` : `${Math.round(ratio)}:1`})`;
  }
  const pools = Math.log2(min);
  throw new Error(
    `${flag} ${rows} is too small${what} the deepest layer used (${q.deepest}, after ${pools} pooling${pools === 1 ? '' : 's'}) needs at least ${min} rows and ${min} columns: ${fix}`,
  );
}
