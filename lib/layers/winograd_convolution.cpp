#include "layers/winograd_convolution.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

constexpr int out_tile = 4;  // output tile edge: F(4x4, 3x3)
constexpr int in_tile = 6;   // input tile edge: out_tile + 3 - 1
constexpr int positions = in_tile * in_tile;
constexpr int lanes = 16;  // floats per AVX-512 register = nChw16c channel block

// The strip of tiles a thread carries through all three steps: its transformed inputs and
// products should stay in the core's L2 cache (1-2 MiB on current x86 server cores) beside
// the transformed kernel.
constexpr std::int64_t strip_bytes = 384 * 1024;
constexpr std::int64_t max_strip_tiles = 56;

// How far ahead along a row the input transform asks for the pixels of a later tile.
constexpr int prefetch_pixels = 4 * out_tile + 2;

enum class Fused { linear, relu, leaky_relu };

// G of F(4x4, 3x3): the kernel's transform is G k G^T.
constexpr double kernel_transform[in_tile][3] = {{1. / 4, 0, 0},
                                                 {-1. / 6, -1. / 6, -1. / 6},
                                                 {-1. / 6, 1. / 6, -1. / 6},
                                                 {1. / 24, 1. / 12, 1. / 6},
                                                 {1. / 24, -1. / 12, 1. / 6},
                                                 {0, 0, 1}};

// The weight gradient's strips: tiles whose transformed inputs and gradients take about this
// much, so that each position's share (1/36) stays in the core's L2 cache while it is
// multiplied, and the per-thread sums are read and written once per many tiles.
constexpr std::int64_t weight_strip_bytes = 4 * 1024 * 1024;
constexpr std::int64_t min_weight_strip_tiles = 16, max_weight_strip_tiles = 512;

// Strips run through the tiles of all images in order (row by row), so that narrow images
// do not leave strips mostly padding.
struct Strip {
    std::int64_t tiles;  // tiles per strip, a multiple of the multiply kernel's rows
    std::int64_t rows;   // tiles per multiply kernel call
    int vectors;         // output-channel registers per multiply kernel call
};

// The multiply kernel keeps rows x vectors accumulators in registers (28 or 24 of 32).
Strip strip_for(std::int64_t in_channels, std::int64_t out_channels) {
    Strip s;
    s.vectors = out_channels % 64 == 0 ? 4 : out_channels % 32 == 0 ? 2 : 1;
    s.rows = s.vectors == 4 ? 6 : s.vectors == 2 ? 14 : 28;
    const std::int64_t per_tile = positions * (in_channels + out_channels) * 4;
    s.tiles = std::clamp<std::int64_t>(strip_bytes / per_tile, s.rows, max_strip_tiles);
    s.tiles -= s.tiles % s.rows;
    return s;
}

// Everything that uses AVX-512 lives between the pragmas and works on raw pointers, so that
// no template shared with the rest of the library is instantiated for AVX-512 here. Clang has
// no `#pragma GCC target`; its attribute pragma does the same.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif

// B^T d for one column of an input tile (Lavin and Gray's F(4x4, 3x3)).
inline void input_transform_1d(const __m512 d[in_tile], __m512 t[in_tile]) {
    const __m512 four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f), two = _mm512_set1_ps(2.f);
    t[0] = _mm512_fmadd_ps(d[0], four, _mm512_fnmadd_ps(d[2], five, d[4]));
    const __m512 a = _mm512_fnmadd_ps(d[2], four, d[4]);  // d4 - 4 d2
    const __m512 b = _mm512_fnmadd_ps(d[1], four, d[3]);  // d3 - 4 d1
    t[1] = _mm512_add_ps(a, b);
    t[2] = _mm512_sub_ps(a, b);
    const __m512 c = _mm512_sub_ps(d[4], d[2]);
    const __m512 e = _mm512_mul_ps(_mm512_sub_ps(d[3], d[1]), two);
    t[3] = _mm512_add_ps(c, e);
    t[4] = _mm512_sub_ps(c, e);
    t[5] = _mm512_fmadd_ps(d[1], four, _mm512_fnmadd_ps(d[3], five, d[5]));
}

// A^T m for one column of a product tile.
inline void output_transform_1d(const __m512 m[in_tile], __m512 o[out_tile]) {
    const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
    const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
    o[1] = _mm512_fmadd_ps(d34, _mm512_set1_ps(2.f), d12);
    o[2] = _mm512_fmadd_ps(s34, _mm512_set1_ps(4.f), s12);
    o[3] = _mm512_add_ps(_mm512_fmadd_ps(d34, _mm512_set1_ps(8.f), d12), m[5]);
}

// One 16-channel block of one input tile whose top-left input pixel is (y0, x0) into the
// 36 positions of `v` (stride `v_stride` floats). `block` is the channel block's h x w x 16
// plane; pixels outside it are the zero padding. `tmp` holds 36 registers.
template <bool interior>
void transform_input_tile(const float* block, std::int64_t h, std::int64_t w, std::int64_t y0,
                          std::int64_t x0, float* v, std::int64_t v_stride, float* tmp) {
    for (int i = 0; i < in_tile; ++i) {
        __m512 d[in_tile], t[in_tile];
        const std::int64_t y = y0 + i;
        const bool row_inside = interior || (y >= 0 && y < h);
        const float* row = block + (y * w + x0) * lanes;
        for (int j = 0; j < in_tile; ++j) {
            const bool inside = interior || (row_inside && x0 + j >= 0 && x0 + j < w);
            d[j] = inside ? _mm512_loadu_ps(row + j * lanes) : _mm512_setzero_ps();
        }
        if (interior)
            for (int j = 0; j < out_tile; ++j)
                _mm_prefetch(reinterpret_cast<const char*>(row + (prefetch_pixels + j) * lanes),
                             _MM_HINT_T0);
        input_transform_1d(d, t);
        for (int k = 0; k < in_tile; ++k) _mm512_store_ps(tmp + (i * in_tile + k) * lanes, t[k]);
    }
    for (int k = 0; k < in_tile; ++k) {
        __m512 d[in_tile], t[in_tile];
        for (int i = 0; i < in_tile; ++i) d[i] = _mm512_load_ps(tmp + (i * in_tile + k) * lanes);
        input_transform_1d(d, t);
        for (int a = 0; a < in_tile; ++a) _mm512_storeu_ps(v + (a * in_tile + k) * v_stride, t[a]);
    }
}

// m[r][co] = sum_k v[r][k] u[k][co] for `rows` tiles and 16 * vectors output channels.
template <int rows, int vectors>
void multiply(const float* v, std::int64_t ldv, const float* u, std::int64_t ldu, float* m,
              std::int64_t ldm, std::int64_t depth) {
    __m512 acc[rows][vectors];
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < vectors; ++j) acc[r][j] = _mm512_setzero_ps();
    for (std::int64_t k = 0; k < depth; ++k) {
        __m512 b[vectors];
        for (int j = 0; j < vectors; ++j) b[j] = _mm512_loadu_ps(u + k * ldu + j * lanes);
        for (int r = 0; r < rows; ++r) {
            const __m512 a = _mm512_set1_ps(v[r * ldv + k]);
            for (int j = 0; j < vectors; ++j) acc[r][j] = _mm512_fmadd_ps(a, b[j], acc[r][j]);
        }
    }
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < vectors; ++j) _mm512_storeu_ps(m + r * ldm + j * lanes, acc[r][j]);
}

// All 36 positions of a strip laid out [position][stride_tiles][channels], its first
// `tiles` tiles.
template <int rows, int vectors>
void multiply_strip(const float* v, const float* u, float* m, std::int64_t tiles,
                    std::int64_t stride_tiles, std::int64_t in_channels,
                    std::int64_t out_channels) {
    for (int p = 0; p < positions; ++p) {
        const float* vp = v + p * stride_tiles * in_channels;
        const float* up = u + p * in_channels * out_channels;
        float* mp = m + p * stride_tiles * out_channels;
        for (std::int64_t co = 0; co < out_channels; co += vectors * lanes)
            for (std::int64_t t = 0; t < tiles; t += rows)
                multiply<rows, vectors>(vp + t * in_channels, in_channels, up + co, out_channels,
                                        mp + t * out_channels + co, out_channels, in_channels);
    }
}

inline __m512 activate(__m512 x, Fused fused, __m512 alpha) {
    switch (fused) {
        // The masked form: GCC 12 warns of an uninitialized value inside _mm512_max_ps.
        case Fused::relu:
            return _mm512_mask_max_ps(x, 0xffff, x, _mm512_setzero_ps());
        case Fused::leaky_relu:
            return _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), x,
                                      alpha);
        case Fused::linear:
            break;
    }
    return x;
}

// One 16-channel block of one product tile (36 positions at stride `m_stride`) into the
// output pixels from (y0, x0), those inside h x w, with bias and activation.
void transform_output_tile(const float* m, std::int64_t m_stride, __m512 bias, Fused fused,
                           __m512 alpha, float* block, std::int64_t h, std::int64_t w,
                           std::int64_t y0, std::int64_t x0, float* tmp) {
    for (int b = 0; b < in_tile; ++b) {
        __m512 col[in_tile], o[out_tile];
        for (int a = 0; a < in_tile; ++a)
            col[a] = _mm512_loadu_ps(m + (a * in_tile + b) * m_stride);
        output_transform_1d(col, o);
        for (int p = 0; p < out_tile; ++p) _mm512_store_ps(tmp + (p * in_tile + b) * lanes, o[p]);
    }
    const std::int64_t y_end = std::min<std::int64_t>(out_tile, h - y0);
    const std::int64_t x_end = std::min<std::int64_t>(out_tile, w - x0);
    for (std::int64_t p = 0; p < y_end; ++p) {
        __m512 row[in_tile], o[out_tile];
        for (int b = 0; b < in_tile; ++b) row[b] = _mm512_load_ps(tmp + (p * in_tile + b) * lanes);
        output_transform_1d(row, o);
        float* out = block + ((y0 + p) * w + x0) * lanes;
        // Written past the caches: the next layer reads the output from memory anyway at full
        // resolution, and measured no slower at 256x256 either; saves reading the lines first.
        for (std::int64_t q = 0; q < x_end; ++q)
            _mm512_stream_ps(out + q * lanes, activate(_mm512_add_ps(o[q], bias), fused, alpha));
    }
}

struct Problem {
    std::int64_t h, w, tiles_y, tiles_x, in_channels, out_channels;
    Fused fused;
    float alpha;
    Strip strip;
};

Problem problem(std::int64_t h, std::int64_t w, std::int64_t in_channels,
                std::int64_t out_channels) {
    Problem pb;
    pb.h = h;
    pb.w = w;
    pb.tiles_y = (h + out_tile - 1) / out_tile;
    pb.tiles_x = (w + out_tile - 1) / out_tile;
    pb.in_channels = in_channels;
    pb.out_channels = out_channels;
    pb.fused = Fused::linear;
    pb.alpha = 0;
    pb.strip = strip_for(in_channels, out_channels);
    return pb;
}

// Where tile `index` (counted over all images, row by row) lies.
struct TilePlace {
    std::int64_t image, y0, x0;  // top-left output pixel
};
inline TilePlace place_of(const Problem& pb, std::int64_t index) {
    const std::int64_t per_image = pb.tiles_y * pb.tiles_x;
    const std::int64_t in_image = index % per_image;
    return {index / per_image, in_image / pb.tiles_x * out_tile, in_image % pb.tiles_x * out_tile};
}

// One strip: tiles first .. first + count - 1.
void run_strip(const Problem& pb, const float* src, const float* weights, const float* bias,
               float* dst, std::int64_t first, std::int64_t count, float* v, float* m, float* tmp) {
    const std::int64_t plane = pb.h * pb.w * lanes;
    const std::int64_t tiles = pb.strip.tiles;
    // Channel block outermost: the input is read as six row streams at a time, which the
    // hardware prefetchers follow.
    for (std::int64_t cb = 0; cb < pb.in_channels / lanes; ++cb) {
        for (std::int64_t t = 0; t < count; ++t) {
            const TilePlace at = place_of(pb, first + t);
            const std::int64_t y0 = at.y0 - 1, x0 = at.x0 - 1;
            const bool interior =
                y0 >= 0 && y0 + in_tile <= pb.h && x0 >= 0 && x0 + in_tile <= pb.w;
            const float* block = src + (at.image * pb.in_channels / lanes + cb) * plane;
            float* vt = v + t * pb.in_channels + cb * lanes;
            if (interior)
                transform_input_tile<true>(block, pb.h, pb.w, y0, x0, vt, tiles * pb.in_channels,
                                           tmp);
            else
                transform_input_tile<false>(block, pb.h, pb.w, y0, x0, vt, tiles * pb.in_channels,
                                            tmp);
        }
    }
    // Only the rows the multiply kernel reaches are multiplied; rows past `count` hold
    // values from an earlier strip (or zeros) and are never transformed back.
    const std::int64_t padded = (count + pb.strip.rows - 1) / pb.strip.rows * pb.strip.rows;
    switch (pb.strip.vectors) {
        case 4:
            multiply_strip<6, 4>(v, weights, m, padded, tiles, pb.in_channels, pb.out_channels);
            break;
        case 2:
            multiply_strip<14, 2>(v, weights, m, padded, tiles, pb.in_channels, pb.out_channels);
            break;
        default:
            multiply_strip<28, 1>(v, weights, m, padded, tiles, pb.in_channels, pb.out_channels);
    }
    const __m512 alpha = _mm512_set1_ps(pb.alpha);
    for (std::int64_t cb = 0; cb < pb.out_channels / lanes; ++cb)
        for (std::int64_t t = 0; t < count; ++t) {
            const TilePlace at = place_of(pb, first + t);
            transform_output_tile(m + t * pb.out_channels + cb * lanes, tiles * pb.out_channels,
                                  _mm512_loadu_ps(bias + cb * lanes), pb.fused, alpha,
                                  dst + (at.image * pb.out_channels / lanes + cb) * plane, pb.h,
                                  pb.w, at.y0, at.x0, tmp);
        }
    // Streaming stores are weakly ordered: they must reach memory before the next layer reads.
    _mm_sfence();
}

// A m for one column of a 4x4 output-gradient tile: the adjoint of output_transform_1d, as
// the forward's product is A^T M A.
inline void gradient_transform_1d(const __m512 d[out_tile], __m512 t[in_tile]) {
    const __m512 two = _mm512_set1_ps(2.f), four = _mm512_set1_ps(4.f), eight = _mm512_set1_ps(8.f);
    const __m512 even = _mm512_add_ps(d[0], d[2]), odd = _mm512_add_ps(d[1], d[3]);
    t[0] = d[0];
    t[1] = _mm512_add_ps(even, odd);
    t[2] = _mm512_sub_ps(even, odd);
    const __m512 even4 = _mm512_fmadd_ps(d[2], four, d[0]);
    const __m512 odd8 = _mm512_fmadd_ps(d[3], eight, _mm512_mul_ps(d[1], two));
    t[3] = _mm512_add_ps(even4, odd8);
    t[4] = _mm512_sub_ps(even4, odd8);
    t[5] = d[3];
}

// One 16-channel block of the output gradient's 4x4 tile from output pixel (y0, x0) (zero
// outside h x w) into the 36 positions of `d` (stride `d_stride`), adding its pixels to
// `bias_sum` (the bias gradient). With `relu_dst` (the block of the forward's ReLU output) the
// gradient is first taken through the ReLU, and written to `masked` when that is not null.
void transform_gradient_tile(const float* block, const float* relu_dst, float* masked,
                             std::int64_t h, std::int64_t w, std::int64_t y0, std::int64_t x0,
                             float* d, std::int64_t d_stride, float* tmp, __m512& bias_sum) {
    for (int p = 0; p < out_tile; ++p) {
        __m512 row[out_tile], t[in_tile];
        const bool row_inside = y0 + p < h;
        const std::int64_t at = ((y0 + p) * w + x0) * lanes;
        for (int q = 0; q < out_tile; ++q) {
            if (!row_inside || x0 + q >= w) {
                row[q] = _mm512_setzero_ps();
                continue;
            }
            row[q] = _mm512_load_ps(block + at + q * lanes);
            if (relu_dst) {
                const __mmask16 active = _mm512_cmp_ps_mask(
                    _mm512_load_ps(relu_dst + at + q * lanes), _mm512_setzero_ps(), _CMP_GT_OQ);
                row[q] = _mm512_maskz_mov_ps(active, row[q]);
                if (masked) _mm512_store_ps(masked + at + q * lanes, row[q]);
            }
            bias_sum = _mm512_add_ps(bias_sum, row[q]);
        }
        gradient_transform_1d(row, t);
        for (int b = 0; b < in_tile; ++b) _mm512_store_ps(tmp + (p * in_tile + b) * lanes, t[b]);
    }
    for (int b = 0; b < in_tile; ++b) {
        __m512 col[out_tile], t[in_tile];
        for (int p = 0; p < out_tile; ++p) col[p] = _mm512_load_ps(tmp + (p * in_tile + b) * lanes);
        gradient_transform_1d(col, t);
        for (int a = 0; a < in_tile; ++a) _mm512_storeu_ps(d + (a * in_tile + b) * d_stride, t[a]);
    }
}

// acc[r][co] += sum_t v[t][r] d[t][co] over `count` tiles, for `rows` input channels and
// 16 * vectors output channels.
template <int rows, int vectors>
void accumulate_products(const float* v, std::int64_t ldv, const float* d, std::int64_t ldd,
                         float* acc, std::int64_t ld_acc, std::int64_t count) {
    __m512 sum[rows][vectors];
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < vectors; ++j) sum[r][j] = _mm512_setzero_ps();
    for (std::int64_t t = 0; t < count; ++t) {
        __m512 b[vectors];
        for (int j = 0; j < vectors; ++j) b[j] = _mm512_loadu_ps(d + t * ldd + j * lanes);
        for (int r = 0; r < rows; ++r) {
            const __m512 a = _mm512_set1_ps(v[t * ldv + r]);
            for (int j = 0; j < vectors; ++j) sum[r][j] = _mm512_fmadd_ps(a, b[j], sum[r][j]);
        }
    }
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < vectors; ++j) {
            float* out = acc + r * ld_acc + j * lanes;
            _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), sum[r][j]));
        }
}

// One strip of the weight gradient: tiles first .. first + count - 1 of the input `src` and
// the output gradient `diff` (through the ReLU of `relu_dst` when not null, written to
// `masked` when not null), their transforms in `v` and `d` (stride_tiles tiles per position),
// products summed into `acc` [36][in][out] and pixels into `bias_acc` [out].
void weight_gradient_strip(const Problem& pb, const float* src, const float* diff,
                           const float* relu_dst, float* masked, std::int64_t first,
                           std::int64_t count, std::int64_t stride_tiles, float* v, float* d,
                           float* acc, float* bias_acc, float* tmp) {
    const std::int64_t plane = pb.h * pb.w * lanes;
    const std::int64_t ci = pb.in_channels, co = pb.out_channels;
    for (std::int64_t cb = 0; cb < ci / lanes; ++cb)
        for (std::int64_t t = 0; t < count; ++t) {
            const TilePlace at = place_of(pb, first + t);
            const std::int64_t y0 = at.y0 - 1, x0 = at.x0 - 1;
            const bool interior =
                y0 >= 0 && y0 + in_tile <= pb.h && x0 >= 0 && x0 + in_tile <= pb.w;
            const float* block = src + (at.image * ci / lanes + cb) * plane;
            float* vt = v + t * ci + cb * lanes;
            if (interior)
                transform_input_tile<true>(block, pb.h, pb.w, y0, x0, vt, stride_tiles * ci, tmp);
            else
                transform_input_tile<false>(block, pb.h, pb.w, y0, x0, vt, stride_tiles * ci, tmp);
        }
    for (std::int64_t cb = 0; cb < co / lanes; ++cb) {
        __m512 bias_sum = _mm512_loadu_ps(bias_acc + cb * lanes);
        for (std::int64_t t = 0; t < count; ++t) {
            const TilePlace at = place_of(pb, first + t);
            const std::int64_t block = (at.image * co / lanes + cb) * plane;
            transform_gradient_tile(diff + block, relu_dst ? relu_dst + block : nullptr,
                                    masked ? masked + block : nullptr, pb.h, pb.w, at.y0, at.x0,
                                    d + t * co + cb * lanes, stride_tiles * co, tmp, bias_sum);
        }
        _mm512_storeu_ps(bias_acc + cb * lanes, bias_sum);
    }
    for (int p = 0; p < positions; ++p) {
        const float* vp = v + p * stride_tiles * ci;
        const float* dp = d + p * stride_tiles * co;
        float* ap = acc + p * ci * co;
        if (co % (2 * lanes) == 0) {
            for (std::int64_t i = 0; i < ci; i += 8)
                for (std::int64_t o = 0; o < co; o += 2 * lanes)
                    accumulate_products<8, 2>(vp + i, ci, dp + o, co, ap + i * co + o, co, count);
        } else {
            for (std::int64_t i = 0; i < ci; i += 16)
                for (std::int64_t o = 0; o < co; o += lanes)
                    accumulate_products<16, 1>(vp + i, ci, dp + o, co, ap + i * co + o, co, count);
        }
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

}  // namespace

bool WinogradConvolution::cpu_supported() {
    static const bool supported = __builtin_cpu_supports("avx512f");
    return supported;
}

bool WinogradConvolution::fits(std::int64_t in_channels, std::int64_t out_channels,
                               const Activation& activation) {
    const bool fused = activation.kind == Activation::Kind::linear ||
                       activation.kind == Activation::Kind::relu ||
                       activation.kind == Activation::Kind::leaky_relu;
    return fused && in_channels > 0 && out_channels > 0 && in_channels % lanes == 0 &&
           out_channels % lanes == 0;
}

void WinogradConvolution::set_weights(const float* kernel, const float* bias,
                                      std::int64_t layer_out_channels,
                                      std::int64_t layer_in_channels, KernelUse use) {
    const bool transposed = use == KernelUse::backward_data;
    if (transposed && bias)
        throw InvalidArgument("Winograd convolution: backward-data takes no bias");
    // The channels of the convolution this kernel runs, and where kernel element (co, ci, i, j)
    // of it lies in the layer's OIHW kernel: transposed, K[ci][co][2 - i][2 - j].
    const std::int64_t out_channels = transposed ? layer_in_channels : layer_out_channels;
    const std::int64_t in_channels = transposed ? layer_out_channels : layer_in_channels;
    in_channels_ = in_channels;
    out_channels_ = out_channels;
    weights_.reshape(Dims{positions, in_channels, out_channels, 1});
    bias_.reshape(Dims{1, out_channels, 1, 1});
    // The kernel transform runs once per weight change, in double.
    const auto& g = kernel_transform;
    float* u = weights_.data();
    // Training changes the kernel every step: the transform runs on all threads.
#pragma omp parallel for schedule(static)
    for (std::int64_t co = 0; co < out_channels; ++co)
        for (std::int64_t ci = 0; ci < in_channels; ++ci) {
            float k[9];
            if (transposed) {
                const float* layer_k = kernel + (ci * out_channels + co) * 9;
                for (int e = 0; e < 9; ++e) k[e] = layer_k[8 - e];
            } else {
                std::copy(kernel + (co * in_channels + ci) * 9,
                          kernel + (co * in_channels + ci + 1) * 9, k);
            }
            double gk[in_tile][3] = {};
            for (int a = 0; a < in_tile; ++a)
                for (int j = 0; j < 3; ++j)
                    for (int i = 0; i < 3; ++i) gk[a][j] += g[a][i] * k[i * 3 + j];
            for (int a = 0; a < in_tile; ++a)
                for (int b = 0; b < in_tile; ++b) {
                    double s = 0;
                    for (int j = 0; j < 3; ++j) s += gk[a][j] * g[b][j];
                    u[((a * in_tile + b) * in_channels + ci) * out_channels + co] =
                        static_cast<float>(s);
                }
        }
    for (std::int64_t co = 0; co < out_channels; ++co) bias_.data()[co] = bias ? bias[co] : 0.f;
}

void WinogradConvolution::forward(const float* src, float* dst, std::int64_t n, std::int64_t h,
                                  std::int64_t w, const Activation& activation) {
    if (in_channels_ == 0)
        throw InvalidArgument("Winograd convolution: forward before set_weights");
    if (reinterpret_cast<std::uintptr_t>(src) % 64 != 0 ||
        reinterpret_cast<std::uintptr_t>(dst) % 64 != 0)
        throw InvalidArgument(
            "Winograd convolution: source and destination must be 64-byte "
            "aligned, as tensor storage is");
    Problem pb = problem(h, w, in_channels_, out_channels_);
    pb.fused = activation.kind == Activation::Kind::relu         ? Fused::relu
               : activation.kind == Activation::Kind::leaky_relu ? Fused::leaky_relu
                                                                 : Fused::linear;
    pb.alpha = activation.alpha;

    const std::int64_t total_tiles = n * pb.tiles_y * pb.tiles_x;
    const std::int64_t strips = (total_tiles + pb.strip.tiles - 1) / pb.strip.tiles;
    const int threads = static_cast<int>(std::min<std::int64_t>(omp_get_max_threads(), strips));
    const std::int64_t v_size = positions * pb.strip.tiles * in_channels_;
    const std::int64_t m_size = positions * pb.strip.tiles * out_channels_;
    const std::int64_t per_thread = v_size + m_size + positions * lanes;
    if (scratch_.storage_size() < static_cast<std::size_t>(threads * per_thread))
        scratch_.reshape(Dims{threads, 1, 1, per_thread});
    float* scratch = scratch_.data();
    const float* weights = weights_.data();
    const float* bias = bias_.data();

#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t s = 0; s < strips; ++s) {
        const std::int64_t first = s * pb.strip.tiles;
        float* own = scratch + omp_get_thread_num() * per_thread;
        run_strip(pb, src, weights, bias, dst, first, std::min(pb.strip.tiles, total_tiles - first),
                  own + positions * lanes, own + positions * lanes + v_size, own);
    }
}

void WinogradConvolution::backward_weights(const float* src, const float* diff_dst,
                                           const float* relu_dst, float* diff_pre, std::int64_t n,
                                           std::int64_t h, std::int64_t w, float* diff_kernel,
                                           float* diff_bias) {
    if (in_channels_ == 0)
        throw InvalidArgument("Winograd convolution: backward_weights before set_weights");
    if (reinterpret_cast<std::uintptr_t>(src) % 64 != 0 ||
        reinterpret_cast<std::uintptr_t>(diff_dst) % 64 != 0)
        throw InvalidArgument(
            "Winograd convolution: source and gradient must be 64-byte aligned, as tensor "
            "storage is");
    const Problem pb = problem(h, w, in_channels_, out_channels_);
    const std::int64_t ci = in_channels_, co = out_channels_;
    const std::int64_t tiles = std::clamp<std::int64_t>(
        weight_strip_bytes / (positions * (ci + co) * std::int64_t(sizeof(float))),
        min_weight_strip_tiles, max_weight_strip_tiles);
    const std::int64_t total_tiles = n * pb.tiles_y * pb.tiles_x;
    const std::int64_t strips = (total_tiles + tiles - 1) / tiles;
    const int threads = static_cast<int>(std::min<std::int64_t>(omp_get_max_threads(), strips));
    const std::int64_t v_size = positions * tiles * ci, d_size = positions * tiles * co;
    const std::int64_t acc_size = positions * ci * co;
    const std::int64_t per_thread = positions * lanes + v_size + d_size + acc_size + co;
    if (weight_scratch_.storage_size() < static_cast<std::size_t>(threads * per_thread))
        weight_scratch_.reshape(Dims{threads, 1, 1, per_thread});
    float* scratch = weight_scratch_.data();

#pragma omp parallel num_threads(threads)
    {
        float* own = scratch + omp_get_thread_num() * per_thread;
        float* v = own + positions * lanes;
        float* d = v + v_size;
        float* acc = d + d_size;
        std::fill(acc, acc + acc_size + co, 0.f);  // the sums and the bias's
#pragma omp for schedule(static)
        for (std::int64_t s = 0; s < strips; ++s) {
            const std::int64_t first = s * tiles;
            weight_gradient_strip(pb, src, diff_dst, relu_dst, diff_pre, first,
                                  std::min(tiles, total_tiles - first), tiles, v, d, acc,
                                  acc + acc_size, own);
        }
    }
    // Each thread's sums added up, then G^T S G for every kernel, in double.
    const auto& g = kernel_transform;
    const auto sum_of = [&](std::int64_t offset) {
        double total = 0;
        for (int t = 0; t < threads; ++t)
            total += scratch[t * per_thread + positions * lanes + v_size + d_size + offset];
        return total;
    };
#pragma omp parallel for schedule(static)
    for (std::int64_t o = 0; o < co; ++o)
        for (std::int64_t i = 0; i < ci; ++i) {
            double s[in_tile][in_tile];
            for (int a = 0; a < in_tile; ++a)
                for (int b = 0; b < in_tile; ++b)
                    s[a][b] = sum_of((a * in_tile + b) * ci * co + i * co + o);
            float* k = diff_kernel + (o * ci + i) * 9;
            for (int y = 0; y < 3; ++y)
                for (int x = 0; x < 3; ++x) {
                    double total = 0;
                    for (int a = 0; a < in_tile; ++a)
                        for (int b = 0; b < in_tile; ++b) total += g[a][y] * s[a][b] * g[b][x];
                    k[y * 3 + x] = static_cast<float>(total);
                }
        }
    if (diff_bias)
        for (std::int64_t o = 0; o < co; ++o)
            diff_bias[o] = static_cast<float>(sum_of(acc_size + o));
}

}  // namespace tomodenoise
