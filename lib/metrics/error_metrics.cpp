#include <cmath>
#include <limits>
#include <string>

#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace tomodenoise {

namespace {

// A mean over no values would be 0 or NaN, and PSNR infinite: a wrong answer, not an error.
void require_values(std::size_t count, const char* metric) {
    if (count == 0) throw ShapeError(std::string(metric) + ": no values to compare (count 0)");
}

}  // namespace

double mean_squared_error(const float* reference, const float* test, std::size_t count) {
    require_values(count, "mean_squared_error");
    double sum = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
        const double d = double(test[i]) - double(reference[i]);
        sum += d * d;
    }
    return sum / double(count);
}

double mean_absolute_error(const float* reference, const float* test, std::size_t count) {
    require_values(count, "mean_absolute_error");
    double sum = 0.0;
    for (std::size_t i = 0; i < count; ++i) sum += std::abs(double(test[i]) - double(reference[i]));
    return sum / double(count);
}

double psnr(const float* reference, const float* test, std::size_t count, double data_range) {
    if (!(data_range > 0.0 && std::isfinite(data_range)))
        throw InvalidArgument("psnr: data range must be finite and positive, got " +
                              std::to_string(data_range));
    require_values(count, "psnr");
    const double mse = mean_squared_error(reference, test, count);
    if (mse == 0.0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(data_range * data_range / mse);
}

}  // namespace tomodenoise
