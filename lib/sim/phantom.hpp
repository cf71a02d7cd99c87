#pragma once
// Phantoms made of ellipses: rasterized for the ground truth, projected analytically for the
// sinogram, so the projections carry no discretization error of their own.

#include <random>
#include <vector>

#include "sim/parallel_beam.hpp"
#include "sim/texture.hpp"

namespace tomodenoise::sim {

/// An ellipse that adds `value` plus its `texture` (relative to its centre) inside it.
/// Normalized coordinates: the image spans [-1, 1] on both axes, x to the right, y up; `angle`
/// (radians) turns the x semi-axis counter-clockwise.
struct Ellipse {
    double value, semi_x, semi_y, center_x, center_y, angle;
    std::vector<Wave> texture = {};
};

/// The modified Shepp-Logan phantom (Toft; MATLAB's and scikit-image's), values in [0, 1].
std::vector<Ellipse> shepp_logan_ellipses();
/// A body ellipse with 4 to 12 random inner ellipses, all inside the unit circle.
std::vector<Ellipse> random_ellipses(std::mt19937_64& rng);
/// The central slice of a cylinder holding random spheres: a disk with random inner disks.
std::vector<Ellipse> random_sphere_slice(std::mt19937_64& rng);

/// Gives every ellipse a random texture of RMS `texture` x |value| (see simulate.hpp), for
/// images of `size` pixels. Draws nothing when `texture` is 0.
void add_texture(std::vector<Ellipse>& ellipses, double texture, int size, std::mt19937_64& rng);

/// A size x size image; each pixel is the mean of `subsamples`^2 point samples, so edges are
/// area-averaged the way a detector would see them.
std::vector<float> rasterize(const std::vector<Ellipse>& ellipses, int size, int subsamples);

/// Exact line integrals through the ellipses and their textures, in pixel units, laid out
/// (views, bins).
std::vector<float> project(const std::vector<Ellipse>& ellipses, const ParallelGeometry& geometry);

}  // namespace tomodenoise::sim
