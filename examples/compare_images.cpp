// Compares a test image stack against a reference and prints the metrics as JSON:
// psnr, ssim (Gaussian window, Wang et al. 2004), ssim_uniform7, mse, mae (means over the
// slices) and per_slice lists of each. An infinite PSNR (identical slices) prints as null.
// high_frequency_ratio is the sharpness figure of tomodenoise/metrics.hpp (the test's power
// over 0.25-0.5 cycles/pixel divided by the reference's: 1 as sharp, below 1 oversmoothed),
// null for a reference without power in that band (a constant one).
//
//   compare_images clean.h5:/test_gt denoised.h5:/volume [--data-range 1]
//   compare_images clean_tiffs/ denoised.tif
//
// Each stack is an HDF5 dataset FILE.h5:/path ((N, H, W) or (H, W)), a folder of TIFFs (one
// per slice) or a multi-page TIFF, of any stored pixel type, compared as float. The data range
// R of PSNR and SSIM defaults to the reference's max - min.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/metrics.hpp"
#include "tool_main.hpp"

namespace {

// Non-finite pixels would turn every metric into NaN without saying why.
void require_finite(const std::vector<float>& values, const std::string& where) {
    const auto bad =
        std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
    if (bad != values.end())
        throw tomodenoise::FormatError("'" + where + "' holds a non-finite value (" +
                                       std::to_string(*bad) + ") at index " +
                                       std::to_string(bad - values.begin()));
}

// Before conversion, so that "inf" and "nan", which convert, are refused too.
const CLI::Validator finite_positive(
    [](const std::string& text) {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        const bool number = !text.empty() && *end == '\0';
        return number && std::isfinite(value) && value > 0
                   ? std::string()
                   : "must be a finite number above 0, got '" + text + "'";
    },
    "R > 0");

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Compares a test image stack against a reference: PSNR, SSIM, MSE, MAE, high-frequency "
        "power ratio (JSON)"};
    std::string reference_text, test_text;
    double data_range = 0;
    app.add_option("reference", reference_text,
                   "reference (clean) stack: FILE.h5:/dataset, a TIFF folder or a multi-page TIFF")
        ->required();
    app.add_option("test", test_text, "stack to evaluate, in any of the same forms")->required();
    app.add_option("--data-range", data_range,
                   "value range R for PSNR and SSIM, finite and positive (default: reference "
                   "max - min)")
        ->check(finite_positive);

    return tomodenoise::tool::run_tool("compare_images", app, argc, argv, [&] {
        tomodenoise::StackReader reference_reader(reference_text), test_reader(test_text);
        const std::string& reference_name = reference_reader.location();
        const std::string& test_name = test_reader.location();
        if (reference_reader.shape() != test_reader.shape())
            throw tomodenoise::ShapeError("'" + test_name + "' is " +
                                          test_reader.shape().to_string() + " but the reference '" +
                                          reference_name + "' is " +
                                          reference_reader.shape().to_string());
        const tomodenoise::Stack reference = reference_reader.read(0, reference_reader.shape().n);
        const tomodenoise::Stack test = test_reader.read(0, test_reader.shape().n);
        if (reference.shape().pixels() == 0)
            throw tomodenoise::ShapeError("'" + reference_name + "' has dims " +
                                          reference.shape().to_string() +
                                          ": there is nothing to compare");
        const std::vector<float> ref_values = reference.to_float("'" + reference_name + "'");
        const std::vector<float> test_values = test.to_float("'" + test_name + "'");
        require_finite(ref_values, reference_name);
        require_finite(test_values, test_name);
        if (app.count("--data-range") == 0) {
            const auto [lo, hi] = std::minmax_element(ref_values.begin(), ref_values.end());
            data_range = double(*hi) - double(*lo);
            if (!(data_range > 0))
                throw tomodenoise::InvalidArgument("the reference '" + reference_name +
                                                   "' is constant: give --data-range");
        }
        const tomodenoise::StackMetrics m = tomodenoise::compare_stacks(
            ref_values.data(), test_values.data(), reference.shape(), data_range);

        // The sharpness figure is undefined for a reference without power in its band (a
        // constant one): null then, rather than the whole report failing. (Slices are at least
        // SSIM's 11x11 here, above the figure's 4x4.)
        nlohmann::json high_frequency_ratio = nullptr;
        try {
            high_frequency_ratio = tomodenoise::high_frequency_power_ratio(
                ref_values.data(), test_values.data(), reference.shape());
        } catch (const tomodenoise::NumericalError&) {
        }
        nlohmann::json per_slice = {{"psnr", nlohmann::json::array()},
                                    {"ssim", nlohmann::json::array()},
                                    {"ssim_uniform7", nlohmann::json::array()},
                                    {"mse", nlohmann::json::array()},
                                    {"mae", nlohmann::json::array()}};
        for (const auto& s : m.per_slice) {
            per_slice["psnr"].push_back(s.psnr);
            per_slice["ssim"].push_back(s.ssim);
            per_slice["ssim_uniform7"].push_back(s.ssim_uniform7);
            per_slice["mse"].push_back(s.mse);
            per_slice["mae"].push_back(s.mae);
        }
        const nlohmann::json result = {{"reference", reference_name},
                                       {"test", test_name},
                                       {"shape", reference.shape().to_string()},
                                       {"data_range", data_range},
                                       {"psnr", m.mean.psnr},
                                       {"ssim", m.mean.ssim},
                                       {"ssim_uniform7", m.mean.ssim_uniform7},
                                       {"mse", m.mean.mse},
                                       {"mae", m.mean.mae},
                                       {"high_frequency_ratio", high_frequency_ratio},
                                       {"per_slice", per_slice}};
        std::cout << result.dump(2) << "\n";
    });
}
