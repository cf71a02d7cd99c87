#include <sstream>

#include "infer/reflect_padding.hpp"
#include "io/model_file.hpp"
#include "models/model_impl.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

// Probe size for measuring a network's downsampling: a power of two deep enough for any
// U-Net this library builds or loads.
constexpr std::int64_t probe_size = 256;

}  // namespace

std::int64_t downsampling_factor(Network& network) {
    std::vector<Dims> probe;
    for (std::size_t i = 0; i < network.input_names().size(); ++i)
        probe.push_back(Dims{1, network.input_channels(i), probe_size, probe_size});
    network.build(probe);
    std::int64_t smallest = probe_size;
    for (const auto& node : network.nodes())
        if (node.dims.h > 1) smallest = std::min(smallest, node.dims.h);
    return probe_size / smallest;
}

Model::Impl::Impl(Network net, const ApplyOptions& options)
    : network(std::move(net)), context(options.threads) {
    if (options.direct_convolution) context.set_convolution_algorithm(ConvolutionAlgorithm::direct);
    if (network.input_names().size() != 1 || network.output_names().size() != 1)
        throw FormatError("a model to apply needs one input and one output, this one has " +
                          std::to_string(network.input_names().size()) + " and " +
                          std::to_string(network.output_names().size()));
    multiple = downsampling_factor(network);
}

Model make_model(Network network, const ApplyOptions& options) {
    return Model(std::make_unique<Model::Impl>(std::move(network), options));
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path, const ApplyOptions& options) {
    Network net = load_network(path);
    try {
        return make_model(std::move(net), options);
    } catch (const FormatError& e) {
        throw FormatError(path + ": " + e.what());
    }
}

void Model::save(const std::string& path) { save_network(path, impl_->network); }

std::int64_t Model::input_channels() const { return impl_->network.input_channels(0); }

std::int64_t Model::output_channels() const {
    const auto& nodes = impl_->network.nodes();
    const auto name = impl_->network.output_names().at(0);
    for (const auto& node : nodes)
        if (node.name == name) return node.dims.c;
    return 0;
}

std::int64_t Model::size_multiple() const { return impl_->multiple; }

std::int64_t Model::parameter_count() const { return impl_->network.parameter_count(); }

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
    const std::int64_t c = input_channels();
    const auto round_up = [&](std::int64_t v) { return (v + m.multiple - 1) / m.multiple * m.multiple; };
    const Dims src{n, c, h, w};
    const Dims padded{n, c, round_up(h), round_up(w)};
    const Tensor* net_input;
    Tensor view;
    if (padded == src) {
        view = Tensor::view(const_cast<float*>(input), src);  // read only: layers never write src
        net_input = &view;
    } else {
        m.padded.reshape(padded);
        reflect_pad(input, src, m.padded);
        net_input = &m.padded;
    }
    const Tensor& out = m.network.forward(m.context, *net_input, Mode::inference);
    crop(out, h, w, output);
}

}  // namespace tomodenoise
