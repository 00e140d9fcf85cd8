// `diffuse train audio-classifier` and `diffuse train vocoder`: the models around the spectrogram
// DiT, the judge of `eval audio` and the learned decoder of its samples.
#include <torch/torch.h>

#include <iomanip>
#include <iostream>

#include "core/dit_pipeline.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "modalities/audio/audio_pipeline.h"
#include "modalities/audio/augment.h"
#include "modalities/audio/classifier.h"
#include "modalities/audio/dataset.h"
#include "modalities/audio/options.h"
#include "modalities/audio/spectrogram.h"
#include "modalities/audio/vocoder.h"

namespace diffuse::audio {
namespace {

// The judge of `eval audio`: a log-mel CNN trained on the judge's speakers (voice/variant
// combinations, pitches and speeds the generator's set never renders; judge_digits_options), each
// clip degraded on the fly (augment_speech: speed, room, channel, level, noise), so that what it
// recognises is the digit, not the generator's voices. Its held-out split is the reference.
void train_classifier(const TrainArgs& a) {
  check_run_folder(a);
  const std::string& out = a.out;
  const auto& own = a.options<AudioDataOptions>();
  Json data_spec = own.data.spec();
  if (own.data.data.empty()) data_spec["dataset"] = "spoken-digits-judge";
  const std::string kind = data_spec.value("dataset", std::string());
  if (kind != "spoken-digits-judge" && kind != "spoken-digits") {
    throw std::invalid_argument("the audio classifier trains on spoken digits (spoken-digits-judge, the default, or spoken-digits): "
                                "its held-out split is the eval reference");
  }
  auto sd = load_spoken_digits(data_spec);
  auto data = sd.train;
  if (const int64_t n = own.data.data_n; n > 0) {
    data.waves = data.waves.slice(0, 0, n);
    data.labels = data.labels.slice(0, 0, n);
  }
  const auto mel = fitted_mel(data.waves);
  const TrainOptions o = train_options(a, {{"steps", 3000}, {"batch", 64}, {"lr", 1e-3}, {"warmup", 100}, {"ema_decay", 0.99},
                                           {"log_every", 250}, {"cond_dropout", 0.0}});
  MelClassifier net(10);
  const int64_t rate = data.rate;
  TrainLoss loss = [net, mel, rate](const torch::Tensor& w, const Condition& c, at::Generator& gen) mutable {
    torch::Tensor m;
    {
      torch::NoGradGuard ng;
      m = log_mel(augment_speech(w, rate, gen), mel);
    }
    return torch::nn::functional::cross_entropy(net->forward(m), c.labels,
                                                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  };
  Json recipe = {{"modality", "audio"}, {"model", {{"type", "mel-classifier"}}}, {"mel", to_json(mel)}, {"classes", digit_names()},
                 {"data", data_spec}, {"augmentation", "speed 0.85-1.15, reverb p0.3, low-pass 3-7 kHz p0.3, shift 0.1 s, gain -24..0 dB, noise 10-40 dB p0.5"}};
  Trainer trainer(net.ptr(), loss, recipe, o);
  if (!a.resume.empty()) trainer.resume(a.resume);
  trainer.run({data.waves, {data.labels}});
  MelClassifier ema(10);
  trainer.load_ema_into(*ema);
  ema->eval();
  const auto [logits, f] = classify(ema, mel, sd.test.waves);
  const double acc = (logits.argmax(1) == sd.test.labels).to(torch::kFloat64).mean().item<double>();
  std::cout << "held-out accuracy: " << std::fixed << std::setprecision(4) << acc << " on " << sd.test.waves.size(0)
            << " clips of unseen speakers\ncheckpoint: " << out << "/checkpoint.safetensors\n";
}

// HiFi-GAN's weight of the reconstruction losses against the GAN term's 1.
constexpr double kReconstructionWeight = 45.0;

// The learned decoder. With --adversarial on (the default) it trains as HiFi-GAN and Vocos train
// theirs: the reconstruction losses (multi-resolution STFT + mel L1) plus least-squares GAN and
// feature-matching losses against the multi-period and multi-resolution discriminators. The
// discriminator learns in the same step on the same clips: its loss (on the generator's output,
// detached) is added to the generator's, which it judges with its own parameters frozen, so each
// side's gradient comes from its own loss only. One optimizer, one checkpoint, exact resume.
void train_vocoder(const TrainArgs& a) {
  check_run_folder(a);
  const std::string& out = a.out;
  const auto& own = a.options<AudioVocoderOptions>();
  const bool adversarial = own.adversarial == "on";
  VocoderConfig config;
  MelConfig mel;
  std::map<std::string, torch::Tensor> init_weights;
  Json origin;  // the model a fine-tune started from
  double mel_weight = own.mel_weight;
  DiscriminatorConfig dconfig;
  if (!a.init.empty()) {  // check_run_folder refused --init with --resume
    const Vocoder init = load_vocoder(a.init);  // refuses anything but a vocoder, by name
    config = init->config();
    mel = init->mel();  // the model's normalisation, so that a DiT trained against it still fits
    for (const auto& p : init->named_parameters()) init_weights[p.key()] = p.value().detach();
    origin = a.init;
  } else if (!a.resume.empty()) {  // the run's own settings, whatever the data would fit now
    const auto recipe = load_checkpoint(a.resume).recipe;
    const auto& m = json_at(recipe, "model", a.resume);
    if (m.contains("discriminator") != adversarial) {
      throw std::invalid_argument("--resume " + a.resume + ": trained with --adversarial " + (adversarial ? "off" : "on") + "; resume it the same way");
    }
    config = vocoder_config_from_json(json_at(m, "config", a.resume));
    mel = mel_config_from_json(json_at(recipe, "mel", a.resume));
    mel_weight = m.value("loss", Json::object()).value("mel_weight", 1.0);
    if (adversarial) dconfig = discriminator_config_from_json(json_at(m, "discriminator", a.resume));
    origin = recipe.value("init", Json());
  }
  Json defaults = {{"steps", 3000}, {"batch", 16}, {"lr", 1e-3}, {"warmup", 200}, {"ema_decay", 0.999},
                   {"log_every", 100}, {"checkpoint_every", 250}, {"cond_dropout", 0.0}};
  if (adversarial) {  // HiFi-GAN's optimizer (AdamW 2e-4, betas 0.8/0.99, no clipping)
    defaults["lr"] = 2e-4;
    defaults["beta1"] = 0.8;
    defaults["beta2"] = 0.99;
    defaults["grad_clip"] = 0.0;
    defaults["warmup"] = 100;
  }
  const TrainOptions o = train_options(a, defaults);
  if (o.autocast != "off") throw std::invalid_argument("train audio-vocoder: --precision " + o.autocast + " is not supported (its STFTs run in fp32); use fp32");
  const Json data_spec = own.data.spec();
  auto sd = load_audio_data(data_spec, 16000, 16000);
  auto data = sd.train;
  if (const int64_t n = own.data.data_n; n > 0) data.waves = data.waves.slice(0, 0, n);
  if (a.init.empty() && a.resume.empty()) mel = fitted_mel(data.waves);
  std::shared_ptr<VocoderImpl> net = adversarial ? std::shared_ptr<VocoderImpl>(AdversarialVocoder(config, mel, dconfig).ptr())
                                                 : Vocoder(config, mel).ptr();
  if (!init_weights.empty()) {
    torch::NoGradGuard ng;
    auto params = net->named_parameters();
    for (const auto& [k, v] : init_weights) params[k].copy_(v);
  }
  TrainLoss loss = [net, mel, adversarial, dconfig, mel_weight](const torch::Tensor& w, const Condition&, at::Generator& gen) {
    // Random gain in [0.3, 1] so the decoder does not learn one loudness.
    const auto wave = w * (0.3 + 0.7 * torch::rand({w.size(0), 1}, gen));
    torch::Tensor target;
    {
      torch::NoGradGuard ng;
      target = log_mel(wave, mel);
    }
    const auto est = net->forward(target, wave.size(1));
    const auto reconstruction = multi_resolution_stft_loss(wave, est) + mel_weight * (log_mel(est, mel) - target).abs().flatten(1).mean(1);
    if (!adversarial) return reconstruction;
    auto& d = std::static_pointer_cast<AdversarialVocoderImpl>(net)->discriminator();
    // One window of the clips, the same for real and generated, drawn from the step's stream.
    const int64_t length = dconfig.segment > 0 ? std::min(dconfig.segment, wave.size(1)) : wave.size(1);
    const int64_t start = torch::randint(wave.size(1) - length + 1, {1}, gen).item<int64_t>();
    const auto gan = gan_losses(*d, wave.narrow(1, start, length), est.narrow(1, start, length));
    return kReconstructionWeight * reconstruction + gan.generator + gan.discriminator;
  };
  Json model = {{"type", "vocoder"}, {"config", to_json(config)}, {"loss", {{"mel_weight", mel_weight}}}};
  if (adversarial) {
    model["discriminator"] = to_json(dconfig);
    model["train_only"] = {"discriminator."};
    model["loss"]["reconstruction"] = kReconstructionWeight;
    model["loss"]["feature_matching"] = kFeatureMatchingWeight;
    model["loss"]["gan"] = "least squares";
  }
  Json recipe = {{"modality", "audio"}, {"model", model}, {"mel", to_json(mel)}, {"samples", data.waves.size(1)}, {"data", data_spec}};
  if (!origin.is_null()) recipe["init"] = origin;
  Trainer trainer(net, loss, recipe, o);
  if (!a.resume.empty()) trainer.resume(a.resume);
  trainer.run({data.waves, {data.labels}});
  // The held-out figure from the EMA weights (the saved checkpoint has them already).
  trainer.load_ema_into(*net);
  Vocoder ema(net);
  ema->eval();
  const auto test = sd.test.waves.slice(0, 0, 256);
  const auto rt = vocode(ema, log_mels(test, mel), mel, test.size(1));
  std::cout << "held-out spectral convergence: " << std::fixed << std::setprecision(4) << spectral_convergence(test, rt, mel).mean().item<double>()
            << " on " << test.size(0) << " clips\ncheckpoint: " << out << "/checkpoint.safetensors\n";
}

}  // namespace

PipelineCommands audio_classifier_pipeline() { return {train_classifier, nullptr, nullptr, nullptr}; }
PipelineCommands audio_vocoder_pipeline() { return {train_vocoder, nullptr, nullptr, nullptr}; }

}  // namespace diffuse::audio
