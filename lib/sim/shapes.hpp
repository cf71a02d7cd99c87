#pragma once
// Random scenes of simple shapes, with a class label per pixel.

#include <cstdint>
#include <random>
#include <vector>

namespace tomodenoise::sim {

/// Pixel classes of a shapes scene, as stored in the `seg` labels.
enum ShapeClass : std::uint8_t { background = 0, disk = 1, rectangle = 2, line = 3 };

/// A size x size scene: values in [0, 1] and the class of the shape drawn last at each pixel.
struct ShapesScene {
    std::vector<float> image;
    std::vector<std::uint8_t> labels;
};

/// A linearly graded background with 3 to 8 disks, rotated rectangles and thick lines, each
/// of a constant value or (one in three) linearly graded, and with a random texture of RMS
/// `texture` x its value (see simulate.hpp). The texture is drawn after the shapes, so the
/// shapes do not depend on it.
ShapesScene draw_shapes(int size, double texture, std::mt19937_64& rng);

}  // namespace tomodenoise::sim
