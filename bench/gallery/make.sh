#!/usr/bin/env bash
# The README's gallery: small images made by the CLI (tubingen x starry_night / the_scream, notebook
# preset, 128 rows), written to bench/gallery/. Regenerate with `bash bench/gallery/make.sh`
# (about 10 minutes on a 2-core CPU machine with lavapipe); --force replaces the previous set.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/gallery
ns() { npx tsx src/cli/main.ts "$@"; }
common=(--content tubingen.jpg --rows 128 --iterations 60 --force)

# masks: the left and the right half of the working size (tubingen is 4:3: 170 x 128)
node -e '
const { PNG } = require("pngjs"); const fs = require("fs");
for (const [name, left] of [["mask_left.png", true], ["mask_right.png", false]]) {
  const png = new PNG({ width: 170, height: 128 });
  for (let y = 0; y < 128; y++) for (let x = 0; x < 170; x++) {
    const v = (x < 85) === left ? 255 : 0; const i = (y * 170 + x) * 4;
    png.data[i] = png.data[i + 1] = png.data[i + 2] = v; png.data[i + 3] = 255;
  }
  fs.writeFileSync(process.argv[1] + "/" + name, PNG.sync.write(png));
}' "$out"

ns "${common[@]}" --style starry_night.jpg --out $out/colors_none.png
ns "${common[@]}" --style starry_night.jpg --preserve-colors luminance --out $out/colors_luminance.png
ns "${common[@]}" --style starry_night.jpg --preserve-colors histogram --out $out/colors_histogram.png
ns "${common[@]}" --style starry_night.jpg --style the_scream.jpg --style-blend 1,1 --out $out/blend_starry_scream.png
ns "${common[@]}" --style starry_night.jpg --style the_scream.jpg \
  --style-mask $out/mask_left.png --style-mask $out/mask_right.png --out $out/masked_starry_left_scream_right.png
npx tsx src/cli/main.ts sweep --content tubingen.jpg --style starry_night.jpg --rows 96 --iterations 30 --force \
  --content-weight 1,10 --style-weight 10,100 --tv-weight 0.1 --out $out/sweep/sheet.png
