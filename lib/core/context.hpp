#pragma once
// What every forward and backward call runs in: the oneDNN stream, the primitive cache shared
// by all contexts that run the same networks, the thread count, and library-wide options.

#include <oneapi/dnnl/dnnl.hpp>

#include <memory>
#include <string>

#include "core/primitive_cache.hpp"
#include "core/tensor.hpp"

namespace tomodenoise {

/// How 3x3 stride-1 convolutions are computed.
enum class ConvolutionAlgorithm {
    /// Winograd for layers wide enough to gain: at inference the library's own AVX-512 kernel
    /// where it fits, otherwise oneDNN's where it implements one; direct elsewhere
    automatic,
    direct,     ///< always direct convolution
};

class Context {
public:
    /// `threads` OpenMP threads for oneDNN in the calling thread (0: leave the default, all
    /// cores). Contexts made from one another share `cache`.
    explicit Context(int threads = 0, std::shared_ptr<PrimitiveCache> cache = nullptr);

    dnnl::stream& stream() { return stream_; }
    PrimitiveCache& cache() { return *cache_; }
    const std::shared_ptr<PrimitiveCache>& shared_cache() const { return cache_; }
    int threads() const { return threads_; }

    ConvolutionAlgorithm convolution_algorithm() const { return algorithm_; }
    void set_convolution_algorithm(ConvolutionAlgorithm a) { algorithm_ = a; }

    /// Copies `src` into `dst` laid out as `dst`'s descriptor (cached reorder).
    void reorder(const Tensor& src, Tensor& dst);
    /// The same for raw memory objects (weights); `what` names them in errors.
    void reorder(const dnnl::memory& src, const dnnl::memory& dst, const std::string& what);
    /// `src` itself when it is laid out as `md`, otherwise `scratch` reshaped to `md` and
    /// filled from `src`.
    const Tensor& as_layout(const Tensor& src, const dnnl::memory::desc& md, Tensor& scratch);
    /// A plain NCHW copy of `src` into `dst`.
    void to_plain(const Tensor& src, Tensor& dst);

private:
    dnnl::stream stream_;
    std::shared_ptr<PrimitiveCache> cache_;
    int threads_ = 0;
    ConvolutionAlgorithm algorithm_ = ConvolutionAlgorithm::automatic;
};

}  // namespace tomodenoise
