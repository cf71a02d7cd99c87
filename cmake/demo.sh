#!/usr/bin/env bash
# The main job on a fresh machine: installs the Debian packages, builds, simulates a small
# low-dose CT data set, trains the TomoGAN U-Net on it (600 steps, about 40 s on 2 cores),
# denoises the held-out slices and
# prints their quality before and after. With ../shared present it also applies the published
# TomoGAN model to a 1024x1024 slice and prints its speed.
# Usage: bash cmake/demo.sh [WORK_DIR]   (default: demo/ in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-demo}
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" > /dev/null
mkdir -p "$work"
bin=build/examples

"$bin/simulate_dataset" --kind ct --count 64 --test-count 8 --size 256 --i0 2000 --seed 1 \
    --out "$work/ct.h5"
"$bin/train_denoiser" --data "$work/ct.h5" --out "$work/unet.h5" --arch unet --iters 600 \
    --batch 8 --patch 64 --loss l1
"$bin/denoise_stack" --model "$work/unet.h5" --input "$work/ct.h5:/test_ns" \
    --output "$work/denoised.h5:/test_dn" --overwrite

quality() {  # label reference test
    local json
    json=$("$bin/compare_images" "$2" "$3")
    printf '%-22s PSNR %6.2f dB   SSIM %.4f\n' "$1" \
        "$(grep -m1 '^  "psnr"' <<< "$json" | tr -dc '0-9.')" \
        "$(grep -m1 '^  "ssim"' <<< "$json" | tr -dc '0-9.')"
}
echo
echo "quality of the 8 held-out slices against the full-dose reconstruction:"
quality "low-dose input" "$work/ct.h5:/test_gt" "$work/ct.h5:/test_ns"
quality "denoised (U-Net)" "$work/ct.h5:/test_gt" "$work/denoised.h5:/test_dn"

tomogan=../shared/models/keras/TomoGAN.h5
if [ -f "$tomogan" ]; then
    "$bin/simulate_dataset" --kind shapes --count 1 --test-count 0 --size 1024 --seed 2 \
        --out "$work/large.h5" > /dev/null
    "$bin/denoise_stack" --model "$tomogan" --input "$work/large.h5:/train_ns" \
        --output "$work/large_dn.h5:/tomogan" --overwrite 2> /dev/null
fi
