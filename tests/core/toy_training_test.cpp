// Training the toy MLP denoiser on the 2-D mixture gives samples near the exact distribution
// (label: slow, ~30 s).
#include <torch/torch.h>

#include "core/analytic.h"
#include "core/engine.h"
#include "core/toy.h"
#include "tests/core/test_util.h"

namespace diffuse {
namespace {

TEST(ToyTraining, SamplesAreWithinThreeTimesTheExactSampleFloor) {
  torch::manual_seed(0);
  auto model = make_toy_model(default_toy_recipe());
  TrainOptions o;
  o.steps = 2500;
  o.batch = 256;
  o.lr = 2e-3;
  o.warmup = 200;
  o.null_label = 4;
  o.log_every = 500;
  Trainer trainer(model.net.ptr(), toy_forward(model), model.recipe, o, model.objective);
  const auto& toy = find_modality("toy");
  trainer.run(toy.dataset({{"n", 20000}, {"seed", 0}}));
  trainer.load_ema_into(*model.net);
  model.net->eval();

  SampleRequest r;
  r.item_shape = {2};
  r.n = 5000;
  r.batch = 5000;
  r.steps = 30;
  r.sampler = "heun";
  r.schedule_options.sigma_min = 0.002;
  r.schedule_options.sigma_max = 40;
  const auto x = sample(toy_denoiser(model), r);
  const auto m = toy.metrics({x, {}});
  std::printf("sliced W2 %.4f, floor %.4f\n", m["sliced_wasserstein"].get<double>(), m["sliced_wasserstein_floor"].get<double>());
  EXPECT_LE(m["sliced_wasserstein"].get<double>(), 3.0 * m["sliced_wasserstein_floor"].get<double>());

  // Conditioning on a component with guidance puts the samples in that component.
  r.condition.labels = torch::full({r.n}, 2L);
  r.null_label = 4;
  r.guidance.scale = 2.0;
  const auto xc = sample(toy_denoiser(model), r);
  EXPECT_GE(toy.metrics({xc, {r.condition.labels}})["class_accuracy"].get<double>(), 0.95);
}

}  // namespace
}  // namespace diffuse
