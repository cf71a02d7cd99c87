#pragma once
// Random scenes of simple shapes, with a class label per pixel: the kind of shape, or (for
// segmentation) its material.

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

/// The materials of a `seg` scene, as stored in its labels: 0 background, 1..material_count.
constexpr int material_count = 3;
/// A material's nominal value: 0.35, 0.6, 0.85, apart by 0.25 (2.5 times `seg`'s default
/// noise sigma), as distinct attenuations make distinct materials in a reconstruction.
constexpr double material_value(int material) {
    return 0.1 + 0.25 * material;
}

/// A scene whose labels are materials (`seg`): 3 to 8 disks and rotated rectangles (no thin
/// lines, whose labels no reconstruction resolves), each of one material, of its nominal value
/// +-0.04 and a texture of RMS `texture` x its value, on a background of 0 to 0.1 graded by at
/// most 0.1 across the image. Where shapes overlap, the one drawn last.
using MaterialsScene = ShapesScene;
MaterialsScene draw_materials(int size, double texture, std::mt19937_64& rng);

}  // namespace tomodenoise::sim
