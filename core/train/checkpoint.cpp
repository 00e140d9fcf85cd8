// Checkpoint (de)serialisation over safetensors.
#include "core/train/checkpoint.h"
#include "core/train/export.h"

#include <torch/torch.h>

#include <filesystem>

#include <sstream>
#include <stdexcept>

namespace diffuse {

namespace {
const char* kSections[] = {"model/", "ema/", "optim/exp_avg/", "optim/exp_avg_sq/"};

std::map<std::string, torch::Tensor>& section(Checkpoint& c, int i) {
  switch (i) {
    case 0: return c.model;
    case 1: return c.ema;
    case 2: return c.exp_avg;
    default: return c.exp_avg_sq;
  }
}

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}
}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c, bool force) {
  SafeTensors st;
  const std::map<std::string, torch::Tensor>* parts[] = {&c.model, &c.ema, &c.exp_avg, &c.exp_avg_sq};
  for (int i = 0; i < 4; ++i) {
    for (const auto& [name, t] : *parts[i]) st.tensors[std::string(kSections[i]) + name] = t;
  }
  st.metadata = {{"format", kCheckpointFormat}, {"recipe", c.recipe.dump()}, {"step", std::to_string(c.step)},
                 {"epoch", std::to_string(c.epoch)}, {"data_index", std::to_string(c.data_index)},
                 {"seed", std::to_string(c.seed)}};
  save_safetensors(path, st, force);
}

Checkpoint load_checkpoint(const std::string& path) {
  auto st = load_safetensors(path);
  auto meta = [&](const std::string& k) -> const std::string& {
    const auto it = st.metadata.find(k);
    if (it == st.metadata.end()) throw std::runtime_error(path + ": not a diffuse checkpoint (metadata lacks '" + k + "')");
    return it->second;
  };
  if (meta("format") != kCheckpointFormat) {
    throw std::runtime_error(path + ": checkpoint format '" + meta("format") + "', expected '" + kCheckpointFormat + "'");
  }
  Checkpoint c;
  try {
    c.recipe = Json::parse(meta("recipe"));
    c.step = std::stoll(meta("step"));
    c.epoch = std::stoll(meta("epoch"));
    c.data_index = std::stoll(meta("data_index"));
    c.seed = std::stoull(meta("seed"));
  } catch (const std::runtime_error&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": corrupt checkpoint metadata (" + e.what() + ")");
  }
  for (auto& [name, t] : st.tensors) {
    bool placed = false;
    for (int i = 0; i < 4 && !placed; ++i) {
      const std::string pre = kSections[i];
      if (name.rfind(pre, 0) == 0 && name.find('/', pre.size()) == std::string::npos) {
        section(c, i)[name.substr(pre.size())] = t;
        placed = true;
      }
    }
    if (!placed) throw std::runtime_error(path + ": unexpected tensor '" + name + "' in checkpoint");
  }
  if (c.model.empty()) throw std::runtime_error(path + ": checkpoint holds no model weights");
  return c;
}

std::map<std::string, torch::Tensor> state_of(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : module.named_parameters()) out[p.key()] = p.value();
  for (const auto& b : module.named_buffers()) out[b.key()] = b.value();
  return out;
}

void load_for_inference(torch::nn::Module& module, const Checkpoint& ck, const std::string& file, bool raw) {
  auto w = ck.model;
  if (!raw) for (const auto& [k, v] : ck.ema) w[k] = v;
  load_into(module, w, file);
  module.eval();
}

void load_into(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& weights, const std::string& file) {
  torch::NoGradGuard no_grad;
  const auto target = state_of(module);
  for (const auto& [name, t] : target) {
    const auto it = weights.find(name);
    if (it == weights.end()) {
      throw std::runtime_error(file + ": checkpoint lacks tensor '" + name + "' that the model has (config mismatch?)");
    }
    if (it->second.sizes() != t.sizes()) {
      throw std::runtime_error(file + ": tensor '" + name + "' has shape " + shape_str(it->second) + " in the checkpoint but " +
                               shape_str(t) + " in the model (config mismatch)");
    }
    if (it->second.is_floating_point() && !torch::isfinite(it->second).all().item<bool>()) {
      throw std::runtime_error(file + ": tensor '" + name + "' holds NaN or Inf values (a diverged or corrupted model)");
    }
    t.copy_(it->second);
  }
  for (const auto& [name, t] : weights) {
    if (!target.count(name)) throw std::runtime_error(file + ": checkpoint tensor '" + name + "' has no place in the model (config mismatch)");
  }
}

void require_model(const Json& recipe, const std::string& file, const std::string& modality, const std::string& type) {
  const auto field = [&](const Json& j, const char* key) {
    return j.is_object() && j.contains(key) && j.at(key).is_string() ? j.at(key).get<std::string>() : std::string();
  };
  const std::string m = field(recipe, "modality");
  const std::string t = recipe.is_object() && recipe.contains("model") ? field(recipe.at("model"), "type") : std::string();
  if ((m.empty() || m == modality) && t == type) return;
  const auto article = [](const std::string& w) { return std::string(w.find_first_of("aeiou") == 0 ? "an " : "a ") + w; };
  const std::string found = t.empty() ? "no model type in its recipe (recipe.model.type)"
                                      : (m.empty() ? "a" : article(m)) + " '" + t + "' model";
  throw std::invalid_argument(file + ": " + found + ", expected " + article(modality) + " '" + type + "' model");
}

Checkpoint load_model_checkpoint(const std::string& file, const std::string& modality, const std::string& type) {
  auto ck = load_checkpoint(file);
  require_model(ck.recipe, file, modality, type);
  return ck;
}

std::string resolve_beside(const std::string& path, const std::string& checkpoint) {
  if (path.empty() || std::filesystem::path(path).is_absolute() || std::filesystem::exists(path)) return path;
  return (std::filesystem::path(checkpoint).parent_path() / path).string();
}

}  // namespace diffuse

namespace diffuse {

void drop_training_only(Checkpoint& ck) {
  if (!ck.recipe.contains("model") || !ck.recipe["model"].contains("train_only")) return;
  for (const auto& prefix : ck.recipe["model"]["train_only"]) {
    const auto p = prefix.get<std::string>();
    for (auto* tensors : {&ck.model, &ck.ema, &ck.exp_avg, &ck.exp_avg_sq}) {
      for (auto it = tensors->begin(); it != tensors->end();) it = it->first.rfind(p, 0) == 0 ? tensors->erase(it) : std::next(it);
    }
  }
  ck.recipe["model"].erase("train_only");
}

}  // namespace diffuse
