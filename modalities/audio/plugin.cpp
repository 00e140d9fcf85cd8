// The audio modality's command-line options: `train audio|audio-classifier|audio-vocoder`,
// `sample audio`, `eval audio`.
#include "modalities/audio/plugin.h"

#include "core/cli_options.h"
#include "core/files.h"
#include "modalities/audio/audio_pipeline.h"

namespace diffuse::audio {
namespace {

// Spoken digits (espeak-ng), instrument notes (FluidSynth) or the user's audio folder.
struct DataOptions {
  std::string data, on_bad = "skip";
  int64_t data_n = 0, espeak_variants = 0;
};

void add_data_options(CLI::App& c, DataOptions& o) {
  c.add_option("--data", o.data, "spoken-digits (default), instrument-notes or an audio folder DIR/<class>/<files>");
  c.add_option("--data-n", o.data_n, "use only the first N clips")->check(positive_number());
  c.add_option("--on-bad", o.on_bad, "skip unreadable files (reported) or fail on the first")->capture_default_str()->check(CLI::IsMember({"skip", "fail"}));
  c.add_option("--espeak-variants", o.espeak_variants, "spoken digits from the first N espeak-ng voice variants (0: all)")->capture_default_str();
}

Json data_args(const DataOptions& o) {
  Json data = Json::object();
  if (o.data == "instrument-notes") data = {{"dataset", "instrument-notes"}};
  if (!o.data.empty() && o.data != "spoken-digits" && o.data != "instrument-notes") data = {{"dataset", "folder"}, {"dir", o.data}, {"on_bad", o.on_bad}};
  if (o.espeak_variants) data["variants"] = o.espeak_variants;
  return {{"data", data}, {"data_n", o.data_n}};
}

AddOptions data_only() {
  return [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<DataOptions>();
    add_data_options(c, *o);
    return [o] { return data_args(*o); };
  };
}

struct SampleOptions {
  double seconds = 0;
  std::string format = "pcm16", decoder = "auto";
  bool normalize = false;
};

struct EvalOptions {
  std::string classifier, vocoder, decoder = "auto";
};

}  // namespace

PipelineCommands audio_plugin() {
  auto p = audio_pipeline();
  p.summary = "a class-conditional DiT on log-mel spectrograms, decoded by a learned vocoder or Griffin-Lim to WAV/FLAC";
  p.shipped = "spoken-digits/dit.safetensors";
  p.train_options = [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<DataOptions>();
    auto seconds = std::make_shared<double>(1.0);
    add_data_options(c, *o);
    c.add_option("--seconds", *seconds, "clip length the model learns")->capture_default_str()->check(positive_number());
    return [o, seconds] {
      Json a = data_args(*o);
      a["seconds"] = *seconds;
      return a;
    };
  };
  p.sample_options = [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<SampleOptions>();
    c.add_option("--seconds", o->seconds, "clip length (the model's own by default)")->check(positive_number());
    c.add_option("--format", o->format, "WAV/FLAC samples")->capture_default_str()->check(CLI::IsMember({"pcm16", "pcm24", "float"}));
    c.add_flag("--normalize", o->normalize, "scale each clip's peak to -1 dBFS");
    c.add_option("--decoder", o->decoder, "auto (the vocoder.safetensors beside the model, else Griffin-Lim), griffin-lim, or a vocoder checkpoint")
        ->capture_default_str();
    return [o] { return Json{{"seconds", o->seconds}, {"format", o->format}, {"normalize", o->normalize}, {"decoder", o->decoder}}; };
  };
  p.eval_options = [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<EvalOptions>();
    c.add_option("--classifier", o->classifier, "evaluation classifier (default: the shipped one)")->check(CLI::ExistingFile);
    c.add_option("--vocoder", o->vocoder, "the vocoder whose round trip --calibrate scores (default: the shipped one)")->check(CLI::ExistingFile);
    c.add_option("--decoder", o->decoder, "decoder of the samples: auto, griffin-lim or a vocoder checkpoint (see sample)")->capture_default_str();
    return [o] {
      Json a = {{"classifier", o->classifier.empty() ? shipped_model_path("spoken-digits/classifier.safetensors") : o->classifier},
                {"decoder", o->decoder}};
      if (!o->vocoder.empty()) {
        a["vocoder"] = o->vocoder;
      } else {
        try {  // the vocoder round trip joins --calibrate when one is shipped
          a["vocoder"] = shipped_model_path("spoken-digits/vocoder.safetensors");
        } catch (const std::runtime_error&) {
        }
      }
      return a;
    };
  };
  return p;
}

PipelineCommands audio_classifier_plugin() {
  auto p = audio_classifier_pipeline();
  p.summary = "the evaluation classifier of audio clips (log-mel CNN)";
  p.train_options = data_only();
  return p;
}

PipelineCommands audio_vocoder_plugin() {
  auto p = audio_vocoder_pipeline();
  p.summary = "the learned vocoder (log-mel to waveform) that sample audio decodes with";
  p.train_options = data_only();
  return p;
}

}  // namespace diffuse::audio
