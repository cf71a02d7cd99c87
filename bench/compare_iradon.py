#!/usr/bin/python3
"""Times scikit-image's iradon (ramp filter, linear interpolation) on a 512x512 slice from 720
angles, the size bench_reconstruct measures, and prints its slices per second beside ours.

    /usr/bin/python3 bench/compare_iradon.py [--bench build/bench/bench_reconstruct]

Debian's python3-skimage is enough; without it the script says so and exits 0. Not a test
dependency: the tests compare against the stored fixture ../shared/fixtures/fbp_reference.h5.
"""
import argparse
import json
import subprocess
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", help="bench_reconstruct to run for our figure")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    try:
        import numpy as np
        from skimage.data import shepp_logan_phantom
        from skimage.transform import iradon, radon, resize
    except ImportError as e:
        print(f"compare_iradon: scikit-image is not available ({e}); nothing to compare")
        return 0
    size, angles = 512, 720
    phantom = resize(shepp_logan_phantom(), (size, size))
    theta = np.arange(angles) * 180.0 / angles
    sinogram = radon(phantom, theta=theta, circle=True)
    iradon(sinogram, theta, circle=True, filter_name="ramp", interpolation="linear")  # warm-up
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        iradon(sinogram, theta, circle=True, filter_name="ramp", interpolation="linear")
        best = min(best, time.perf_counter() - start)
    print(f"scikit-image {__import__('skimage').__version__} iradon 512x512, 720 angles: "
          f"{1.0 / best:.3f} slices/s ({best:.3f} s per slice)")
    if args.bench:
        out = subprocess.run([args.bench, "--benchmark_format=json"], check=True,
                             capture_output=True, text=True).stdout
        for b in json.loads(out)["benchmarks"]:
            rate = b["slices_per_second"]
            print(f"{b['name']}: {rate:.3f} slices/s, {rate * best:.1f}x iradon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
