// Parameterisations and the adapters that turn any network into a denoiser D(x, sigma).
#include "core/denoiser.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "core/schedules.h"

namespace diffuse {

Prediction prediction_from_name(const std::string& name) {
  if (name == "epsilon" || name == "eps") return Prediction::kEpsilon;
  if (name == "sample" || name == "x0") return Prediction::kSample;
  if (name == "v_prediction" || name == "v") return Prediction::kVelocity;
  if (name == "flow" || name == "flow_velocity") return Prediction::kFlow;
  throw std::invalid_argument("unknown prediction type '" + name + "'; one of: epsilon, sample, v_prediction, flow");
}

std::string to_string(Prediction p) {
  switch (p) {
    case Prediction::kEpsilon: return "epsilon";
    case Prediction::kSample: return "sample";
    case Prediction::kVelocity: return "v_prediction";
    case Prediction::kFlow: return "flow";
  }
  return "?";
}

Scaling vp_scaling(double sigma) {
  const double a = 1.0 / std::sqrt(1.0 + sigma * sigma);
  return {a, sigma * a};
}

Scaling flow_scaling(double sigma) { return {1.0 / (1.0 + sigma), sigma / (1.0 + sigma)}; }

torch::Tensor x0_from_prediction(Prediction p, const torch::Tensor& out, const torch::Tensor& x_t, Scaling k) {
  switch (p) {
    case Prediction::kEpsilon: return (x_t - k.s * out) / k.a;
    case Prediction::kSample: return out;
    case Prediction::kVelocity: return k.a * x_t - k.s * out;  // Salimans & Ho 2022, with a^2+s^2=1
    case Prediction::kFlow: return x_t - k.s * out;            // u = eps - x0, a = 1 - s
  }
  throw std::logic_error("unreachable");
}

torch::Tensor prediction_from_x0(Prediction p, const torch::Tensor& x0, const torch::Tensor& x_t, Scaling k) {
  switch (p) {
    case Prediction::kEpsilon: return (x_t - k.a * x0) / k.s;
    case Prediction::kSample: return x0;
    case Prediction::kVelocity: return k.a * (x_t - k.a * x0) / k.s - k.s * x0;
    case Prediction::kFlow: return (x_t - x0) / k.s;
  }
  throw std::logic_error("unreachable");
}

namespace {
torch::Tensor time_tensor(double t) { return torch::scalar_tensor(t, torch::kFloat64); }
}  // namespace

Denoiser vp_denoiser(Network net, Prediction p, std::function<double(double)> sigma_to_t_fn) {
  TORCH_CHECK(p != Prediction::kFlow, "a VP network cannot predict flow velocity; use flow_denoiser");
  return [net = std::move(net), p, map = std::move(sigma_to_t_fn)](const torch::Tensor& x, const torch::Tensor& sigma) {
    const double sg = sigma.item<double>();
    const Scaling k = vp_scaling(sg);
    const auto x_in = x * k.a;  // diffusers' scale_model_input: x / sqrt(1 + sigma^2)
    const auto out = net(x_in, time_tensor(map(sg)));
    return x0_from_prediction(p, out, x_in, k);
  };
}

Denoiser vp_denoiser(Network net, Prediction p, const torch::Tensor& alphas_cumprod, TimeInput time) {
  const auto table = sigmas_from_alphas_cumprod(alphas_cumprod.to(torch::kFloat64));
  auto map = [table, time](double sigma) {
    const double t = sigma_to_t(table, sigma);
    return time == TimeInput::kRounded ? std::nearbyint(t) : t;
  };
  return vp_denoiser(std::move(net), p, std::move(map));
}

Denoiser flow_denoiser(Network net, double T) {
  return [net = std::move(net), T](const torch::Tensor& x, const torch::Tensor& sigma) {
    const Scaling k = flow_scaling(sigma.item<double>());
    const auto x_in = x * k.a;
    return x0_from_prediction(Prediction::kFlow, net(x_in, time_tensor(k.s * T)), x_in, k);
  };
}

EdmCoefficients edm_coefficients(double sigma, double sd) {
  const double r = std::sqrt(sigma * sigma + sd * sd);
  return {sd * sd / (r * r), sigma * sd / r, 1.0 / r, std::log(sigma) / 4.0};
}

Denoiser edm_denoiser(Network net, double sigma_data) {
  return [net = std::move(net), sigma_data](const torch::Tensor& x, const torch::Tensor& sigma) {
    const auto c = edm_coefficients(sigma.item<double>(), sigma_data);
    return c.c_skip * x + c.c_out * net(c.c_in * x, time_tensor(c.c_noise));
  };
}

}  // namespace diffuse
