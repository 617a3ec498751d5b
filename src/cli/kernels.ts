// src/cli/kernels.ts — `neural-style kernels`: the kernel table for the adapter at hand: per VGG19
// layer and direction, the conv3x3 version that runs, why, and (tuned) the measured ms of each
// candidate (src/kernels/kernel_table.ts). In the default mode `tuned` it tunes the shapes not yet
// in the cache (src/kernels/kernel_cache.ts), so running it once before a transfer takes the
// tuning out of the transfer's set-up.
//
//   neural-style kernels [--rows 400] [--cols 533] [--layer block5_conv2] [--kernels tuned|default]
//                        [--no-tune] [--max-buffer-mib N] [--json FILE|-]

import { Command, CommanderError, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { EXIT, parseIntFlag, UsageError } from './args.ts';
import { layerIndex, minInputSide, VGG19_LAYER_NAMES } from '../model/vgg19_layers.ts';
import type { KernelRow } from '../kernels/kernel_table.ts';

const NAME = 'neural-style kernels';

export interface KernelsCliOptions {
  rows: number;
  cols: number;
  layer: string;
  kernels: 'default' | 'tuned';
  tune: boolean;
  maxBufferBytes?: number;
  /** JSON output file, '-' for stdout */
  json?: string;
}

function command(): Command {
  return new Command(NAME)
    .description('Show which conv3x3 kernel version runs at each VGG19 layer and direction on this adapter, and why (tuned: measured ms of each candidate).')
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(false)
    .exitOverride()
    .addOption(new Option('--rows <n>', 'image height in pixels').default('400'))
    .addOption(new Option('--cols <n>', 'image width in pixels (default: rows x 533/400, the notebook pair)'))
    .addOption(new Option('--layer <name>', 'deepest VGG19 layer run').default('block5_conv2'))
    .addOption(new Option('--kernels <mode>', 'default: the hand-written choice; tuned: measured on this adapter, cached').choices(['default', 'tuned']).default('tuned'))
    .option('--no-tune', 'tuned: show only what the cache holds; do not time the shapes missing from it')
    .option('--max-buffer-mib <n>', "largest GPU buffer in MiB (default: the device's limit), as in a transfer")
    .option('--json <file>', "write the table as JSON to this file ('-': stdout)")
    .addHelpText('after', '\nThe cache: $XDG_CACHE_HOME/neural-style-webgpu/kernels.json (default ~/.cache/...), per adapter and shape.\nExit codes: 0 done, 1 runtime failure (no GPU), 2 usage error.');
}

/** Parses `kernels`' arguments: the options, or the help text; throws UsageError. */
export function parseKernelsArgs(argv: readonly string[]): { help: string } | { options: KernelsCliOptions } {
  const cmd = command();
  let out = '';
  cmd.configureOutput({ writeOut: (s) => void (out += s), writeErr: () => {} });
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return { help: out };
    throw new UsageError(e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '));
  }
  const raw = cmd.opts() as Record<string, string | boolean | undefined>;
  const layer = raw.layer as string;
  try {
    layerIndex(layer);
  } catch {
    throw new UsageError(`--layer: unknown VGG19 layer "${layer}"; valid layers: ${VGG19_LAYER_NAMES.join(', ')}`);
  }
  const min = minInputSide(layer);
  const rows = parseIntFlag('--rows', raw.rows as string, min);
  const cols = raw.cols === undefined ? Math.max(min, Math.round((rows * 533) / 400)) : parseIntFlag('--cols', raw.cols as string, min);
  const maxBufferBytes = raw.maxBufferMib === undefined ? undefined : parseIntFlag('--max-buffer-mib', raw.maxBufferMib as string, 1) * 2 ** 20;
  return { options: { rows, cols, layer, kernels: raw.kernels as 'default' | 'tuned', tune: raw.tune !== false, maxBufferBytes, json: raw.json as string | undefined } };
}

/** The table as text: one line per layer and direction. */
export function formatKernelTable(rows: readonly KernelRow[]): string {
  const lines = rows.map((r) => {
    const shape = `${r.shape.H}x${r.shape.W} ${r.shape.Cin}->${r.shape.Cout}`;
    const ms = r.ms?.[r.version] !== undefined ? `${r.ms[r.version]!.toFixed(1)} ms` : '';
    const others = r.ms ? Object.entries(r.ms).filter(([v]) => v !== r.version).map(([v, t]) => `${v} ${t!.toFixed(1)}`).join(', ') : '';
    return [r.layer.padEnd(13), r.direction.padEnd(8), shape.padEnd(18), r.version.padEnd(3), ms.padStart(10), `  ${r.why}${others ? ` [${others} ms]` : ''}`].join(' ');
  });
  return [`${'layer'.padEnd(13)} ${'dir'.padEnd(8)} ${'shape (rows/call)'.padEnd(18)} ver ${'ms'.padStart(10)}  why`, ...lines].join('\n');
}

/** Runs `neural-style kernels` (argv after "kernels"); returns the exit code. UsageError propagates to main. */
export async function runKernels(argv: readonly string[]): Promise<number> {
  const parsed = parseKernelsArgs(argv);
  if ('help' in parsed) {
    process.stdout.write(parsed.help);
    return EXIT.ok;
  }
  const o = parsed.options;
  const { acquireGpu } = await import('../gpu/device.ts');
  const { convSites, deviceBufferLimit } = await import('../model/vgg19.ts');
  const { kernelTable } = await import('../kernels/kernel_table.ts');
  const { adapterKey, kernelCachePath } = await import('../kernels/kernel_cache.ts');
  const ctx = await acquireGpu();
  try {
    const maxBytes = Math.min(o.maxBufferBytes ?? Infinity, deviceBufferLimit(ctx));
    const sites = convSites(o.rows, o.cols, layerIndex(o.layer), maxBytes);
    const t0 = performance.now();
    const table = await kernelTable(ctx, sites, { mode: o.kernels, maxBytes, tune: o.tune, onTune: (l) => process.stderr.write(`tuning ${l}\n`) });
    const seconds = (performance.now() - t0) / 1e3;
    const report = {
      adapter: ctx.description,
      adapterKey: adapterKey(ctx),
      subgroups: ctx.subgroups,
      rows: o.rows,
      cols: o.cols,
      mode: o.kernels,
      cache: o.kernels === 'tuned' ? await kernelCachePath() : null,
      seconds,
      kernels: table.map((r) => ({ layer: r.layer, direction: r.direction, shape: r.shape, version: r.version, defaultVersion: r.defaultVersion, why: r.why, measured: r.measured, ms: r.ms ?? null })),
    };
    if (o.json === '-') process.stdout.write(JSON.stringify(report, null, 1) + '\n');
    else {
      process.stdout.write(`${ctx.description}${ctx.subgroups ? ` (subgroups ${ctx.subgroups.minSize}-${ctx.subgroups.maxSize})` : ''}, ${o.cols}x${o.rows}, kernels ${o.kernels}${o.kernels === 'tuned' ? ` (${seconds.toFixed(1)} s)` : ''}\n`);
      process.stdout.write(formatKernelTable(table) + '\n');
      if (o.json) writeFileSync(o.json, JSON.stringify(report, null, 1) + '\n');
    }
    return EXIT.ok;
  } finally {
    ctx.device.destroy();
  }
}
