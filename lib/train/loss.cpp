#include "train/loss.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

// Below this many terms a parallel region costs more than the loop.
constexpr std::int64_t parallel_threshold = 1 << 15;

// Sum of term(i) for i in [0, count), in double, across OpenMP threads when count is large.
template <typename Term>
double parallel_sum(std::int64_t count, const Term& term) {
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static) if (count >= parallel_threshold)
    for (std::int64_t i = 0; i < count; ++i) sum += term(i);
    return sum;
}

void expect_plain(const char* loss, const char* role, const Tensor& t) {
    if (t.empty())
        throw ShapeError(std::string(loss) + ": " + role + " is empty " + t.dims().to_string());
    if (!t.is_plain())
        throw ShapeError(std::string(loss) + ": " + role + " " + t.dims().to_string() +
                         " is laid out as " + layout_name(t.desc()) + ", expected plain nchw");
}

void expect_same_dims(const char* loss, const char* role_a, const Tensor& a, const char* role_b,
                      const Tensor& b) {
    if (a.dims() != b.dims())
        throw ShapeError(std::string(loss) + ": " + role_a + " " + a.dims().to_string() + " and " +
                         role_b + " " + b.dims().to_string() + " differ");
}

// Checks both operands and reshapes `grad` to the prediction's dims; returns its data or null.
float* prepare(const char* loss, const Tensor& prediction, const char* target_role,
               const Tensor& target, Tensor* grad) {
    expect_plain(loss, "prediction", prediction);
    expect_plain(loss, target_role, target);
    expect_same_dims(loss, "prediction", prediction, target_role, target);
    if (!grad) return nullptr;
    grad->reshape(prediction.dims());
    return grad->data();
}

float* prepare_gradient(const Tensor& of, Tensor* grad) {
    if (!grad) return nullptr;
    grad->reshape(of.dims());
    return grad->data();
}

std::string position(const Dims& dims, std::int64_t flat) {
    const std::int64_t w = flat % dims.w, h = flat / dims.w % dims.h,
                       c = flat / (dims.w * dims.h) % dims.c, n = flat / (dims.w * dims.h * dims.c);
    return "[" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " +
           std::to_string(w) + "]";
}

// Throws InvalidArgument naming the first value of `t` that `valid` rejects. The parallel count
// keeps the common, valid case fast; the serial search runs only to word the error.
template <typename Valid>
void expect_values(const char* loss, const char* role, const Tensor& t, const char* requirement,
                   const Valid& valid) {
    const float* v = t.data();
    const std::int64_t count = t.dims().count();
    const double invalid = parallel_sum(count, [&](std::int64_t i) { return valid(v[i]) ? 0 : 1; });
    if (invalid == 0) return;
    for (std::int64_t i = 0; i < count; ++i)
        if (!valid(v[i]))
            throw InvalidArgument(std::string(loss) + ": " + role + " " + t.dims().to_string() +
                                  " holds " + std::to_string(v[i]) + " at " +
                                  position(t.dims(), i) + "; " + requirement);
}

}  // namespace

double mean_squared_error_loss(const Tensor& prediction, const Tensor& target, Tensor* grad) {
    float* g = prepare("mean_squared_error_loss", prediction, "target", target, grad);
    const float* p = prediction.data();
    const float* t = target.data();
    const std::int64_t count = prediction.dims().count();
    const double scale = 2.0 / double(count);
    const double sum = parallel_sum(count, [&](std::int64_t i) {
        const double d = double(p[i]) - t[i];
        if (g) g[i] = float(scale * d);
        return d * d;
    });
    return sum / double(count);
}

double mean_absolute_error_loss(const Tensor& prediction, const Tensor& target, Tensor* grad) {
    float* g = prepare("mean_absolute_error_loss", prediction, "target", target, grad);
    const float* p = prediction.data();
    const float* t = target.data();
    const std::int64_t count = prediction.dims().count();
    const float scale = float(1.0 / double(count));
    const double sum = parallel_sum(count, [&](std::int64_t i) {
        const double d = double(p[i]) - t[i];
        if (g) g[i] = d > 0 ? scale : d < 0 ? -scale : 0.f;
        return std::abs(d);
    });
    return sum / double(count);
}

double masked_mean_squared_error_loss(const Tensor& prediction, const Tensor& target,
                                      const Tensor& mask, Tensor* grad) {
    const char* loss = "masked_mean_squared_error_loss";
    float* g = prepare(loss, prediction, "target", target, grad);
    expect_plain(loss, "mask", mask);
    expect_same_dims(loss, "prediction", prediction, "mask", mask);
    expect_values(loss, "mask", mask, "a mask holds only 0 and 1",
                  [](float m) { return m == 0.f || m == 1.f; });
    const float* p = prediction.data();
    const float* t = target.data();
    const float* m = mask.data();
    const std::int64_t count = prediction.dims().count();
    const double masked = parallel_sum(count, [&](std::int64_t i) { return double(m[i]); });
    if (masked == 0) {
        if (g) grad->zero();
        return 0;
    }
    const double scale = 2.0 / masked;
    const double sum = parallel_sum(count, [&](std::int64_t i) {
        const double d = m[i] * (double(p[i]) - t[i]);
        if (g) g[i] = float(scale * d);
        return d * d;
    });
    return sum / masked;
}

double binary_crossentropy_from_logits(const Tensor& logits, const Tensor& target, Tensor* grad) {
    float* g = prepare("binary_crossentropy_from_logits", logits, "target", target, grad);
    const float* x = logits.data();
    const float* z = target.data();
    const std::int64_t count = logits.dims().count();
    const double scale = 1.0 / double(count);
    const double sum = parallel_sum(count, [&](std::int64_t i) {
        const double xi = x[i], zi = z[i];
        // exp(-|x|) never overflows; sigmoid(x) is written from it on both sides of 0.
        const double e = std::exp(-std::abs(xi));
        if (g) g[i] = float(((xi >= 0 ? 1 / (1 + e) : e / (1 + e)) - zi) * scale);
        return std::max(xi, 0.0) - xi * zi + std::log1p(e);
    });
    return sum * scale;
}

double wasserstein_critic_loss(const Tensor& critic_fake, const Tensor& critic_real,
                               Tensor* grad_fake, Tensor* grad_real) {
    const char* loss = "wasserstein_critic_loss";
    expect_plain(loss, "critic output on fake samples", critic_fake);
    expect_plain(loss, "critic output on real samples", critic_real);
    const std::int64_t fake_count = critic_fake.dims().count();
    const std::int64_t real_count = critic_real.dims().count();
    const float* fake = critic_fake.data();
    const float* real = critic_real.data();
    float* gf = prepare_gradient(critic_fake, grad_fake);
    float* gr = prepare_gradient(critic_real, grad_real);
    const float fake_scale = float(1.0 / double(fake_count));
    const float real_scale = float(-1.0 / double(real_count));
    const double fake_sum = parallel_sum(fake_count, [&](std::int64_t i) {
        if (gf) gf[i] = fake_scale;
        return double(fake[i]);
    });
    const double real_sum = parallel_sum(real_count, [&](std::int64_t i) {
        if (gr) gr[i] = real_scale;
        return double(real[i]);
    });
    return fake_sum / double(fake_count) - real_sum / double(real_count);
}

double wasserstein_generator_loss(const Tensor& critic_fake, Tensor* grad_fake) {
    expect_plain("wasserstein_generator_loss", "critic output on fake samples", critic_fake);
    const std::int64_t count = critic_fake.dims().count();
    const float* fake = critic_fake.data();
    float* g = prepare_gradient(critic_fake, grad_fake);
    const float scale = float(-1.0 / double(count));
    const double sum = parallel_sum(count, [&](std::int64_t i) {
        if (g) g[i] = scale;
        return double(fake[i]);
    });
    return -sum / double(count);
}

double sparse_softmax_crossentropy(const Tensor& logits, const Tensor& labels,
                                   const std::vector<float>& class_weights, Tensor* grad) {
    const char* loss = "sparse_softmax_crossentropy";
    expect_plain(loss, "logits", logits);
    expect_plain(loss, "labels", labels);
    const Dims d = logits.dims();
    const std::int64_t classes = d.c;
    if (labels.dims() != Dims{d.n, 1, d.h, d.w})
        throw ShapeError(std::string(loss) + ": labels " + labels.dims().to_string() +
                         " do not fit logits " + d.to_string() + ", expected " +
                         Dims{d.n, 1, d.h, d.w}.to_string());
    if (!class_weights.empty() && std::int64_t(class_weights.size()) != classes)
        throw InvalidArgument(std::string(loss) + ": " + std::to_string(class_weights.size()) +
                              " class weights for logits " + d.to_string() + " with " +
                              std::to_string(classes) + " classes");
    for (std::size_t k = 0; k < class_weights.size(); ++k)
        if (!std::isfinite(class_weights[k]) || class_weights[k] < 0)
            throw InvalidArgument(std::string(loss) + ": class weight " + std::to_string(k) +
                                  " is " + std::to_string(class_weights[k]) +
                                  ", expected a finite value >= 0");
    const std::string requirement =
        "labels are integer class indices 0.." + std::to_string(classes - 1);
    expect_values(loss, "labels", labels, requirement.c_str(), [classes](float l) {
        return l >= 0 && l < float(classes) && l == std::floor(l);
    });

    float* g = prepare_gradient(logits, grad);
    const float* x = logits.data();
    const float* label = labels.data();
    const std::int64_t plane = d.h * d.w;
    const std::int64_t pixels = d.n * plane;
    const double scale = 1.0 / double(pixels);
    const double sum = parallel_sum(pixels, [&](std::int64_t q) {
        // The channels of one pixel lie a plane apart.
        const std::int64_t base = q / plane * classes * plane + q % plane;
        const auto l = std::int64_t(label[q]);
        const double weight = class_weights.empty() ? 1.0 : class_weights[l];
        double top = x[base];
        for (std::int64_t k = 1; k < classes; ++k) top = std::max(top, double(x[base + k * plane]));
        double total = 0;
        for (std::int64_t k = 0; k < classes; ++k) total += std::exp(x[base + k * plane] - top);
        const double log_total = std::log(total);
        if (g)
            for (std::int64_t k = 0; k < classes; ++k) {
                const double softmax = std::exp(x[base + k * plane] - top - log_total);
                g[base + k * plane] = float(weight * (softmax - (k == l ? 1 : 0)) * scale);
            }
        return weight * (top + log_total - x[base + l * plane]);
    });
    return sum * scale;
}

}  // namespace tomodenoise
