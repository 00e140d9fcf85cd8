// The audio modality's command-line options: `train audio|audio-classifier|audio-vocoder`,
// `sample audio`, `eval audio`.
#include "modalities/audio/plugin.h"

#include "core/cli_options.h"
#include "core/files.h"
#include "modalities/audio/audio_pipeline.h"
#include "modalities/audio/options.h"

namespace diffuse::audio {
namespace {

void add_data_options(CLI::App& c, DataOptions& o) {
  c.add_option("--data", o.data, "spoken-digits (default; the classifier's: spoken-digits-judge, the judge's speakers),\n"
                                 "instrument-notes or an audio folder DIR/<class>/<files>");
  c.add_option("--data-n", o.data_n, "use only the first N clips")->check(positive_number());
  c.add_option("--on-bad", o.on_bad, "skip unreadable files (reported) or fail on the first")->capture_default_str()->check(CLI::IsMember({"skip", "fail"}));
  c.add_option("--espeak-variants", o.espeak_variants, "spoken digits from the first N espeak-ng voice variants (0: all)")->capture_default_str();
}

AddOptions<TrainArgs> data_only() {
  return [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<AudioDataOptions>();
    add_data_options(c, o->data);
    return [o](TrainArgs& a) { a.own = o; };
  };
}

}  // namespace

Json DataOptions::spec() const {
  Json spec = {{"dataset", "spoken-digits"}};
  if (data == "instrument-notes" || data == "spoken-digits-judge") spec = {{"dataset", data}};
  if (!data.empty() && data != "spoken-digits" && data != "instrument-notes" && data != "spoken-digits-judge") spec = {{"dataset", "folder"}, {"dir", data}, {"on_bad", on_bad}};
  if (espeak_variants) spec["variants"] = espeak_variants;
  return spec;
}

PipelineCommands audio_plugin() {
  auto p = audio_pipeline();
  p.summary = "a class-conditional DiT on log-mel spectrograms, decoded by a learned vocoder or Griffin-Lim to WAV/FLAC";
  p.shipped = "spoken-digits/dit.safetensors";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<AudioTrainOptions>();
    auto init = std::make_shared<std::string>();
    add_data_options(c, o->data);
    c.add_option("--seconds", o->seconds, "clip length the model learns")->capture_default_str()->check(positive_number());
    c.add_option("--patch", o->patch, "a new model's frames per token (default 2)")->check(CLI::Range(1, 16));
    c.add_option("--width", o->width, "a new model's DiT width (default 128; a multiple of 8)")->check(CLI::Range(8, 1024));
    c.add_option("--depth", o->depth, "a new model's DiT blocks (default 6)")->check(CLI::Range(1, 48));
    add_init_option(c, *init);
    return [o, init](TrainArgs& a) {
      a.own = o;
      a.init = *init;
    };
  };
  p.sample_options = [](CLI::App& c) -> std::function<void(SampleArgs&)> {
    auto o = std::make_shared<AudioSampleOptions>();
    c.add_option("--seconds", o->seconds, "clip length (the model's own by default)")->check(positive_number());
    c.add_option("--format", o->format, "WAV/FLAC samples")->capture_default_str()->check(CLI::IsMember({"pcm16", "pcm24", "float"}));
    c.add_flag("--normalize", o->normalize, "scale each clip's peak to -1 dBFS");
    c.add_option("--decoder", o->decoder, "auto (the vocoder.safetensors beside the model, else Griffin-Lim), griffin-lim, or a vocoder checkpoint")
        ->capture_default_str();
    return [o](SampleArgs& a) { a.own = o; };
  };
  p.eval_options = [](CLI::App& c) -> std::function<void(EvalArgs&)> {
    auto o = std::make_shared<AudioEvalOptions>();
    c.add_option("--classifier", o->classifier, "evaluation classifier (default: the shipped one)")->check(CLI::ExistingFile);
    c.add_option("--vocoder", o->vocoder, "the vocoder whose round trip --calibrate scores (default: the shipped one)")->check(CLI::ExistingFile);
    c.add_option("--decoder", o->decoder, "decoder of the samples: auto, griffin-lim or a vocoder checkpoint (see sample)")->capture_default_str();
    c.add_option("--contact-sheet", o->contact_sheet, "write a PNG: per class (rows), real held-out log-mels (left) beside generated ones (right)");
    c.add_flag("--force", o->force, "overwrite the contact sheet");
    return [o](EvalArgs& a) { a.own = o; };
  };
  return p;
}

PipelineCommands audio_classifier_plugin() {
  auto p = audio_classifier_pipeline();
  p.summary = "the judge of eval audio: a log-mel CNN trained on speakers the generator never hears, through noise, rooms and band limits";
  p.train_options = data_only();
  return p;
}

PipelineCommands audio_vocoder_plugin() {
  auto p = audio_vocoder_pipeline();
  p.summary = "the learned vocoder (log-mel to waveform) that sample audio decodes with";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<AudioVocoderOptions>();
    auto init = std::make_shared<std::string>();
    add_data_options(c, o->data);
    c.add_option("--adversarial", o->adversarial, "train against multi-period and multi-resolution discriminators (LSGAN + feature matching)")
        ->capture_default_str()
        ->check(CLI::IsMember({"on", "off"}));
    c.add_option("--mel-weight", o->mel_weight, "weight of the mel L1 loss against the multi-resolution STFT loss (a resume keeps its run's)")
        ->capture_default_str()
        ->check(non_negative_number());
    c.add_option("--init", *init, "start a new run (fresh optimizer and schedule) from this vocoder's weights (a fine-tune)")->check(CLI::ExistingFile);
    return [o, init](TrainArgs& a) {
      a.own = o;
      a.init = *init;
    };
  };
  return p;
}

}  // namespace diffuse::audio
