#include <cmath>
#include <limits>
#include <string>

#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace tomodenoise {

double mean_squared_error(const float* reference, const float* test, std::size_t count) {
    if (count == 0) return 0.0;
    double sum = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
        const double d = double(test[i]) - double(reference[i]);
        sum += d * d;
    }
    return sum / double(count);
}

double mean_absolute_error(const float* reference, const float* test, std::size_t count) {
    if (count == 0) return 0.0;
    double sum = 0.0;
    for (std::size_t i = 0; i < count; ++i) sum += std::abs(double(test[i]) - double(reference[i]));
    return sum / double(count);
}

double psnr(const float* reference, const float* test, std::size_t count, double data_range) {
    if (!(data_range > 0.0))
        throw InvalidArgument("psnr: data range must be positive, got " +
                              std::to_string(data_range));
    const double mse = mean_squared_error(reference, test, count);
    if (mse == 0.0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(data_range * data_range / mse);
}

}  // namespace tomodenoise
