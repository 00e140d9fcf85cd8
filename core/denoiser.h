// One interface between models and samplers (k-diffusion style): a denoiser maps a VE state
// x = x0 + sigma * eps and its noise level sigma to an estimate of x0. Whatever a network was
// trained to predict (eps, x0, v, flow velocity, EDM-preconditioned output), one adapter here
// turns it into a denoiser, and samplers never ask which it was.
#pragma once
#include <torch/types.h>

#include <functional>
#include <string>

namespace diffuse {

// x: (N, ...) VE state; sigma: 0-dim float64 tensor. Returns x0-hat, shaped like x.
using Denoiser = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& sigma)>;

// What a network predicts.
enum class Prediction { kEpsilon, kSample, kVelocity, kFlow };
Prediction prediction_from_name(const std::string& name);  // epsilon, sample, v_prediction, flow
std::string to_string(Prediction p);

// The scaling of a VE level in a model's own coordinates: x_model = a * x0 + s * eps.
struct Scaling {
  double a = 1.0, s = 0.0;
};
Scaling vp_scaling(double sigma);    // a = 1/sqrt(1+sigma^2), s = sigma * a
Scaling flow_scaling(double sigma);  // a = 1/(1+sigma), s = sigma/(1+sigma)

// Conversions between predictions, in one place. x_t is in the model's coordinates (a, s).
// x0 from a prediction: eps -> (x - s eps)/a, v -> a x - s v, flow (u = eps - x0) -> x - s u
// (flow requires a + s = 1).
torch::Tensor x0_from_prediction(Prediction p, const torch::Tensor& out, const torch::Tensor& x_t, Scaling k);
torch::Tensor prediction_from_x0(Prediction p, const torch::Tensor& x0, const torch::Tensor& x_t, Scaling k);

// A network called in its own coordinates: out = net(x_model, t), t a 0-dim float64 tensor
// holding the network's time input (a timestep in [0, T), flow t * T, or EDM's c_noise).
using Network = std::function<torch::Tensor(const torch::Tensor& x_model, const torch::Tensor& t)>;

// How a discrete VP network reads time: log-linear interpolation of the training table
// (fractional t), or rounded to the nearest integer (diffusers' multistep solvers do this
// with Karras sigmas; the update still uses the exact sigma).
enum class TimeInput { kContinuous, kRounded };

// A network trained on a discrete VP table (DDPM / Stable Diffusion style).
Denoiser vp_denoiser(Network net, Prediction p, const torch::Tensor& alphas_cumprod,
                     TimeInput time = TimeInput::kContinuous);
// The same, with an explicit sigma -> t map (used to replay a reference run's exact timesteps).
Denoiser vp_denoiser(Network net, Prediction p, std::function<double(double sigma)> sigma_to_t);
// A rectified-flow network: x_model = (1 - t) x0 + t eps, net(x_model, t * T) -> velocity.
Denoiser flow_denoiser(Network net, double num_train_timesteps = 1000.0);
// EDM preconditioning (Karras et al. 2022, Table 1): D = c_skip x + c_out F(c_in x, c_noise).
Denoiser edm_denoiser(Network net, double sigma_data = 0.5);

// EDM's coefficients, exposed for the training objective.
struct EdmCoefficients {
  double c_skip, c_out, c_in, c_noise;
};
EdmCoefficients edm_coefficients(double sigma, double sigma_data);

}  // namespace diffuse
