// libFuzzer target: Keras HDF5 model files through Model::load (model_config JSON, the Keras
// layer mapping, building the network, reading and checking the weights). Any input must load
// or throw a tomodenoise::Error; another exception, a crash or a huge allocation is a finding.

#include <cstdint>

#include "fuzz_input_file.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const tomodenoise::fuzz::InputFile file;
    file.write(data, size);
    tomodenoise::ApplyOptions options;
    options.threads = 1;
    try {
        tomodenoise::Model::load(file.path(), options);
    } catch (const tomodenoise::Error&) {
        // Refusing bad input with a clear error is what the loader should do.
    }
    return 0;
}
