// The only place that knows which modalities were compiled in.
#include "modalities/registry.h"

#include <stdexcept>

#include "core/modality.h"

#include "core/train/checkpoint.h"

#if DIFFUSE_HAS_IMAGE
#include "modalities/image/classifier.h"
#include "modalities/image/image_pipeline.h"
#include "modalities/image/plugin.h"
#include "modalities/image/vae.h"
#include "modalities/image/version.h"
#endif
#if DIFFUSE_HAS_VIDEO
#include "modalities/video/version.h"
#endif
#if DIFFUSE_HAS_VIDEO && DIFFUSE_HAS_IMAGE
#include "modalities/video/plugin.h"
#include "modalities/video/temporal_decoder.h"
#include "modalities/video/video_pipeline.h"
#endif
#if DIFFUSE_HAS_SNDFILE
#include "modalities/audio/audio_pipeline.h"
#include "modalities/audio/classifier.h"
#include "modalities/audio/plugin.h"
#include "modalities/audio/spectrogram.h"
#include "modalities/audio/vocoder.h"
#include "modalities/audio/version.h"
#endif
#if DIFFUSE_HAS_RDKIT
#include "modalities/molecule/molecule_pipeline.h"
#include "modalities/molecule/plugin.h"
#include "modalities/molecule/version.h"
#endif

namespace diffuse {

std::vector<ModalityInfo> modalities() {
  std::vector<ModalityInfo> out = {
      {"image", "OpenImageIO", "DIFFUSE_WITH_OIIO", false, ""},
      {"video", "FFmpeg", "DIFFUSE_WITH_FFMPEG", false, ""},
      {"audio", "libsndfile", "DIFFUSE_WITH_SNDFILE", false, ""},
      {"molecule", "RDKit", "DIFFUSE_WITH_RDKIT", false, ""},
  };
#if DIFFUSE_HAS_IMAGE
  out[0].available = true;
  out[0].version = image::library_version();
#endif
#if DIFFUSE_HAS_VIDEO
  out[1].available = true;
  out[1].version = video::library_version();
#endif
#if DIFFUSE_HAS_SNDFILE
  out[2].available = true;
  out[2].version = audio::library_version();
#endif
#if DIFFUSE_HAS_RDKIT
  out[3].available = true;
  out[3].version = molecule::library_version();
#endif
  return out;
}

void register_pipelines() {
#if DIFFUSE_HAS_IMAGE
  register_model_builder("vae", [](const Json& r, const std::string& f) -> std::shared_ptr<torch::nn::Module> {
    return image::Vae(image::vae_config_from_json(json_at(json_at(r, "model", f), "config", f))).ptr();
  });
  register_model_builder("classifier", [](const Json&, const std::string&) -> std::shared_ptr<torch::nn::Module> { return image::Classifier(10, 1).ptr(); });
#endif
#if DIFFUSE_HAS_SNDFILE
  register_model_builder("mel-classifier", [](const Json& r, const std::string& f) -> std::shared_ptr<torch::nn::Module> {
    return audio::MelClassifier(int64_t(json_at(r, "classes", f).size())).ptr();
  });
  register_model_builder("vocoder", [](const Json& r, const std::string& f) -> std::shared_ptr<torch::nn::Module> {
    return audio::Vocoder(audio::vocoder_config_from_json(json_at(json_at(r, "model", f), "config", f)), audio::mel_config_from_json(json_at(r, "mel", f))).ptr();
  });
#endif
#if DIFFUSE_HAS_VIDEO && DIFFUSE_HAS_IMAGE
  register_model_builder("temporal-decoder", [](const Json& r, const std::string& f) -> std::shared_ptr<torch::nn::Module> {
    const auto vae = image::load_vae(resolve_beside(json_at(r, "vae", f).get<std::string>(), f));
    return video::TemporalDecoder(vae, json_at(r, "model", f).value("kernel", int64_t(3))).ptr();
  });
#endif
#if DIFFUSE_HAS_IMAGE
  register_pipeline("vae", image::vae_plugin());
  register_pipeline("image", image::image_plugin());
  register_pipeline("classifier", image::classifier_plugin());
  register_report_section("image", image::image_report_section);
#endif
#if DIFFUSE_HAS_SNDFILE
  register_pipeline("audio", audio::audio_plugin());
  register_pipeline("audio-classifier", audio::audio_classifier_plugin());
  register_pipeline("audio-vocoder", audio::audio_vocoder_plugin());
  register_report_section("audio", audio::audio_report_section);
#endif
#if DIFFUSE_HAS_RDKIT
  register_pipeline("molecule", molecule::molecule_plugin());
  register_report_section("molecule", molecule::molecule_report_section);
#endif
#if DIFFUSE_HAS_VIDEO && DIFFUSE_HAS_IMAGE  // video reuses the image modality's VAE and classifier
  register_pipeline("video", video::video_plugin());
  register_pipeline("video-decoder", video::video_decoder_plugin());
  register_report_section("video", video::video_report_section);
#endif
}

const ModalityInfo& require_modality(const std::string& name) {
  static const auto all = modalities();
  std::string names;
  for (const auto& m : all) {
    if (m.name == name) {
      if (!m.available) {
        throw std::runtime_error("modality '" + name + "' was compiled out; rebuild with -D" +
                                 m.cmake_option + "=ON (needs " + m.library + ")");
      }
      return m;
    }
    names += (names.empty() ? "" : ", ") + m.name;
  }
  throw std::invalid_argument("unknown modality '" + name + "'; one of: " + names);
}

}  // namespace diffuse
