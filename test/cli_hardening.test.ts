// The command line against hostile or awkward input (issue 10): decompression bombs and short
// PNGs, the one working-size check and its message, usage messages that point at the right
// help, progress counted in the plan's unit, outputs that alias inputs or each other, Ctrl-C
// before the first iteration, weights that overflow float32, and non-finite losses.
// The first groups run without the GPU; the last spawn short runs on lavapipe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EXIT } from '../src/cli/args.ts';
import { createProgress, formatProgressLine, RateMeter } from '../src/cli/progress.ts';
import { Writable } from 'node:stream';
import { jsonBytes, messageOf } from '../src/cli/main.ts';
import { cleanGpuMessage } from '../src/gpu/device.ts';
import { encodePng } from '../src/image/decode.ts';
import { cli, noStack, ours, ROOT, STARRY, TUBINGEN, usageError } from './cli_helpers.ts';
import { headerPng } from './png_fixtures.ts';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'neural-style-harden-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});


const grey = (w: number, h: number) => encodePng({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4).fill(128) });

describe('hostile images and the pixel limit (no GPU)', () => {
  it('a 68-byte PNG saying 20000×20000 is refused at once naming the file, the limit and --max-pixels; a short PNG names the file', async () => {
    const bomb = join(tmp, 'bomb.png');
    writeFileSync(bomb, headerPng(20000, 20000, new Uint8Array(10)));
    const out = join(tmp, 'bomb-out.png');
    const t0 = performance.now();
    const r = await cli(['--content', bomb, '--style', STARRY, '--out', out], 60_000);
    expect(performance.now() - t0).toBeLessThan(30_000); // (node start-up included; the old decoder took 52 s and 7.9 GB)
    expect(r.code, r.stderr).toBe(EXIT.failure);
    expect(ours(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/--content: .*bomb\.png: the image is 20000×20000 = 400 megapixels, over the limit of 100 megapixels .*--max-pixels/);
    expect(r.stderr).not.toMatch(/RangeError|Array buffer allocation/);
    noStack(r);
    // raising the limit reaches the length check of the pixel data
    const r2 = await cli(['--content', bomb, '--style', STARRY, '--out', out, '--max-pixels', '400000000'], 60_000);
    expect(r2.code, r2.stderr).toBe(EXIT.failure);
    expect(r2.stderr).toMatch(/bomb\.png: truncated or corrupt PNG: the pixel data inflates to 10 bytes, but the header \(20000×20000, RGB, 8-bit\) implies 1200020000/);
    const short = join(tmp, 'short.png');
    writeFileSync(short, headerPng(64, 64, new Uint8Array(64 * (1 + 64 * 3) - 100)));
    const r3 = await cli(['--content', TUBINGEN, '--style', short, '--out', out, '--rows', '64'], 60_000);
    expect(r3.code, r3.stderr).toBe(EXIT.failure);
    expect(r3.stderr).toMatch(/--style: .*short\.png: truncated or corrupt PNG: the pixel data inflates to 12252 bytes, but the header \(64×64, RGB, 8-bit\) implies 12352/);
    expect(existsSync(out)).toBe(false);
    expect(usageError(['--content', 'a', '--style', 'b', '--out', 'o.png', '--max-pixels', '0']).message).toMatch(/--max-pixels must be an integer >= 1/);
  });
});

describe('messages (no GPU)', () => {
  it('a 2×2000 image: the one working-size message, with the rows that work (no internal names)', async () => {
    const thin = join(tmp, 'thin.png');
    writeFileSync(thin, grey(2, 2000));
    const r = await cli(['--content', thin, '--style', STARRY, '--out', join(tmp, 'thin-out.png')], 60_000);
    expect(r.code, r.stderr).toBe(EXIT.failure);
    expect(ours(r)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/workingSize/);
    expect(r.stderr).toMatch(
      /--rows 400 is too small for this image: the 2×2000 content image is 0×400 pixels at 400 rows, and the deepest layer used \(block5_conv2, after 4 poolings\) needs at least 16 rows and 16 columns: use --rows 16000 or more, or crop the image \(its sides are 1:1000\)/,
    );
    const ev = await cli(['eval', '--content', thin, '--style', STARRY, '--json', join(tmp, 'thin.json')], 60_000);
    expect(ev.code, ev.stderr).toBe(EXIT.failure);
    expect(ev.stderr).toMatch(/--rows 400 is too small for this image: .* use --rows 16000 or more/);
  });

  it('usage errors point at the help of their mode, and say it once', async () => {
    const cases: Array<[string[], string]> = [
      [['eval', '--content', 'a.jpg', '--style', 'b.jpg', '--json', 'j.json', '--tv-weight', 'x'], 'neural-style eval --help'],
      [['eval', '--content', 'a.jpg', '--style', 'b.jpg', '--json', 'j.json', 'stray'], 'neural-style eval --help'],
      [['sweep', '--content', 'a.jpg', '--style', 'b.jpg', '--out', 's.png', 'stray'], 'neural-style sweep --help'],
      [['example', '--rows', '8'], 'neural-style example --help'],
      [['--content', 'a.jpg', '--style', 'b.jpg', '--out', 'o.png', 'stray'], 'neural-style --help'],
    ];
    for (const [args, help] of cases) {
      const r = await cli(args, 60_000);
      expect(r.code, r.stderr).toBe(EXIT.usage);
      expect(ours(r)).toHaveLength(1);
      expect(r.stderr.trimEnd().endsWith(`(see ${help})`), r.stderr).toBe(true);
      expect(r.stderr.match(/--help/g), r.stderr).toHaveLength(1);
    }
  });

  it('progress counts what the plan counts: iterations for --iterations, evaluations for rounds', () => {
    const p = { iteration: 5, evaluation: 11, planned: 2, plannedUnit: 'iteration' as const, loss: 12.5, seconds: 10 };
    const m = new RateMeter();
    m.measure({ ...p, iteration: 1, evaluation: 3, seconds: 2 });
    const { rate, eta } = m.measure({ ...p, planned: 9 });
    expect(eta).toBeCloseTo(8); // 4 iterations left at 0.5 iterations/s
    expect(formatProgressLine({ ...p, planned: 9 }, rate, eta)).toBe('iteration 5/9  evaluation 11  loss 1.2500e+1  1.00 evals/s  eta 8s');
    expect(formatProgressLine({ ...p, planned: 200, plannedUnit: 'evaluation' }, rate, eta)).toMatch(/^iteration 5 {2}evaluation 11\/200 /);
    // the bar on a terminal: the count out of the plan is the plan's unit
    for (const [unit, want] of [['iteration', /iteration \[[█░]+\] 2\/5 \| evaluation 5 \| loss/], ['evaluation', /iteration 2 \[[█░]+\] 5\/5 evals \| loss/]] as const) {
      let text = '';
      const stream = Object.assign(new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) }), { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
      const bar = createProgress(stream, true);
      bar.update({ iteration: 0, evaluation: 1, planned: 5, plannedUnit: unit, loss: 100, seconds: 1 });
      bar.update({ iteration: 2, evaluation: 5, planned: 5, plannedUnit: unit, loss: 50, seconds: 3 });
      bar.stop();
      expect(text, unit).toMatch(want);
      expect(text, unit).not.toMatch(/\{\w+\}/);
    }
  });

  it("Dawn's backtrace lines (at CheckVkSuccessImpl ...) are dropped from GPU errors; the message and its context stay, on one line", () => {
    const dawn = [
      'Out of memory: vkAllocateMemory failed with VK_ERROR_OUT_OF_DEVICE_MEMORY',
      ' - While calling [Device "neural-style"].CreateBuffer([BufferDescriptor "conv5_1 y"]).',
      '    at CheckVkSuccessImpl (../../third_party/dawn/src/dawn/native/vulkan/VulkanError.cpp:88)',
      '    at Initialize (../../third_party/dawn/src/dawn/native/vulkan/BufferVk.cpp:224)',
    ].join('\n');
    expect(cleanGpuMessage(dawn)).toBe(dawn.split('\n').slice(0, 2).join('\n'));
    expect(messageOf(new Error(dawn))).toBe('Out of memory: vkAllocateMemory failed with VK_ERROR_OUT_OF_DEVICE_MEMORY - While calling [Device "neural-style"].CreateBuffer([BufferDescriptor "conv5_1 y"]).');
    expect(cleanGpuMessage('a plain message at the end (no file)')).toBe('a plain message at the end (no file)');
  });

  it('--help states the pixel limit and the largest weights', async () => {
    const r = await cli(['--help'], 60_000);
    expect(r.stdout).toMatch(/--max-pixels <n>[\s\S]*100000000/);
    expect(r.stdout).toMatch(/Limits: an input image may have at most --max-pixels pixels \(default 100 megapixels\)/);
    expect(r.stdout).toMatch(/A loss weight may be at most 3\.4e38 \(the largest float32\)/);
    expect(r.stdout).toMatch(/an output\s+that is the same file as an input/);
  });
});

describe('outputs never alias inputs or each other (no GPU: refused before the weights load)', () => {
  it('--out, --json, --grad-out, --save-every and sweep outputs against content, style, mask, init, weights: refused with or without --force, nothing changed', async () => {
    const dir = join(tmp, 'alias');
    mkdirSync(dir);
    const content = join(dir, 'content.png');
    const style = join(dir, 'style.png');
    const mask = join(dir, 'mask.png');
    const init = join(dir, 'start.png');
    for (const [p, v] of [[content, 100], [style, 150], [mask, 255], [init, 50]] as const) {
      writeFileSync(p, encodePng({ width: 48, height: 32, data: new Uint8ClampedArray(48 * 32 * 4).fill(v) }));
    }
    symlinkSync(style, join(dir, 'link-to-style.png'));
    const fakeWeights = join(dir, 'weights');
    mkdirSync(fakeWeights);
    writeFileSync(join(fakeWeights, 'weights_manifest.json'), '[]'); // never read: refused first
    const snapshotNamed = join(dir, 'snap_0005.png');
    writeFileSync(snapshotNamed, readFileSync(content));
    const sweepCell = join(dir, 'sheet_c1_s10_tv0.1.png');
    writeFileSync(sweepCell, readFileSync(content));
    const before = new Map([content, style, mask, init, snapshotNamed, sweepCell].map((p) => [p, readFileSync(p)]));
    const base = ['--content', content, '--style', style, '--rows', '32', '--weights', fakeWeights];
    const cases: Array<[string, string[], RegExp]> = [
      ['--out is the content', [...base, '--out', content], /--out .*content\.png would overwrite the --content .*content\.png; an output may never replace an input, even with --force/],
      ['--out through .. is the style', [...base, '--out', `${dir}/../alias/./style.png`], /--out .*\/\.\.\/alias\/\.\/style\.png would overwrite the --style .*style\.png; an output/],
      ['--out a symlink to the style', [...base, '--out', join(dir, 'link-to-style.png')], /--out .*link-to-style\.png would overwrite the --style .*style\.png \(both are .*alias\/style\.png\)/],
      ['--json is the init image', [...base, '--init', init, '--out', join(dir, 'o1.png'), '--json', join(dir, '.', 'start.png')], /--json .*start\.png would overwrite the --init/],
      ['--out is a mask', [...base, '--style-mask', mask, '--out', mask], /--out .*mask\.png would overwrite the --style-mask/],
      ['--save-every snapshots would overwrite the content', [...base.map((a) => (a === content ? snapshotNamed : a)), '--out', join(dir, 'snap.png'), '--save-every', '5'], /--save-every .*snap\.png \(its snapshots\) would overwrite the --content .*snap_0005\.png/],
      ['--json is a weights file', [...base, '--out', join(dir, 'o2.png'), '--json', join(fakeWeights, 'weights_manifest.json')], /--json .*weights_manifest\.json would overwrite the weights file/],
      ['eval --grad-out is the content', ['eval', ...base, '--json', join(dir, 'ev.json'), '--grad-out', content], /--grad-out .*content\.png would overwrite the --content/],
      ['sweep: a cell image is the content', ['sweep', ...base.map((a) => (a === content ? sweepCell : a)), '--out', join(dir, 'sheet.png'), '--content-weight', '1', '--style-weight', '10', '--tv-weight', '0.1'], /cell image .*sheet_c1_s10_tv0\.1\.png would overwrite the --content/],
    ];
    for (const [name, args, re] of cases) {
      for (const force of [false, true]) {
        const r = await cli([...args, ...(force ? ['--force'] : [])], 60_000);
        expect(r.code, `${name}${force ? ' --force' : ''}: ${r.stderr}`).toBe(EXIT.failure);
        expect(ours(r), name).toHaveLength(1);
        // without --force an existing output is refused first (the file exists); with it, the alias
        expect(r.stderr, name).toMatch(force ? re : new RegExp(`${re.source}|the file exists; pass --force|already exist next to --out; pass --force`));
        noStack(r);
      }
    }
    // not aliases: --save-every beside its own --out, and --json beside it; the run goes on to the weights
    const fine = await cli([...base, '--out', join(dir, 'fine.png'), '--json', join(dir, 'fine.json'), '--save-every', '2'], 60_000);
    expect(fine.code, fine.stderr).toBe(EXIT.failure);
    expect(fine.stderr).not.toMatch(/would overwrite|the same file/);
    expect(fine.stderr).toMatch(/weights/);
    // two outputs that are one file: --json is a snapshot of --out
    const two = await cli([...base, '--out', join(dir, 'two.png'), '--json', join(dir, 'two_0004.png'), '--save-every', '2'], 60_000);
    expect(two.code, two.stderr).toBe(EXIT.failure);
    expect(two.stderr).toMatch(/--save-every .*two\.png and --json .*two_0004\.png are the same file|--json .*two_0004\.png and --save-every .*two\.png are the same file/);
    for (const [p, bytes] of before) expect(readFileSync(p).equals(bytes), p).toBe(true);
    expect(readFileSync(join(fakeWeights, 'weights_manifest.json'), 'utf8')).toBe('[]');
    // eval --json out/ev.json --grad-out out/./ev.json: the same file, found while parsing
    expect(usageError(['eval', '--content', 'a', '--style', 'b', '--json', 'out/ev.json', '--grad-out', 'out/./ev.json']).message).toMatch(/--grad-out and --json name the same file/);
  });
});

const haveData = existsSync(TUBINGEN) && existsSync(STARRY) && existsSync(resolve(ROOT, '..', 'shared', 'vgg19'));

describe('weights that overflow float32 (parsing, no GPU)', () => {
  it('a report with NaN or Infinity is never written (JSON would turn them into null)', () => {
    expect(() => jsonBytes({ loss: { total: NaN } })).toThrow(/the report's "total" is NaN; a report never holds NaN or Infinity/);
    expect(() => jsonBytes({ seconds: Infinity })).toThrow(/"seconds" is Infinity/);
    expect(new TextDecoder().decode(jsonBytes({ seed: null, loss: 1.5 }))).toBe('{\n  "seed": null,\n  "loss": 1.5\n}\n');
  });

  it('a weight float32 cannot hold is a usage error naming the flag and the largest float32', () => {
    expect(usageError(['--content', 'a', '--style', 'b', '--out', 'o.png', '--content-weight', '1e39']).message).toMatch(
      /^--content-weight must be at most 3\.4028234663852886e\+38 \(the largest float32: the GPU computes the loss in float32\), got 1e39$/,
    );
    expect(usageError(['eval', '--content', 'a', '--style', 'b', '--json', 'j', '--tv-weight', '4e38']).message).toMatch(/^--tv-weight must be at most/);
    expect(usageError(['sweep', '--content', 'a', '--style', 'b', '--out', 's.png', '--style-weight', '1,1e39']).message).toMatch(/^--style-weight must be at most/);
    expect(usageError(['--content', 'a', '--style', 'b', '--out', 'o.png', '--style-layers', 'block1_conv1,block2_conv1', '--style-layer-weights', '1e38,1', '--style-weight', '10']).message).toMatch(
      /--style-weight 10 times the largest --style-layer-weights value 1e\+38 is 1e\+39, over 3\.4028234663852886e\+38/,
    );
  });
});

describe.skipIf(!haveData)('non-finite losses, Ctrl-C before the first iteration, a lost device (GPU, 32 rows)', () => {
  const run = ['--content', TUBINGEN, '--style', STARRY, '--rows', '32'];

  it('--style-weight 1e30: refused at the first evaluation naming the flag and the largest usable value (nothing written); that value runs', async () => {
    const out = join(tmp, 'sw.png');
    const json = join(tmp, 'sw.json');
    const r = await cli([...run, '--out', out, '--json', json, '--style-weight', '1e30', '--iterations', '2'], 300_000);
    expect(r.code, r.stderr).toBe(EXIT.failure);
    expect(ours(r).filter((l) => /error/.test(l))).toHaveLength(1);
    const m = /--style-weight 1e30: the style loss at the starting image \(42×32\) overflows float32 .*: use --style-weight (\S+) or less \(nothing was written\)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    noStack(r);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(json)).toBe(false);
    const largest = Number(m![1]);
    expect(largest).toBeGreaterThan(10); // the notebook's 10 is far below
    expect(largest).toBeLessThan(1e30);
    const ok = await cli([...run, '--out', out, '--json', json, '--style-weight', m![1], '--iterations', '1'], 300_000);
    expect(ok.code, ok.stderr).toBe(EXIT.ok);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(Number.isFinite(report.loss.total) && report.loss.total > 0).toBe(true);
    expect(report.stopReason).toBe('max-iterations');
    // eval says the same
    const ev = await cli(['eval', ...run, '--json', join(tmp, 'sw-eval.json'), '--style-weight', '1e30'], 300_000);
    expect(ev.code, ev.stderr).toBe(EXIT.failure);
    expect(ev.stderr).toMatch(/--style-weight 1e30: the style loss at the starting image \(42×32\) overflows float32 .*use --style-weight \S+ or less/);
    expect(existsSync(join(tmp, 'sw-eval.json'))).toBe(false);
  }, 900_000);

  it('a loss that turns non-finite mid-run: exit 1 naming the likely cause, the best finite image saved, the JSON says stopReason "non-finite" and holds no NaN', async () => {
    const out = join(tmp, 'nf.png');
    const json = join(tmp, 'nf.json');
    const r = await cli([...run, '--out', out, '--json', json, '--iterations', '5'], 300_000, undefined, { NEURAL_STYLE_TEST_FAULT: 'non-finite-after:6' });
    expect(r.code, r.stderr).toBe(EXIT.failure);
    expect(r.stderr).toMatch(/error: the loss or gradient became non-finite \(float32 overflow\) after 1 iteration\(s\): .*likely cause: the loss is too large for float32 with these weights .*Saved the best finite image so far .* to .*nf\.png and the report \(stopReason "non-finite"\)/);
    noStack(r);
    const text = readFileSync(json, 'utf8');
    expect(text).not.toMatch(/NaN|Infinity/);
    const report = JSON.parse(text);
    expect(report.stopReason).toBe('non-finite');
    expect(report.iterations).toBe(1);
    for (const v of Object.values(report.loss)) expect(Number.isFinite(v as number)).toBe(true);
    expect(report.history.every((h: { loss: number }) => Number.isFinite(h.loss))).toBe(true);
    const png = readFileSync(out);
    expect(png.length).toBeGreaterThan(100);
  }, 600_000);

  it('Ctrl-C before the first iteration with --force leaves the previous output as it was (exit 130)', async () => {
    const out = join(tmp, 'keep-on-sigint.png');
    const json = join(tmp, 'keep-on-sigint.json');
    writeFileSync(out, 'the previous result');
    writeFileSync(json, '{"previous": true}');
    let sent = false;
    const r = await cli([...run, '--out', out, '--json', json, '--force'], 600_000, (all, child) => {
      // the starting point is reported (iteration 0) before the first step is taken
      if (!sent && /iteration 0 /.test(all)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(EXIT.interrupted);
    expect(r.stderr).toMatch(/interrupted before the first iteration completed; nothing was written/);
    expect(readFileSync(out, 'utf8')).toBe('the previous result');
    expect(readFileSync(json, 'utf8')).toBe('{"previous": true}');
  }, 620_000);

  it('a lost device: the latest image is saved, the message says what happened and how to go on (--init), exit 1', async () => {
    const out = join(tmp, 'lost.png');
    const r = await cli([...run, '--out', out, '--iterations', '6'], 300_000, undefined, { NEURAL_STYLE_TEST_FAULT: 'lose-device-at:2' });
    expect(r.code, r.stderr).toBe(EXIT.failure);
    expect(r.stderr).toMatch(/error: GPU device lost \(destroyed\) during the run.*; saved the image of iteration 2 \(42×32\) to .*lost\.png\. To go on from it, run the same command with --init .*lost\.png and another --out/);
    noStack(r);
    const img = readFileSync(out);
    expect(img.subarray(1, 4).toString()).toBe('PNG');
  }, 300_000);
});
