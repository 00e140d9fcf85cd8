// The fuzz targets for diffuse's own parsers (safetensors, recipe/config JSON, reference JSON,
// IDX, the WAV/RIFF check, SMILES/CSV/SDF). Every input must end in a result or a
// std::exception (a named error); a crash or a sanitizer report is a finding. libFuzzer drives
// them through fuzz_main.cpp (scripts/fuzz.sh); the unit test replays the seed corpus.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "core/dit.h"
#include "core/graph_dit.h"
#include "core/json.h"
#include "core/mlp.h"
#include "core/objectives.h"
#include "core/reference.h"
#include "core/safetensors.h"
#include "core/train/trainer.h"
#include "modalities/audio/io.h"
#include "modalities/image/idx.h"
#include "modalities/molecule/chem.h"
#include "tests/fuzz/fuzz_targets.h"

namespace {

// The readers that take a path get the input as a file of their own (in memory-backed /dev/shm
// when it is there), named with `ext`.
std::string as_file(const uint8_t* data, size_t size, const std::string& ext) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/diffuse-fuzz-" + std::to_string(getpid()) + ext;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

// Each config a recipe holds, on its own: any one may refuse the input.
template <typename F>
void each(F f) {
  try {
    f();
  } catch (const std::exception&) {
  }
}

void run(const std::string& target, const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (target == "safetensors") {
    const auto st = diffuse::parse_safetensors(bytes, "fuzz");
    if (st.metadata.count("recipe")) (void)diffuse::Json::parse(st.metadata.at("recipe"), nullptr, false);
  } else if (target == "config") {
    const auto j = diffuse::Json::parse(bytes, nullptr, false);
    if (j.is_discarded()) return;
    each([&] { diffuse::dit_config_from_json(j); });
    each([&] { diffuse::graph_dit_config_from_json(j); });
    each([&] { diffuse::mlp_config_from_json(j); });
    each([&] { diffuse::objective_from_json(j); });
    each([&] { diffuse::train_options_from_json(j); });
  } else if (target == "reference") {
    const auto j = diffuse::Json::parse(bytes, nullptr, false);
    if (!j.is_discarded()) (void)diffuse::replay_reference(j, "fuzz", 1e-8);
  } else if (target == "idx") {
    (void)diffuse::image::read_idx(as_file(data, size, ".idx"));
  } else if (target == "wav") {
    (void)diffuse::audio::read_audio(as_file(data, size, ".wav"), 16000, true);
  } else if (target == "molecules") {
    // The first byte picks the reader: SMILES lines, CSV with a smiles column, or SDF.
    static const char* kExt[] = {".smi", ".csv", ".sdf"};
    if (size >= 1) (void)diffuse::molecule::read_molecules(as_file(data + 1, size - 1, kExt[data[0] % 3]));
  } else {
    std::fprintf(stderr, "unknown fuzz target %s\n", target.c_str());
    std::abort();
  }
}

}  // namespace

namespace diffuse::fuzz {

const std::vector<std::string>& targets() {
  static const std::vector<std::string> t = {"safetensors", "config", "reference", "idx", "wav", "molecules"};
  return t;
}

void fuzz_one(const std::string& target, const uint8_t* data, size_t size) {
  try {
    run(target, data, size);
  } catch (const std::exception&) {  // a named error: the parser's expected way to refuse
  }
}

}  // namespace diffuse::fuzz
