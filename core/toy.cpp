// The toy 2-D modality.
#include "core/toy.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/analytic.h"
#include "core/files.h"

namespace diffuse {
namespace {

class ToyModality : public Modality {
 public:
  std::string name() const override { return "toy"; }
  std::string description() const override { return "2-D Gaussian mixture, 4 components (labels), exact density"; }
  std::vector<std::string> class_names() const override { return {"c0", "c1", "c2", "c3"}; }

  TrainData dataset(const Json& spec) const override {
    const int64_t n = spec.value("n", int64_t(20000));
    const uint64_t seed = spec.value("seed", uint64_t(0));
    const auto g = GaussianMixture::toy2d();
    auto gen = at::detail::createCPUGenerator(seed);
    const auto k = torch::multinomial(g.weights, n, true, gen);
    const auto z = torch::randn({n, 2}, gen, torch::kFloat64);
    return {(g.means.index_select(0, k) + g.variances.index_select(0, k).sqrt() * z).to(torch::kFloat32), {k}};
  }

  void save(const torch::Tensor& x, const torch::Tensor& labels, const std::string& path, bool force) const override {
    std::ostringstream s;
    s << "x,y,label\n";
    const auto c = x.to(torch::kCPU, torch::kFloat64);
    for (int64_t i = 0; i < c.size(0); ++i) {
      s << c[i][0].item<double>() << "," << c[i][1].item<double>() << "," << (labels.defined() ? labels[i].item<int64_t>() : -1) << "\n";
    }
    write_file_atomic(path, s.str(), force);
  }

  TrainData load(const std::string& path) const override {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot open (expected a CSV of x,y,label)");
    std::string line;
    std::getline(in, line);
    if (line != "x,y,label") throw std::runtime_error(path + ": line 1: expected the header 'x,y,label'");
    std::vector<double> xs;
    std::vector<int64_t> ls;
    for (int64_t no = 2; std::getline(in, line); ++no) {
      double a, b;
      long l;
      char c1, c2;
      std::istringstream ls_(line);
      if (!(ls_ >> a >> c1 >> b >> c2 >> l) || c1 != ',' || c2 != ',' || !(ls_ >> std::ws).eof() || !std::isfinite(a) || !std::isfinite(b)) {
        throw std::runtime_error(path + ": line " + std::to_string(no) + ": expected 'x,y,label' with finite x, y and an integer label, got '" + line + "'");
      }
      if (l < -1 || l >= long(class_names().size())) {
        throw std::runtime_error(path + ": line " + std::to_string(no) + ": label " + std::to_string(l) + " is not a class; expected -1 (none) to " +
                                 std::to_string(class_names().size() - 1));
      }
      xs.push_back(a);
      xs.push_back(b);
      ls.push_back(l);
    }
    if (ls.empty()) throw std::runtime_error(path + ": no points");
    return {torch::tensor(xs, torch::kFloat64).view({-1, 2}), {torch::tensor(ls, torch::kLong)}};
  }

  Json metrics(const TrainData& s) const override {
    const auto g = GaussianMixture::toy2d();
    const int64_t n = s.x.size(0);
    const auto exact = g.sample(n, 12345);
    Json j = {{"n", n}, {"sliced_wasserstein", sliced_wasserstein(s.x.to(torch::kFloat64), exact)},
              {"sliced_wasserstein_floor", sliced_wasserstein(g.sample(n, 777), exact)},
              {"mean_log_density", g.mean_log_density(s.x)}, {"mean_log_density_exact", g.mean_log_density(exact)}};
    const auto& labels = s.cond.labels;
    if (labels.defined() && labels.min().item<int64_t>() >= 0) {
      // Class accuracy: the most likely component of each point against its label.
      const auto diff = s.x.to(torch::kFloat64).unsqueeze(1) - g.means;
      const auto ll = -0.5 * (diff.pow(2) / g.variances + torch::log(g.variances)).sum(-1) + torch::log(g.weights);
      j["class_accuracy"] = (ll.argmax(1) == labels).to(torch::kFloat64).mean().item<double>();
    }
    return j;
  }
};

}  // namespace

std::shared_ptr<Modality> make_toy_modality() { return std::make_shared<ToyModality>(); }

Json default_toy_recipe() {
  MlpConfig m;
  m.dim = 2;
  m.hidden = 128;
  m.layers = 3;
  m.num_classes = 4;
  m.time_scale = 250.0;  // EDM c_noise = log(sigma) / 4 spans about [-2, 2]
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.sampling = SigmaSampling::kLogNormal;
  o.weighting = LossWeighting::kEdm;
  o.sigma_data = 1.0;
  Json obj = to_json(o);
  return {{"modality", "toy"}, {"model", {{"type", "mlp"}, {"config", to_json(m)}}}, {"objective", obj},
          {"sampling", {{"sigma_min", 0.002}, {"sigma_max", 40.0}}}};
}

ToyModel make_toy_model(const Json& recipe) {
  ToyModel t;
  t.recipe = recipe;
  const auto& model = json_at(recipe, "model", "recipe");
  if (model.value("type", std::string()) != "mlp") throw std::invalid_argument("toy recipe: model.type must be 'mlp'");
  t.net = MlpDenoiser(mlp_config_from_json(json_at(model, "config", "recipe.model")));
  t.objective = objective_from_json(json_at(recipe, "objective", "recipe"));
  if (t.objective.kind != ModelKind::kEdm) throw std::invalid_argument("toy recipe: only the edm objective is wired for sampling");
  return t;
}

TrainForward toy_forward(const ToyModel& m) {
  auto net = m.net;
  return [net](const torch::Tensor& x, const torch::Tensor& t, const Condition& c) mutable {
    return net->forward(x, t, c.labels);
  };
}

ConditionalDenoiser toy_denoiser(const ToyModel& m) {
  auto net = m.net;
  const double sd = m.objective.sigma_data;
  return [net, sd](const torch::Tensor& x, const torch::Tensor& sigma, const Condition& c) mutable {
    const auto labels = c.labels;
    Network f = [&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
      return net->forward(x_in, c_noise.expand({x_in.size(0)}), labels);
    };
    return edm_denoiser(f, sd)(x, sigma);
  };
}

}  // namespace diffuse
