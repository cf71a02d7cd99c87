#include <omp.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <sstream>

#include "api/model_impl.hpp"
#include "core/padded_forward.hpp"
#include "core/thread_count_scope.hpp"
#include "keras/model_file.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

ModelReplica::ModelReplica(Network net, int threads, const ApplyOptions& options)
    : network(std::move(net)), context(threads) {
    if (options.direct_convolution) context.set_convolution_algorithm(ConvolutionAlgorithm::direct);
    context.set_precision(options.precision);
}

void ModelReplica::apply(const float* input, std::int64_t n, std::int64_t c, std::int64_t h,
                         std::int64_t w, std::int64_t output_channels, std::int64_t multiple,
                         float* output) {
    forward_padded(context, network, input, Dims{n, c, h, w}, output_channels, multiple, padded,
                   output);
}

Model::Impl::Impl(Network net, const ApplyOptions& options, std::vector<Network> more)
    : ModelReplica(std::move(net), options.threads, options) {
    if (network.input_names().size() != 1 || network.output_names().size() != 1)
        throw FormatError("a model to apply needs one input and one output, this one has " +
                          std::to_string(network.input_names().size()) + " and " +
                          std::to_string(network.output_names().size()));
    multiple = downsampling_factor(network);
    recipe = default_recipe(network.input_channels(0));
    add_copies(std::move(more), options);
}

void Model::Impl::add_copies(std::vector<Network> more, const ApplyOptions& options) {
    for (auto& copy : more)
        copies.push_back(std::make_unique<ModelReplica>(std::move(copy), 0, options));
    if (copies.empty()) return;
    const int total = options.threads > 0 ? options.threads : omp_get_max_threads();
    threads_per_image = std::max(1, total / int(copies.size() + 1));
    arena = std::make_unique<tbb::task_arena>(int(copies.size() + 1));
}

Model make_model(Network network, const ApplyOptions& options) {
    return ModelAccess::wrap(std::make_unique<ModelAccess::Impl>(std::move(network), options));
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path, const ApplyOptions& options) {
    if (options.threads < 0 || options.threads > max_threads())
        throw InvalidArgument("ApplyOptions::threads must be between 0 (the default) and " +
                              std::to_string(max_threads()) + " (4 x the hardware threads), got " +
                              std::to_string(options.threads));
    // Each copy of the network needs a thread of its own; more copies would only hold memory.
    const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
    if (options.parallel_images < 1 || options.parallel_images > threads)
        throw InvalidArgument(
            "ApplyOptions::parallel_images must be between 1 and the thread "
            "count " +
            std::to_string(threads) + ", got " + std::to_string(options.parallel_images));
    Network net = load_network(path);
    std::vector<Network> copies;
    for (int i = 1; i < options.parallel_images; ++i) copies.push_back(load_network(path));
    std::unique_ptr<Impl> impl;
    try {
        impl = std::make_unique<Impl>(std::move(net), options, std::move(copies));
    } catch (const FormatError& e) {
        throw FormatError(path + ": " + e.what());
    }
    impl->recipe = read_recipe(path, impl->network);
    return Model(std::move(impl));
}

void Model::save(const std::string& path) {
    save_network(path, impl_->network, nullptr, &impl_->recipe);
}

const ModelRecipe& Model::recipe() const {
    return impl_->recipe;
}

void Model::set_recipe(const ModelRecipe& recipe) {
    try {
        check_recipe(recipe, input_channels(), output_channels());
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(std::string("ModelRecipe: ") + e.what());
    }
    impl_->recipe = recipe;
}

std::int64_t Model::input_channels() const {
    return impl_->network.input_channels(0);
}

std::int64_t Model::output_channels() const {
    return tomodenoise::output_channels(impl_->network);
}

std::int64_t Model::size_multiple() const {
    return impl_->multiple;
}

std::int64_t Model::parameter_count() const {
    return impl_->network.parameter_count();
}

std::string Model::summary() const {
    std::ostringstream s;
    for (const auto& node : impl_->network.nodes())
        s << node.name << " " << (node.layer ? node.layer->type() : "InputLayer") << " "
          << node.dims.c << "\n";
    return s.str();
}

void Model::apply(const float* input, std::int64_t n, std::int64_t h, std::int64_t w,
                  float* output) {
    if (n < 1 || h < 1 || w < 1)
        throw ShapeError("cannot apply a model to " + std::to_string(n) + " image(s) of " +
                         std::to_string(h) + "x" + std::to_string(w));
    Impl& m = *impl_;
    const std::int64_t c = input_channels(), out_c = output_channels();
    if (m.copies.empty() || n == 1) {
        const ThreadCountScope threads(m.context.threads());
        m.apply(input, n, c, h, w, out_c, m.multiple, output);
        return;
    }
    // Images side by side: replica r takes a contiguous share of the batch and runs it with
    // threads_per_image OpenMP threads, on a TBB worker of an arena sized to the replicas.
    const std::int64_t replicas = std::min<std::int64_t>(n, std::int64_t(m.copies.size()) + 1);
    m.arena->execute([&] {
        tbb::parallel_for(std::int64_t(0), replicas, [&](std::int64_t r) {
            const std::int64_t first = n * r / replicas, last = n * (r + 1) / replicas;
            ModelReplica& replica = r == 0 ? static_cast<ModelReplica&>(m) : *m.copies[r - 1];
            const ThreadCountScope threads(m.threads_per_image);
            replica.apply(input + first * c * h * w, last - first, c, h, w, out_c, m.multiple,
                          output + first * out_c * h * w);
        });
    });
}

}  // namespace tomodenoise
