// Where samplers get their randomness. Item i of a batch draws from its own generator seeded
// with seeds[i], so a sample does not depend on batch size, thread count or device.
#pragma once
#include <torch/types.h>

#include <deque>
#include <vector>

namespace diffuse {

class NoiseSource {
 public:
  virtual ~NoiseSource() = default;
  // Standard normal noise shaped, typed and placed like `like`.
  virtual torch::Tensor draw(const torch::Tensor& like) = 0;
};

// One CPU generator per batch item. Draws are made on the CPU in float64 and cast, so the
// same seed gives the same values (to the dtype's precision) on every device.
class SeededNoise : public NoiseSource {
 public:
  explicit SeededNoise(const std::vector<uint64_t>& seeds);
  // Seeds first, first + 1, ..., first + n - 1.
  static SeededNoise consecutive(uint64_t first, int64_t n);
  torch::Tensor draw(const torch::Tensor& like) override;
  // Item i's generator, for a sampler that draws other kinds of randomness per item.
  at::Generator& generator(int64_t i) { return generators_.at(size_t(i)); }

 private:
  std::vector<at::Generator> generators_;
};

// Replays recorded draws in order (reference trajectories). Throws when a draw's shape differs
// or none are left.
class ReplayNoise : public NoiseSource {
 public:
  explicit ReplayNoise(std::deque<torch::Tensor> draws) : draws_(std::move(draws)) {}
  torch::Tensor draw(const torch::Tensor& like) override;
  size_t remaining() const { return draws_.size(); }

 private:
  std::deque<torch::Tensor> draws_;
};

}  // namespace diffuse
