// Classifier training and image-sample evaluation.
#include "modalities/image/eval_pipeline.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "core/dit_pipeline.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "modalities/image/classifier.h"
#include "modalities/image/dataset.h"
#include "core/files.h"
#include "modalities/image/image_pipeline.h"
#include "modalities/image/options.h"

namespace diffuse::image {
namespace {

torch::Tensor features_of(Classifier& c, const torch::Tensor& images) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> f;
  for (int64_t s = 0; s < images.size(0); s += 1000) f.push_back(c->features(images.slice(0, s, s + 1000)));
  return torch::cat(f);
}

double accuracy_of(Classifier& c, const torch::Tensor& images, const torch::Tensor& labels) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> p;
  for (int64_t s = 0; s < images.size(0); s += 1000) p.push_back(c->forward(images.slice(0, s, s + 1000)).argmax(1));
  return (torch::cat(p) == labels).to(torch::kFloat64).mean().item<double>();
}

void train_classifier(const TrainArgs& a) {
  check_run_folder(a);
  const std::string& out = a.out;
  auto data = load_fashion_mnist("train");
  if (const int64_t n = a.options<ClassifierTrainOptions>().data_n; n > 0) {
    data.images = data.images.slice(0, 0, n);
    data.labels = data.labels.slice(0, 0, n);
  }
  const TrainOptions o = train_options(a, {{"steps", 3000}, {"batch", 128}, {"lr", 1e-3}, {"warmup", 100}, {"ema_decay", 0.99},
                                                     {"log_every", 250}, {"cond_dropout", 0.0}});
  Classifier net(10, 1);
  TrainLoss loss = [net](const torch::Tensor& x, const Condition& c, at::Generator& gen) mutable {
    // Augmentation: random horizontal flips (Fashion-MNIST items are left-right symmetric enough).
    const auto xa = random_hflip(x, gen);
    return torch::nn::functional::cross_entropy(net->forward(xa), c.labels,
                                                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  };
  Json recipe = {{"modality", "image"}, {"model", {{"type", "classifier"}, {"classes", fashion_mnist_classes()}}}};
  Trainer trainer(net.ptr(), loss, recipe, o);
  if (!a.resume.empty()) trainer.resume(a.resume);
  trainer.run({data.images, {data.labels}});
  auto ema = Classifier(10, 1);
  trainer.load_ema_into(*ema);
  ema->eval();
  const auto test = load_fashion_mnist("test");
  std::cout << "test accuracy: " << std::fixed << std::setprecision(4) << accuracy_of(ema, test.images, test.labels)
            << "\ncheckpoint: " << out << "/checkpoint.safetensors\n";
}

// The judge of `eval image`: the evaluation classifier's features of the Fashion-MNIST test set.
class ImageEvaluator : public Evaluator {
 public:
  explicit ImageEvaluator(const std::string& classifier)
      : file_(classifier.empty() ? shipped_model_path(kShippedClassifier) : classifier), clf_(load_classifier(file_)), test_(load_fashion_mnist("test")), real_(features_of(clf_, test_.images)) {}

  Json describe() const override {
    return {{"classifier", file_}, {"classifier_test_accuracy", accuracy_of(clf_, test_.images, test_.labels)}};
  }

  Json calibration(const EvalArgs&) const override {
    Json j;
    const auto train = load_fashion_mnist("train");
    const auto tr = train.images.slice(0, 0, 10000);
    const auto f_train = features_of(clf_, tr);
    const auto [p, r] = precision_recall(real_.slice(0, 0, 5000), f_train.slice(0, 0, 5000));
    j["real_train_vs_test"] = {{"fd", frechet_distance(f_train, real_)}, {"precision", p}, {"recall", r}};
    // Trivial baselines: each image replaced by its class's mean training image; uniform noise.
    std::vector<torch::Tensor> means;
    for (int64_t c = 0; c < 10; ++c) means.push_back(train.images.index({train.labels == c}).mean(0));
    const auto mean_imgs = torch::stack(means).index_select(0, test_.labels);
    const auto f_mean = features_of(clf_, mean_imgs);
    const auto [pm, rm] = precision_recall(real_.slice(0, 0, 5000), f_mean.slice(0, 0, 5000));
    j["class_mean_images"] = {{"fd", frechet_distance(f_mean, real_)}, {"accuracy", accuracy_of(clf_, mean_imgs, test_.labels)},
                              {"precision", pm}, {"recall", rm}};
    const auto noise = torch::rand({10000, 1, 28, 28});
    j["uniform_noise"] = {{"fd", frechet_distance(features_of(clf_, noise), real_)}};
    return j;
  }

  Json score(const Generated& g, const EvalArgs&) const override {
    const auto& samples = g.data;
    const auto f = features_of(clf_, samples);
    const auto [p, r] = precision_recall(real_.slice(0, 0, std::min<int64_t>(5000, f.size(0) * 5)), f);
    return {{"n", samples.size(0)}, {"accuracy", accuracy_of(clf_, samples, torch::tensor(g.labels, torch::kLong))},
            {"fd", frechet_distance(f, real_)}, {"precision", p}, {"recall", r},
            {"images_per_second", double(samples.size(0)) / (g.sample_seconds + g.decode_seconds)}};
  }

 private:
  std::string file_;
  mutable Classifier clf_;
  ImageDataset test_;
  torch::Tensor real_;
};

}  // namespace

PipelineCommands classifier_pipeline() { return {train_classifier, nullptr, nullptr}; }
std::unique_ptr<Evaluator> image_evaluator(const std::string& classifier) { return std::make_unique<ImageEvaluator>(classifier); }

}  // namespace diffuse::image
