// reconstruct_stack: parallel-beam filtered back-projection of a stack of sinograms, from an
// APS Data Exchange file or already corrected line integrals, and the interleaved-angle
// sub-reconstructions Noise2Inverse trains on.
//
//   reconstruct_stack --input scan.h5 --output rec.h5:/rec --splits 4
//   reconstruct_stack --input sino.h5:/sino --layout rows-angles-columns --angles 0:180:720
//       --output rec/ --filter hann --center 1023.5
//
// The work is the library's reconstruct_stack (include/tomodenoise/reconstruct.hpp, which
// states the geometry); this tool reads the command line and prints progress and a summary.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include "tomodenoise/reconstruct.hpp"
#include "tomodenoise/threads.hpp"
#include "tool_main.hpp"

using namespace tomodenoise;

int main(int argc, char** argv) {
    CLI::App app{"Parallel-beam filtered back-projection (FBP) of a stack of sinograms"};
    ReconstructOptions options;
    std::string filter = "ramp", layout = "angles-rows-columns", angles;
    double center = 0;
    app.add_option("--input", options.input,
                   "projections: an APS Data Exchange file FILE.h5 (/exchange/data (angles, rows, "
                   "columns), /exchange/data_white, /exchange/data_dark, /exchange/theta in "
                   "degrees; flat/dark-corrected and -log taken here), or corrected line "
                   "integrals FILE.h5:/dataset in --layout")
        ->required();
    app.add_option("--output", options.output,
                   "reconstruction (rows, columns, columns) float32: FILE.h5:/dataset, a TIFF "
                   "folder or a multi-page TIFF")
        ->required();
    app.add_option("--layout", layout,
                   "axes of a corrected input: angles-rows-columns (default) or "
                   "rows-angles-columns (a stack of sinograms)");
    app.add_option("--angles", angles,
                   "START:STOP:COUNT degrees, COUNT angles START + i (STOP - START) / COUNT "
                   "(STOP excluded), instead of a dataset");
    app.add_option("--theta", options.angles_dataset,
                   "FILE.h5:/dataset of angles in degrees, one per projection (default: "
                   "/exchange/theta of a Data Exchange input)");
    app.add_option("--filter", filter, "ramp (default), shepp-logan or hann");
    app.add_option("--center", center,
                   "rotation axis on the detector, in columns from the first column's centre, "
                   "within [0, columns - 1]; default (columns - 1) / 2. scikit-image's iradon "
                   "uses columns // 2");
    app.add_option("--splits", options.splits,
                   "K >= 2: also write the K sub-reconstructions of the angles i with i mod K = "
                   "k beside the output, as OUT.splitK.h5:/dataset (folder OUT.splitK, "
                   "OUT.splitK.tif), for Noise2Inverse (train_denoiser --mode n2i); the K + 1 "
                   "outputs are published together, OUT last (a failed run leaves none of them)")
        ->check(CLI::Range(0, ReconstructOptions::max_splits));
    app.add_option("--min-transmission", options.min_transmission,
                   "Data Exchange input: raise flat/dark-corrected transmissions below T to T "
                   "(0 < T < 1); default 0: a transmission <= 0 is an error naming the "
                   "projection, row and column")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--threads", options.threads, "threads; 0: all cores")
        ->check(CLI::Range(0, tomodenoise::max_threads()));
    app.add_flag("--overwrite", options.overwrite, "replace existing outputs");

    return tool::run_tool("reconstruct_stack", app, argc, argv, [&] {
        tool::check_command_line([&] {
            options.filter = parse_fbp_filter(filter, "--filter");
            options.layout = parse_projection_layout(layout, "--layout");
            if (!angles.empty()) options.angles_degrees = parse_angle_range(angles, "--angles");
        });
        if (app.count("--center")) options.center = center;
        if (!angles.empty() && !options.angles_dataset.empty())
            throw CLI::ValidationError("--angles and --theta: give one of them");
        options.progress = [](std::int64_t done, std::int64_t total) {
            std::fprintf(stderr, "\rreconstructing: %lld/%lld rows", static_cast<long long>(done),
                         static_cast<long long>(total));
            if (done == total) std::fprintf(stderr, "\n");
        };
        tool::doing("reconstructing '" + options.input + "'");
        const ReconstructSummary summary = reconstruct_stack(options);
        std::cout << "reconstructed " << summary.shape.n << " slices of " << summary.shape.h << "x"
                  << summary.shape.w << " from " << summary.angles << " angles (centre "
                  << summary.center << ") into " << options.output << "\n";
        for (const std::string& split : summary.split_outputs)
            std::cout << "sub-reconstruction: " << split << "\n";
    });
}
