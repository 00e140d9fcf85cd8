// Per-item seeded noise and replayed noise.
#include "core/noise.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <stdexcept>

namespace diffuse {

SeededNoise::SeededNoise(const std::vector<uint64_t>& seeds) {
  for (auto s : seeds) generators_.push_back(at::detail::createCPUGenerator(s));
}

SeededNoise SeededNoise::consecutive(uint64_t first, int64_t n) {
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < n; ++i) seeds.push_back(first + uint64_t(i));
  return SeededNoise(seeds);
}

torch::Tensor SeededNoise::draw(const torch::Tensor& like) {
  TORCH_CHECK(like.dim() >= 1 && like.size(0) == int64_t(generators_.size()), "noise for a batch of ",
              like.size(0), " but ", generators_.size(), " seeds");
  std::vector<torch::Tensor> items;
  const auto item_shape = like.sizes().slice(1);
  for (auto& g : generators_) items.push_back(torch::randn(item_shape, g, torch::kFloat64));
  return torch::stack(items).to(like.options());
}

torch::Tensor ReplayNoise::draw(const torch::Tensor& like) {
  if (draws_.empty()) throw std::runtime_error("replayed noise exhausted: the sampler drew more noise than recorded");
  auto n = draws_.front();
  draws_.pop_front();
  TORCH_CHECK(n.sizes() == like.sizes(), "recorded noise has shape ", n.sizes(), ", sampler asked for ", like.sizes());
  return n.to(like.options());
}

}  // namespace diffuse
