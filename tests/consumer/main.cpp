// Built against the installed package only: exercises the public API end to end (simulate a
// data set, write and read it back through HDF5, measure its quality, train a denoiser on it
// for a step and apply it, refuse a missing model).
#include <tomodenoise/tomodenoise.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <vector>

int main() {
    namespace td = tomodenoise;
    td::SimulationOptions options;
    options.count = 2;
    options.test_count = 1;
    options.size = 32;
    options.seed = 4;
    const td::SimulatedDataset data = td::simulate(options);

    const auto file = std::filesystem::temp_directory_path() / "tomodenoise_consumer.h5";
    td::write_tomogan_dataset(
        file.string(), {data.train.noisy, data.train.clean, data.test.noisy, data.test.clean});
    const td::Stack noisy = td::read_hdf5_stack({file.string(), "/train_ns"});
    const td::Stack clean = td::read_hdf5_stack({file.string(), "/train_gt"});
    std::filesystem::remove(file);
    if (noisy.shape() != td::StackShape{2, 32, 32}) {
        std::cerr << "consumer: read back " << noisy.shape().to_string() << "\n";
        return 1;
    }
    const td::StackMetrics m = td::compare_stacks(clean, noisy, 1.0);
    if (!(m.mean.psnr > 5 && m.mean.psnr < 60)) {
        std::cerr << "consumer: implausible PSNR " << m.mean.psnr << "\n";
        return 1;
    }
    td::TrainOptions training;
    training.epochs = 1;
    training.steps_per_epoch = 1;
    training.batch = 1;
    training.patch = 16;
    td::Model trained = td::train_denoiser({noisy, clean, {}, {}}, training);
    if (trained.input_channels() != 1 || trained.output_channels() != 1) {
        std::cerr << "consumer: trained a model of " << trained.input_channels() << " -> "
                  << trained.output_channels() << " channels\n";
        return 1;
    }
    std::vector<float> denoised(32 * 32);
    trained.apply(noisy.as<float>(), 1, 32, 32, denoised.data());
    if (!std::all_of(denoised.begin(), denoised.end(), [](float v) { return std::isfinite(v); })) {
        std::cerr << "consumer: the trained model's output is not finite\n";
        return 1;
    }
    try {
        td::Model::load("/nonexistent/model.h5");
        std::cerr << "consumer: loading a missing model did not fail\n";
        return 1;
    } catch (const td::IoError& e) {
        std::cout << "tomodenoise " << td::version() << " (oneDNN " << td::backend_version()
                  << "): noisy PSNR " << m.mean.psnr << " dB; " << e.what() << "\n";
    }
    return 0;
}
