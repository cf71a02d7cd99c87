"""bench/quality's measurements (run through bench/quality, which documents them)."""

import argparse
import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import h5py
import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity
from skimage.restoration import denoise_tv_chambolle

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("simulate_dataset", "train_denoiser", "denoise_stack", "compare_images",
         "reconstruct_stack")

# The training command, one place for both trainers. {mode} is supervised, n2n or n2s; the
# library trainer (train_denoiser --help lists --max-seconds) stops itself at the budget; the
# legacy one runs "forever" and is stopped by SIGTERM, its --out keeping the last whole epoch.
# Tuned on 2 shared cores with 3-4 minute budgets (issue 11's notes): a residual U-Net (the
# library's default; +0.8 dB at I0 50000 after 600 steps) with Adam at 1e-3 on a cosine decay
# to the time limit; L1 for supervised (+0.3 to +1.4 dB over MSE in 3 minutes), MSE for n2n,
# whose targets are noisy (L1 would learn their median rather than their mean).
TRAINING = {
    "library": "--mode {mode} --arch unet --max-seconds {seconds} --batch 8 --patch 64 "
               "--lr 1e-3 --lr-schedule cosine --loss {loss} --seed {seed}",
    "legacy": "--arch tomogan --epochs 1000000 --steps 5 --batch 8 --patch 64 --lr 1e-3 "
              "--seed {seed}",
}
LEGACY_MODE_FLAGS = {"supervised": [], "n2n": ["--noise2noise"]}
LOSS = {"supervised": "l1", "n2n": "mse", "n2s": "mse", "n2i": "mse"}
# Noise2Self inference variants: denoise_stack options appended for each (the model file records
# the default; a variant the tool does not know is reported as failed, not fatal).
N2S_INFERENCE = {"single-pass": [], "J-invariant": ["--n2s-inference", "j-invariant"]}

GAUSSIAN_SIGMAS = np.geomspace(0.3, 8.0, 13)  # pixels
TV_WEIGHTS = np.geomspace(1e-3, 1.0, 13)      # times the ground truth's range


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(command, **kwargs):
    log("$ " + " ".join(shlex.quote(str(c)) for c in command))
    return subprocess.run([str(c) for c in command], check=True, **kwargs)


def tool_help(tool):
    return subprocess.run([tool, "--help"], capture_output=True, text=True).stdout


def ensure_tools(build):
    tools = {name: os.path.join(build, "examples", name) for name in TOOLS}
    if not all(os.access(path, os.X_OK) for path in tools.values()):
        run(["cmake", "-S", REPO, "-B", build, "-DCMAKE_BUILD_TYPE=Release"],
            stdout=subprocess.DEVNULL)
        run(["cmake", "--build", build, "-j", str(os.cpu_count()), "--target", *TOOLS],
            stdout=subprocess.DEVNULL)
    return tools


def read(file, dataset):
    with h5py.File(file, "r") as f:
        return np.asarray(f[dataset], dtype=np.float64)


# --- metrics: one data range for every column ---------------------------------------------

def psnr(truth, test, data_range):
    """Mean over slices of 10 log10(R^2 / MSE), as compare_images computes it."""
    mse = np.mean((truth - test) ** 2, axis=(1, 2))
    return float(np.mean(10 * np.log10(data_range ** 2 / mse)))


def ssim(truth, test, data_range):
    """Mean over slices of the Gaussian-window SSIM (Wang et al. 2004), as compare_images."""
    return float(np.mean([
        structural_similarity(t, x, data_range=data_range, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        for t, x in zip(truth, test)]))


def high_frequency_ratio(truth, test):
    """The library's high-frequency power ratio (tomodenoise/metrics.hpp): per slice |DFT|^2
    averaged over rings of width 1/m cycles/pixel (m = min(H, W)), the ring averages from 0.25
    to 0.5 cycles/pixel summed over all slices, test over truth. 1: the truth's sharpness;
    oversmoothing gives less, noise more."""
    n, h, w = truth.shape
    m = min(h, w)
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    ring = np.rint(m * np.hypot(fy, fx)).astype(np.int64)
    inside = ring < m
    counts = np.bincount(ring[inside], minlength=m)
    band = np.arange(int(np.ceil(0.25 * m)), int(np.floor(0.5 * m)) + 1)

    def band_power(stack):
        total = 0.0
        for image in stack:
            power = np.abs(np.fft.fft2(image)) ** 2
            sums = np.bincount(ring[inside], weights=power[inside], minlength=m)
            total += float(np.sum(sums[band][counts[band] > 0] / counts[band][counts[band] > 0]))
        return total
    return band_power(test) / band_power(truth)


def gaussian(noisy, sigma):
    return ndimage.gaussian_filter(noisy, sigma=(0, sigma, sigma), mode="reflect")


def tv(noisy, weight):
    return np.stack([denoise_tv_chambolle(s, weight=weight) for s in noisy])


def _score(job):
    name, noisy, truth, data_range, parameter = job
    out = gaussian(noisy, parameter) if name == "gaussian" else tv(noisy, parameter * data_range)
    return psnr(truth, out, data_range)


def best_filter(name, grid, noisy, truth, data_range, pool):
    """The grid's best parameter, refined on a finer grid between its neighbours."""
    def scores(parameters):
        jobs = [(name, noisy, truth, data_range, p) for p in parameters]
        return list(pool.map(_score, jobs))
    coarse = scores(grid)
    i = int(np.argmax(coarse))
    fine_grid = np.geomspace(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)], 7)
    fine = scores(fine_grid)
    j = int(np.argmax(fine))
    parameter, score = (fine_grid[j], fine[j]) if fine[j] >= coarse[i] else (grid[i], coarse[i])
    out = gaussian(noisy, parameter) if name == "gaussian" else tv(noisy, parameter * data_range)
    return parameter, score, out


# --- training and inference ----------------------------------------------------------------

def precision_options(tool_path, precision):
    """The tool's options for `precision`: none for f32 (every version's default); exits when
    the tool has no --precision."""
    if precision == "f32":
        return []
    if "--precision" not in tool_help(tool_path):
        sys.exit("quality: %s has no --precision" % os.path.basename(tool_path))
    return ["--precision", precision]


def train(tools, mode, data, model, seconds, seed, threads, extra=(), precision="f32",
          options=None):
    """Trains `model` for `seconds`; `options` (a TRAINING-like template for the library
    trainer) replaces the default one."""
    help_text = tool_help(tools["train_denoiser"])
    library = "--max-seconds" in help_text
    if not library and (mode not in LEGACY_MODE_FLAGS or options):
        return None, "train_denoiser has no --mode %s (the library trainer is not in)" % mode
    if not seconds and not library:
        return None, "the legacy trainer has no step count (--iters)"
    template = options or TRAINING["library" if library else "legacy"]
    options = template.format(mode=mode, seconds=seconds, seed=seed, loss=LOSS.get(mode, "mse"))
    command = [tools["train_denoiser"], "--data", data, "--out", model, "--threads", threads,
               *shlex.split(options), *extra,
               *precision_options(tools["train_denoiser"], precision)]
    if not library:
        command += LEGACY_MODE_FLAGS[mode]
    if os.path.exists(model):
        os.remove(model)
    log("$ " + " ".join(shlex.quote(str(c)) for c in command))
    start = time.monotonic()
    process = subprocess.Popen([str(c) for c in command], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        # The library stops itself at the budget; without one (--iters), at its steps.
        deadline = start + seconds + (60 if library else 0) if seconds else float("inf")
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    lines = [line for line in output.splitlines() if line.strip()]
    last_line = lines[-1] if lines else ""
    elapsed = time.monotonic() - start
    if not os.path.exists(model):
        sys.exit("quality: training wrote no model (%s)\n%s" % (model, output[-2000:]))
    epochs = sum(1 for line in lines if line.lstrip().lower().startswith("epoch"))
    note = "%s trainer, %.0f s%s; last line: %s" % (
        "library" if library else "legacy", elapsed,
        "" if library else ", %d epochs" % epochs, last_line.strip())
    return model, note


def denoise_file(tools, model, data, dataset, output, threads, extra=()):
    if os.path.exists(output):
        os.remove(output)
    run([tools["denoise_stack"], "--model", model, "--input", "%s:%s" % (data, dataset),
         "--output", "%s:/denoised" % output, "--threads", threads, *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return read(output, "/denoised")


def recorded_normalization(model):
    """The normalization the model's recipe records ({"method": "none"} without a recipe)."""
    with h5py.File(model, "r") as f:
        recipe = f.attrs.get("tomodenoise_recipe")
    if recipe is None:
        return {"method": "none"}
    return json.loads(recipe).get("normalization", {"method": "none"})


def fitted_map(normalization, volume):
    """(clip_low, clip_high, offset, scale) of the recorded normalization fitted to the whole
    volume, as the library's fit_normalization."""
    method = normalization["method"]
    if method == "percentile_range":
        low, high = np.percentile(volume, [normalization["low_percent"],
                                           normalization["high_percent"]])
        return low, high, low, (high - low) if high > low else 1.0
    if method == "mean_std":
        deviation = float(volume.std())
        return -np.inf, np.inf, float(volume.mean()), deviation if deviation > 0 else 1.0
    return -np.inf, np.inf, 0.0, 1.0


_applies_recipe = {}


def applies_recipe_normalization(tools, model, data, dataset, work, threads):
    """Whether denoise_stack scales a volume with the normalization the model records: then a
    volume in other units (2x + 1) comes out in those units (2y + 1)."""
    if model not in _applies_recipe:
        one = read(data, dataset)[:1].astype(np.float32)
        probe = os.path.join(work, "units_probe.h5")
        outputs = []
        for scale, offset in ((1.0, 0.0), (2.0, 1.0)):
            with h5py.File(probe, "w") as f:
                f["x"] = one * scale + offset
            out = denoise_file(tools, model, probe, "/x", probe + ".out.h5", threads)
            outputs.append((out - offset) / scale)
        _applies_recipe[model] = bool(np.allclose(outputs[0], outputs[1], atol=1e-3 * np.ptp(one)))
    return _applies_recipe[model]


def denoise(tools, model, data, dataset, output, threads, extra=(), notes=None):
    """The model's output for data:dataset in the data's units. When denoise_stack does not
    apply the normalization the model records, this script applies it (fitted to the whole
    volume, as denoise_stack would) and maps the output back, and says so in `notes`."""
    normalization = recorded_normalization(model)
    work = os.path.dirname(output)
    if normalization["method"] == "none" or applies_recipe_normalization(
            tools, model, data, dataset, work, threads):
        return denoise_file(tools, model, data, dataset, output, threads, extra)
    volume = read(data, dataset)
    low, high, offset, scale = fitted_map(normalization, volume)
    normalized = output + ".normalized_input.h5"
    with h5py.File(normalized, "w") as f:
        f["x"] = ((np.clip(volume, low, high) - offset) / scale).astype(np.float32)
    out = denoise_file(tools, model, normalized, "/x", output, threads, extra) * scale + offset
    with h5py.File(output, "a") as f:
        f["/denoised"][...] = out
    if notes is not None:
        note = ("%s: denoise_stack does not apply the model's recorded normalization (%s): "
                "this script did" % (os.path.basename(model), normalization["method"]))
        if note not in notes:
            notes.append(note)
    return out


def compare_images(tools, truth, test, data_range):
    result = subprocess.run([tools["compare_images"], truth, test, "--data-range",
                             repr(data_range)], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def compare_images_psnr(tools, truth, test, data_range):
    return compare_images(tools, truth, test, data_range)["psnr"]


# --- reports -------------------------------------------------------------------------------

def evaluate(name, noisy, truth, models, pool, with_tv=True):
    """Row of PSNRs (and SSIMs) of the input, the tuned classical filters and each model."""
    data_range = float(truth.max() - truth.min())
    row = {"name": name, "range": data_range, "input": psnr(truth, noisy, data_range),
           "input_ssim": ssim(truth, noisy, data_range)}
    sigma, row["gaussian"], out = best_filter("gaussian", GAUSSIAN_SIGMAS, noisy, truth,
                                              data_range, pool)
    row["gaussian_sigma"], row["gaussian_ssim"] = sigma, ssim(truth, out, data_range)
    if with_tv:
        weight, row["tv"], out = best_filter("tv", TV_WEIGHTS, noisy, truth, data_range, pool)
        row["tv_weight"], row["tv_ssim"] = weight, ssim(truth, out, data_range)
    row["models"] = {label: (psnr(truth, out, data_range), ssim(truth, out, data_range))
                     for label, out in models.items()}
    return row


def print_table(title, rows, with_tv=True):
    print("\n" + title)
    labels = list(rows[0]["models"]) if rows else []
    header = "%-16s | %-7s | %-16s |" % ("dose", "input", "Gaussian (sigma)")
    if with_tv:
        header += " %-16s |" % "TV (weight)"
    for label in labels:
        header += " %-9s | %-7s |" % (label, "margin")
    print(header + " SSIM " + "/".join(["input", "Gauss"] + (["TV"] if with_tv else []) + labels))
    print("-" * len(header))
    for row in rows:
        line = "%-16s | %7.2f | %7.2f (%5.2f)  |" % (row["name"], row["input"], row["gaussian"],
                                                   row["gaussian_sigma"])
        best = row["gaussian"]
        if with_tv:
            line += " %7.2f (%.4f) |" % (row["tv"], row["tv_weight"])
            best = max(best, row["tv"])
        ssims = [row["input_ssim"], row["gaussian_ssim"]] + ([row["tv_ssim"]] if with_tv else [])
        for label in labels:
            value, model_ssim = row["models"][label]
            line += " %9.2f | %+7.2f |" % (value, value - best)
            ssims.append(model_ssim)
        print(line + " " + "/".join("%.3f" % s for s in ssims))
    print("PSNR in dB over the held-out slices, data range = the ground truth's max - min; "
          "margin = model - best classical filter")


def precision_label(mode, precision):
    """The table's column for `mode`'s model applied in `precision` (f32: the mode alone)."""
    return mode if precision == "f32" else "%s %s" % (mode, precision)


def ct_simulation(args, out, extra):
    return ["--kind", "ct", "--size", args.size, "--texture", args.texture, "--views",
            args.views, "--out", out, *extra]


def supervised_and_n2n(args, tools, work, pool, modes):
    """Each mode's model trained in each of --train-precision (with the same seed and, given
    --iters, the same steps: its column is 'MODE bf16-trained'), applied in each of
    --precision."""
    sim = tools["simulate_dataset"]
    seconds = 0 if args.iters else int(args.minutes * 60)
    steps = ["--iters", str(args.iters)] if args.iters else []
    models, notes = {}, []
    for mode in modes:
        data = os.path.join(work, "train_%s.h5" % mode)
        kind = ["--kind", "n2n", "--scene", "ct"] if mode == "n2n" else []
        command = ct_simulation(args, data, ["--count", args.count, "--test-count", 2,
                                             "--i0", args.i0, "--test-i0", 10000,
                                             "--seed", args.seed])
        if kind:
            command = kind + command[2:]
        run([sim, *command], stdout=subprocess.DEVNULL)
        for trained_in in args.train_precisions:
            name = mode if trained_in == "f32" else "%s %s-trained" % (mode, trained_in)
            model, note = train(tools, mode, data,
                                os.path.join(work, "%s_%s.h5" % (mode, trained_in)), seconds,
                                args.seed, args.threads, steps, precision=trained_in)
            notes.append("%s: %s" % (name, note))
            if model:
                models[name] = model
    rows = []
    for dose in args.doses:
        # Another seed than training: held-out scenes, the same ones at every dose.
        data = os.path.join(work, "heldout_%s.h5" % dose)
        run([sim, *ct_simulation(args, data, ["--count", 1, "--test-count", args.test_count,
                                               "--test-i0", dose,
                                               "--seed", int(args.seed) + 1000])],
            stdout=subprocess.DEVNULL)
        truth, noisy = read(data, "/test_gt"), read(data, "/test_ns")
        outputs = {}
        for (mode, model), precision in itertools.product(models.items(), args.precisions):
            label = precision_label(mode, precision)
            output = os.path.join(work, "denoised_%s_%s_%s.h5" % (mode, precision, dose))
            outputs[label] = denoise(tools, model, data, "/test_ns", output, args.threads,
                                     precision_options(tools["denoise_stack"], precision),
                                     notes=notes)
            reference = compare_images_psnr(tools, data + ":/test_gt", output + ":/denoised",
                                            float(truth.max() - truth.min()))
            mine = psnr(truth, outputs[label], float(truth.max() - truth.min()))
            if abs(reference - mine) > 0.01:
                notes.append("dose %s %s: compare_images says %.3f dB, this script %.3f dB"
                             % (dose, label, reference, mine))
        rows.append(evaluate("I0 %s" % dose, noisy, truth, outputs, pool))
    print_table("CT, textured phantoms (--texture %s), trained on I0 %s, %s per model"
                % (args.texture, args.i0,
                   "%d steps" % args.iters if args.iters else "%s min" % args.minutes), rows)
    for mode, precision in itertools.product(models, args.precisions[1:]):
        print("%s - %s: " % (precision_label(mode, precision),
                             precision_label(mode, args.precisions[0])) + ", ".join(
            "%s %+.3f dB" % (r["name"], r["models"][precision_label(mode, precision)][0]
                             - r["models"][precision_label(mode, args.precisions[0])][0])
            for r in rows))
    for mode, trained_in in itertools.product(modes, args.train_precisions):
        name = "%s %s-trained" % (mode, trained_in)
        if mode in models and name in models:
            print("%s - %s: " % (name, mode) + ", ".join(
                "%s %+.3f dB" % (r["name"], r["models"][name][0] - r["models"][mode][0])
                for r in rows))
    if "supervised" in models and "n2n" in models:
        print("n2n - supervised: " + ", ".join(
            "%s %+.2f dB" % (r["name"], r["models"]["n2n"][0] - r["models"]["supervised"][0])
            for r in rows))
    for note in notes:
        print("  " + note)


def noise2self(args, tools, work, pool):
    sim = tools["simulate_dataset"]
    seconds = int(args.minutes * 60)
    for noise, train_level, test_level in (("gaussian", ["--sigma", "0.05:0.2"],
                                            ["--test-sigma", "0.1"]),
                                           ("poisson", ["--peak", "10:100"],
                                            ["--test-peak", "30"])):
        data = os.path.join(work, "n2s_%s.h5" % noise)
        run([sim, "--kind", "n2s", "--noise", noise, "--size", args.size, "--texture",
             args.texture, "--count", args.count, "--test-count", args.test_count,
             "--seed", args.seed, *train_level, *test_level, "--out", data],
            stdout=subprocess.DEVNULL)
        truth, noisy = read(data, "/test_gt"), read(data, "/test_ns")
        model, note = train(tools, "n2s", data, os.path.join(work, "n2s_%s_model.h5" % noise),
                            seconds, args.seed, args.threads)
        outputs, notes = {}, [note]
        if model:
            for variant, options in N2S_INFERENCE.items():
                output = os.path.join(work, "n2s_%s_%s.h5" % (noise, variant))
                try:
                    outputs[variant] = denoise(tools, model, data, "/test_ns", output,
                                               args.threads, options, notes)
                except subprocess.CalledProcessError as error:
                    notes.append("%s inference failed: %s" % (
                        variant, (error.stderr or "").strip().splitlines()[-1:]))
        row = evaluate(" ".join(test_level), noisy, truth, outputs, pool)
        print_table("Noise2Self, shapes with %s noise (trained on %s, --texture %s)"
                    % (noise, " ".join(train_level), args.texture), [row])
        for line in notes:
            print("  " + line)


def noise2inverse(args, tools, work, pool):
    """One simulated scan (simulate_dataset --kind projections) reconstructed with --splits K;
    Noise2Inverse and Noise2Self trained on it (self-supervised: the scan is all they see),
    supervised trained on another scan's reconstructions with clean labels; each with the same
    budget, evaluated on the scan's slices against its clean reconstruction."""
    sim, reconstruct = tools["simulate_dataset"], tools["reconstruct_stack"]
    seconds = int(args.minutes * 60)
    notes = []

    def scan(name, seed):
        path = os.path.join(work, "%s.h5" % name)
        run([sim, "--kind", "projections", "--size", args.size, "--texture", args.texture,
             "--count", args.count, "--full-views", args.views, "--views", args.views,
             "--i0", args.projection_i0, "--seed", seed, "--out", path],
            stdout=subprocess.DEVNULL)
        rec = os.path.join(work, "%s_rec.h5" % name)
        run([reconstruct, "--input", path, "--output", rec + ":/rec", "--splits", args.splits,
             "--min-transmission", "1e-4", "--overwrite", "--threads", args.threads],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return read(path, "/simulation/clean"), read(rec, "/rec"), rec

    truth, full, rec = scan("n2i_scan", args.seed)
    train_truth, train_full, _ = scan("n2i_training_scan", int(args.seed) + 1000)
    n2s_data = os.path.join(work, "n2i_n2s_data.h5")
    with h5py.File(n2s_data, "w") as f:
        f["train_ns"] = full.astype(np.float32)
    supervised_data = os.path.join(work, "n2i_supervised_data.h5")
    with h5py.File(supervised_data, "w") as f:
        f["train_ns"] = train_full.astype(np.float32)
        f["train_gt"] = train_truth.astype(np.float32)
    outputs = {}
    # The time budget ends every run, not the epochs (n2i has K times the training pairs).
    until_the_budget = ["--iters", "1000000000"]
    for label, mode, data, extra in (
            ("n2i", "n2i", rec + ":/rec", ["--splits", args.splits]),
            ("n2s", "n2s", n2s_data, []),
            ("supervised", "supervised", supervised_data, [])):
        model, note = train(tools, mode, data, os.path.join(work, "n2i_%s_model.h5" % label),
                            seconds, args.seed, args.threads, extra + until_the_budget)
        notes.append("%s: %s" % (label, note))
        output = os.path.join(work, "n2i_%s_denoised.h5" % label)
        if mode == "n2i":  # its inputs are the splits beside rec: no probe copies of them
            outputs[label] = denoise_file(tools, model, rec, "/rec", output, args.threads)
        else:
            outputs[label] = denoise(tools, model, rec, "/rec", output, args.threads,
                                     notes=notes)
    row = evaluate("I0 %s" % args.projection_i0, full, truth, outputs, pool)
    print_table("Noise2Inverse: %s textured phantom slices of %s, %s angles, I0 %s, K = %s, "
                "%s min per model (input = the full FBP)"
                % (args.count, args.size, args.views, args.projection_i0, args.splits,
                   args.minutes), [row])
    n2i = row["models"]["n2i"][0]
    print("n2i - n2s %+.2f dB, n2i - supervised %+.2f dB"
          % (n2i - row["models"]["n2s"][0], n2i - row["models"]["supervised"][0]))
    for note in notes:
        print("  " + note)


def write_random_vgg19(path, seed):
    """A file in the layout of Keras's vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
    (save_weights at the root) with He-scaled random weights: the ImageNet file is not available
    offline. Random convolutional features are a weaker perceptual loss than ImageNet ones; the
    table says which was used."""
    rng = np.random.default_rng(seed)
    names, convolutions, channels = ["input_1"], {}, 3
    for block, (count, filters) in enumerate(zip((2, 2, 4, 4, 4), (64, 128, 256, 512, 512)), 1):
        for k in range(1, count + 1):
            name = "block%d_conv%d" % (block, k)
            names.append(name)
            bound = np.sqrt(6.0 / (9 * channels))
            convolutions[name] = (
                rng.uniform(-bound, bound, (3, 3, channels, filters)).astype(np.float32),
                np.zeros(filters, np.float32))
            channels = filters
        names.append("block%d_pool" % block)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            group = f.create_group(name)
            weights = []
            if name in convolutions:
                for label, value in zip(("kernel:0", "bias:0"), convolutions[name]):
                    weights.append(("%s/%s" % (name, label)).encode())
                    group[weights[-1].decode()] = value
            group.attrs["weight_names"] = np.array(weights, dtype="S64")


def adversarial(args, tools, work, pool):
    """TomoGAN's case: sparse-view CT (--sparse-views of --views angles: streaks) with photon
    noise. The same residual U-Net generator trained for --minutes each: with MSE only; and as a
    GAN without and with the perceptual term (1 generator and --itd discriminator steps per
    iteration, --ladv x adversarial + --lmse x MSE + --lperc x perceptual), each GAN first
    pre-trained with MSE for --gan-pretrain of the budget (as SRGAN and ESRGAN pre-train their
    generators; the two GANs start from the same pre-trained model, each then trained
    adversarially for the rest of its budget). Adam at TomoGAN's 1e-4 on a cosine decay for
    every run, batches of 4 patches of --gan-patch; evaluated on held-out slices at each of
    --doses: PSNR, SSIM and the high-frequency power ratio (1 = the ground truth's sharpness;
    MSE training oversmooths below 1)."""
    sim = tools["simulate_dataset"]
    seconds = int(args.minutes * 60)
    notes = []

    def simulate(out, extra):
        run([sim, "--kind", "ct", "--size", args.size, "--texture", args.texture,
             "--full-views", args.views, "--views", args.sparse_views, "--out", out, *extra],
            stdout=subprocess.DEVNULL)
    data = os.path.join(work, "gan_train.h5")
    simulate(data, ["--count", args.count, "--test-count", 2, "--i0", args.i0, "--test-i0", 10000,
                    "--seed", args.seed])
    vgg19 = args.vgg19
    if vgg19:
        perceptual_label = "gan+perc"
    else:
        vgg19 = os.path.join(work, "random_vgg19_notop.h5")
        write_random_vgg19(vgg19, int(args.seed))
        perceptual_label = "gan+perc*"
        notes.append("gan+perc*: perceptual loss through a He-scaled random-weight VGG19 (the "
                     "ImageNet weights file is not available offline; pass --vgg19 FILE)")
    options = ("--mode {mode} --arch unet --max-seconds {seconds} --batch 4 --patch %s "
               "--lr 1e-4 --lr-schedule cosine --seed {seed} --iters 1000000000" % args.gan_patch)
    models = {}
    model, note = train(tools, "supervised", data, os.path.join(work, "gan_mse.h5"), seconds,
                        args.seed, args.threads, ["--loss", "mse"], options=options)
    notes.append("mse: %s" % note)
    if model:
        models["mse"] = model
    pretrain_seconds = int(round(seconds * args.gan_pretrain))
    gan_seconds = seconds - pretrain_seconds
    weights = ["--ladv", args.ladv, "--lmse", args.lmse, "--itd", args.itd, "--discriminator",
               args.gan_discriminator, "--lr-discriminator", args.lr_discriminator]
    if pretrain_seconds > 0:
        pretrained, note = train(tools, "supervised", data, os.path.join(work, "gan_pretrained.h5"),
                                 pretrain_seconds, args.seed, args.threads, ["--loss", "mse"],
                                 options=options)
        notes.append("gan pre-training (MSE, shared by both GANs): %s" % note)
        weights += ["--resume", pretrained]
    variants = (("gan", ["--lperc", "0"]),
                (perceptual_label, ["--lperc", args.lperc, "--vgg19", vgg19]))
    for label, extra in variants:
        model, note = train(tools, "gan", data, os.path.join(work, "gan_%s.h5" % label.strip("*")),
                            gan_seconds, args.seed, args.threads, weights + extra,
                            options=options)
        notes.append("%s: %s" % (label, note))
        if model:
            models[label] = model
    notes.append("gan: %d s MSE pre-training + %d s adversarial, --ladv %s --lmse %s --itd %s "
                 "(--lperc %s for %s), --discriminator %s --lr-discriminator %s"
                 % (pretrain_seconds, gan_seconds, args.ladv, args.lmse, args.itd, args.lperc,
                    perceptual_label, args.gan_discriminator, args.lr_discriminator))
    rows, sharpness = [], []
    for dose in args.doses:
        heldout = os.path.join(work, "gan_heldout_%s.h5" % dose)
        simulate(heldout, ["--count", 1, "--test-count", args.test_count, "--test-i0", dose,
                           "--seed", int(args.seed) + 1000])
        truth, noisy = read(heldout, "/test_gt"), read(heldout, "/test_ns")
        outputs = {label: denoise(tools, model, heldout, "/test_ns",
                                  os.path.join(work, "gan_denoised_%s_%s.h5"
                                               % (label.strip("*"), dose)),
                                  args.threads, notes=notes)
                   for label, model in models.items()}
        rows.append(evaluate("I0 %s" % dose, noisy, truth, outputs, pool))
        ratios = {label: high_frequency_ratio(truth, out) for label, out in outputs.items()}
        for label, ratio in ratios.items():
            output = os.path.join(work, "gan_denoised_%s_%s.h5" % (label.strip("*"), dose))
            reference = compare_images(tools, heldout + ":/test_gt", output + ":/denoised",
                                       float(truth.max() - truth.min())).get("high_frequency_ratio")
            if reference is not None and abs(reference - ratio) > 1e-6 * ratio:
                notes.append("dose %s %s: compare_images gives a high-frequency ratio of %.6f, "
                             "this script %.6f" % (dose, label, reference, ratio))
        sharpness.append((dose, high_frequency_ratio(truth, noisy), ratios))
    print_table("Sparse-view CT: %s of %s angles, textured phantoms (--texture %s), trained on "
                "I0 %s, %s min per model, patches of %s" % (args.sparse_views, args.views,
                                                            args.texture, args.i0, args.minutes,
                                                            args.gan_patch), rows)
    labels = list(models)
    print("\nhigh-frequency power ratio (0.25-0.5 cycles/pixel, 1 = ground truth's sharpness)")
    print("%-16s | %-7s |" % ("dose", "input") + "".join(" %-9s |" % l for l in labels))
    for dose, noisy_ratio, ratios in sharpness:
        print("%-16s | %7.3f |" % ("I0 %s" % dose, noisy_ratio)
              + "".join(" %9.3f |" % ratios[l] for l in labels))
    for note in notes:
        print("  " + note)


def main():
    parser = argparse.ArgumentParser(prog="bench/quality", description=__doc__)
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--work", help="folder for data, models and outputs (default BUILD/quality)")
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per model")
    parser.add_argument("--mode", default="supervised",
                        help="supervised, n2n, n2s, n2i, gan, a comma-separated list of them, or all")
    parser.add_argument("--size", default="256")
    parser.add_argument("--count", default="128", help="training images")
    parser.add_argument("--test-count", default="16", help="held-out images per dose")
    parser.add_argument("--texture", default="0.1")
    parser.add_argument("--views", default="360")
    parser.add_argument("--i0", default="1000:50000", help="training dose range")
    parser.add_argument("--doses", default="2000,10000,50000", help="held-out doses")
    parser.add_argument("--threads", default="0")
    parser.add_argument("--projection-i0", default="500",
                        help="n2i: photons per ray of the simulated scans")
    parser.add_argument("--splits", default="4", help="n2i: sub-reconstructions K")
    parser.add_argument("--sparse-views", default="90",
                        help="gan: angles of the sparse-view input (divides --views)")
    parser.add_argument("--gan-patch", default="128", help="gan: patch side")
    parser.add_argument("--gan-pretrain", type=float, default=0.8,
                        help="gan: fraction of --minutes each GAN spends in MSE pre-training")
    parser.add_argument("--ladv", default="0.03", help="gan: train_denoiser --ladv")
    parser.add_argument("--lmse", default="0.5", help="gan: train_denoiser --lmse")
    parser.add_argument("--itd", default="1", help="gan: train_denoiser --itd, discriminator "
                        "steps per generator step")
    parser.add_argument("--lperc", default="2", help="gan: train_denoiser --lperc (with the VGG19)")
    parser.add_argument("--gan-discriminator", default="conditional",
                        choices=("tomogan", "patch", "conditional"),
                        help="gan: train_denoiser --discriminator")
    parser.add_argument("--lr-discriminator", default="4e-4",
                        help="gan: train_denoiser --lr-discriminator")
    parser.add_argument("--vgg19", help="gan: Keras's VGG19 ImageNet weights without top "
                        "(default: random weights of that layout, written here)")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--precision", default="f32",
                        help="supervised, n2n: denoise_stack --precision of the held-out slices, "
                             "or a comma-separated list (f32,bf16: a column each, and the "
                             "difference to the first)")
    parser.add_argument("--train-precision", default="f32",
                        help="supervised, n2n: train_denoiser --precision, or a comma-separated "
                             "list (f32,bf16: a model trained in each, and the difference to f32)")
    parser.add_argument("--iters", type=int, default=0,
                        help="supervised, n2n: train this many steps instead of --minutes (the "
                             "same steps in every precision)")
    args = parser.parse_args()
    if not 0 <= args.gan_pretrain < 1:
        parser.error("--gan-pretrain: expected a fraction in [0, 1), got %s" % args.gan_pretrain)
    args.train_precisions = [p for p in args.train_precision.split(",") if p]
    if (not args.train_precisions
            or any(p not in ("f32", "bf16") for p in args.train_precisions)):
        parser.error("--train-precision: expected f32, bf16 or f32,bf16; got '%s'"
                     % args.train_precision)
    if args.iters < 0:
        parser.error("--iters: expected 0 or more, got %d" % args.iters)
    args.precisions = [p for p in args.precision.split(",") if p]
    if not args.precisions or any(p not in ("f32", "bf16") for p in args.precisions):
        parser.error("--precision: expected f32, bf16 or a comma-separated list of them; got '%s'"
                     % args.precision)
    args.doses = [d for d in args.doses.split(",") if d]
    known = ("supervised", "n2n", "n2s", "n2i", "gan")
    modes = known if args.mode == "all" else tuple(m for m in args.mode.split(",") if m)
    if not modes or any(m not in known for m in modes):
        parser.error("--mode: expected supervised, n2n, n2s, n2i, gan, a comma-separated list of them, "
                     "or all; got '%s'" % args.mode)
    build = os.path.abspath(args.build)
    work = os.path.abspath(args.work or os.path.join(build, "quality"))
    os.makedirs(work, exist_ok=True)
    tools = ensure_tools(build)
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        ct_modes = [m for m in ("supervised", "n2n") if m in modes]
        if ct_modes:
            supervised_and_n2n(args, tools, work, pool, ct_modes)
        if "n2s" in modes:
            noise2self(args, tools, work, pool)
        if "n2i" in modes:
            noise2inverse(args, tools, work, pool)
        if "gan" in modes:
            adversarial(args, tools, work, pool)


if __name__ == "__main__":
    main()
