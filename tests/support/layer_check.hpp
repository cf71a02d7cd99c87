#pragma once
// Checks for layers: plain tensors from seeded values, and a central-difference gradient check
// of L = sum(dst * R) for a fixed random R, over inputs and parameters, with the bound asserted.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/layer.hpp"
#include "core/tensor.hpp"
#include "layers/activation.hpp"
#include "test_support.hpp"

namespace tomodenoise::testing {

/// A plain tensor filled with seeded uniform values in [lo, hi).
inline Tensor random_tensor(const Dims& dims, std::uint32_t seed, float lo = -1.f, float hi = 1.f) {
    Tensor t(dims);
    const auto v = random_values(static_cast<std::size_t>(dims.count()), seed, lo, hi);
    std::copy(v.begin(), v.end(), t.data());
    return t;
}

/// The values of `t` in plain NCHW order.
inline std::vector<float> plain_values(Context& ctx, const Tensor& t) {
    Tensor p;
    ctx.to_plain(t, p);
    return std::vector<float>(p.data(), p.data() + p.dims().count());
}

/// `activation` applied to `x` in double precision, from its definition.
inline double reference_activation(const Activation& activation, double x) {
    switch (activation.kind) {
        case Activation::Kind::relu:
            return std::max(x, 0.0);
        case Activation::Kind::leaky_relu:
            return x > 0 ? x : activation.alpha * x;
        case Activation::Kind::sigmoid:
            return 1 / (1 + std::exp(-x));
        case Activation::Kind::tanh:
            return std::tanh(x);
        case Activation::Kind::linear:
            return x;
    }
    return x;
}

struct GradientCheckOptions {
    double epsilon = 1e-2;     ///< central-difference step
    double bound = 1e-2;       ///< ||analytic - numeric|| / ||analytic + numeric||
    std::size_t samples = 40;  ///< entries probed per tensor (all when fewer)
    std::uint32_t seed = 7;
};

/// Runs forward (training) and backward of `layer` on `inputs` with diff_dst = R, then for a
/// sample of entries of every input and parameter compares the analytic gradient with
/// (L(x + e) - L(x - e)) / 2e, asserting the relative error bound. Returns the worst error.
inline double check_layer_gradients(Context& ctx, Layer& layer, std::vector<Tensor> inputs,
                                    const GradientCheckOptions& opt = {}) {
    std::vector<Dims> dims;
    for (auto& t : inputs) dims.push_back(t.dims());
    const Dims out_dims = layer.build(dims);
    std::vector<const Tensor*> src;
    for (auto& t : inputs) src.push_back(&t);
    Tensor dst;
    layer.forward(ctx, src, dst, Mode::training);
    const Tensor r = random_tensor(out_dims, opt.seed + 1);

    auto loss = [&]() {
        Tensor out;
        layer.forward(ctx, src, out, Mode::training);
        const auto v = plain_values(ctx, out);
        double l = 0;
        for (std::size_t i = 0; i < v.size(); ++i) l += double(v[i]) * r.data()[i];
        return l;
    };

    std::vector<Tensor> diff_inputs(inputs.size());
    std::vector<Tensor*> diff_src;
    for (auto& d : diff_inputs) diff_src.push_back(&d);
    layer.forward(ctx, src, dst, Mode::training);
    layer.backward(ctx, src, dst, r, diff_src);

    double worst = 0;
    std::mt19937 gen(opt.seed);
    auto probe = [&](float* values, std::size_t count, const std::vector<float>& analytic,
                     const std::string& label, const std::function<void()>& changed) {
        std::vector<std::size_t> idx(count);
        for (std::size_t i = 0; i < count; ++i) idx[i] = i;
        std::shuffle(idx.begin(), idx.end(), gen);
        idx.resize(std::min(count, opt.samples));
        double diff2 = 0, sum2 = 0;
        for (auto i : idx) {
            const float saved = values[i];
            values[i] = saved + float(opt.epsilon);
            changed();
            const double plus = loss();
            values[i] = saved - float(opt.epsilon);
            changed();
            const double minus = loss();
            values[i] = saved;
            changed();
            const double numeric = (plus - minus) / (2 * opt.epsilon);
            diff2 += (analytic[i] - numeric) * (analytic[i] - numeric);
            sum2 += (analytic[i] + numeric) * (analytic[i] + numeric);
        }
        const double err = sum2 > 0 ? std::sqrt(diff2 / sum2) : std::sqrt(diff2);
        EXPECT_LT(err, opt.bound) << label << " of " << layer.name();
        EXPECT_GT(sum2, 0.0) << label << " of " << layer.name() << ": all gradients are zero";
        worst = std::max(worst, err);
    };

    for (std::size_t k = 0; k < inputs.size(); ++k) {
        const auto analytic = plain_values(ctx, diff_inputs[k]);
        probe(inputs[k].data(), static_cast<std::size_t>(inputs[k].dims().count()), analytic,
              "input " + std::to_string(k), [] {});
    }
    for (Parameter* p : layer.parameters()) {
        const std::vector<float> analytic(p->grad(), p->grad() + p->size());
        probe(p->value(), static_cast<std::size_t>(p->size()), analytic, "parameter " + p->name(),
              [p] { p->mark_changed(); });
    }
    return worst;
}

/// check_layer_gradients for a layer with a fused ReLU, away from the kink where its derivative
/// jumps: positive weights, biases of 0.5 and positive inputs keep every unit active, so the
/// central difference is exact up to rounding.
inline double check_relu_gradients_away_from_kink(Context& ctx, Layer& layer, const Dims& in) {
    layer.build({in});
    for (Parameter* p : layer.parameters()) {
        if (p->name() == "bias") {
            std::fill(p->value(), p->value() + p->size(), 0.5f);
        } else {
            const auto w = random_values(static_cast<std::size_t>(p->size()), 4, 0.05f, 0.2f);
            std::copy(w.begin(), w.end(), p->value());
        }
        p->mark_changed();
    }
    GradientCheckOptions opt;
    opt.epsilon = 1e-3;
    return check_layer_gradients(ctx, layer, {random_tensor(in, 2, 0.1f, 1.f)}, opt);
}

// A frozen `layer` (set_parameter_gradients(false), built and initialized, one input of
// `in`) gives the input gradient it gives unfrozen and leaves its parameter gradients as they
// were; unfrozen it writes them. Leaves the layer unfrozen.
inline void check_frozen_backward(Context& ctx, Layer& layer, const Dims& in) {
    constexpr float untouched = 12345.f;
    const Tensor x = random_tensor(in, 5);
    Tensor dst, trained_diff, frozen_diff;
    layer.forward(ctx, {&x}, dst, Mode::training);
    const Tensor diff_dst = random_tensor(dst.dims(), 6);
    const auto fill_gradients = [&] {
        for (Parameter* p : layer.parameters())
            std::fill(p->grad(), p->grad() + p->size(), untouched);
    };
    const auto all_untouched = [&] {
        for (Parameter* p : layer.parameters())
            for (std::int64_t i = 0; i < p->size(); ++i)
                if (p->grad()[i] != untouched) return false;
        return true;
    };
    fill_gradients();
    layer.backward(ctx, {&x}, dst, diff_dst, {&trained_diff});
    EXPECT_FALSE(all_untouched()) << layer.name() << " trained: no parameter gradient written";
    layer.set_parameter_gradients(false);
    fill_gradients();
    layer.backward(ctx, {&x}, dst, diff_dst, {&frozen_diff});
    layer.set_parameter_gradients(true);
    EXPECT_TRUE(all_untouched()) << layer.name() << " frozen: a parameter gradient was written";
    const auto a = plain_values(ctx, trained_diff), b = plain_values(ctx, frozen_diff);
    EXPECT_TRUE(near_all(b, std::vector<double>(a.begin(), a.end()), 1e-6)) << layer.name();
}

}  // namespace tomodenoise::testing
