// The modality registry.
#include "core/modality.h"

#include <map>
#include <mutex>
#include <stdexcept>

#include "core/dit.h"
#include "core/graph_dit.h"
#include "core/toy.h"

namespace diffuse {
namespace {
std::map<std::string, std::shared_ptr<Modality>>& registry() {
  static std::map<std::string, std::shared_ptr<Modality>> r = {{"toy", make_toy_modality()}};
  return r;
}
}  // namespace

void register_modality(std::shared_ptr<Modality> m) { registry()[m->name()] = std::move(m); }

namespace {
std::map<std::string, PipelineCommands>& pipelines() {
  static std::map<std::string, PipelineCommands> p = {{"toy", toy_pipeline()}};
  return p;
}
}  // namespace

const std::map<std::string, PipelineCommands>& registered_pipelines() { return pipelines(); }

void register_pipeline(const std::string& name, PipelineCommands commands) { pipelines()[name] = std::move(commands); }

namespace {
std::vector<std::pair<std::string, ReportSection>>& sections() {
  static std::vector<std::pair<std::string, ReportSection>> s;
  return s;
}
}  // namespace

void register_report_section(const std::string& name, ReportSection section) {
  for (auto& [n, s] : sections()) {
    if (n == name) {
      s = std::move(section);
      return;
    }
  }
  sections().emplace_back(name, std::move(section));
}

const std::vector<std::pair<std::string, ReportSection>>& report_sections() { return sections(); }

namespace {
std::map<std::string, ModelBuilder>& builders() {
  static std::map<std::string, ModelBuilder> b = {
      {"dit", [](const Json& r, const std::string& f) -> std::shared_ptr<torch::nn::Module> {
         return DiT(dit_config_from_json(json_at(json_at(r, "model", f), "config", f))).ptr();
       }},
      {"graph-dit", [](const Json& r, const std::string& f) -> std::shared_ptr<torch::nn::Module> {
         return GraphDiT(graph_dit_config_from_json(json_at(json_at(r, "model", f), "config", f))).ptr();
       }},
      {"mlp", [](const Json& r, const std::string&) -> std::shared_ptr<torch::nn::Module> { return make_toy_model(r).net.ptr(); }},
  };
  return b;
}
}  // namespace

void register_model_builder(const std::string& type, ModelBuilder build) { builders()[type] = std::move(build); }

std::shared_ptr<torch::nn::Module> build_model(const Json& recipe, const std::string& file) {
  const Json model = recipe.is_object() ? recipe.value("model", Json::object()) : Json::object();
  const std::string type = model.is_object() && model.contains("type") && model.at("type").is_string() ? model.at("type").get<std::string>() : "";
  const auto it = builders().find(type);
  if (it != builders().end()) return it->second(recipe, file);
  std::string names;
  for (const auto& [k, v] : builders()) names += (names.empty() ? "" : ", ") + k;
  throw std::invalid_argument(file + ": model type '" + type + "' is not one this build knows (recipe.model.type; one of: " + names + ")");
}

const PipelineCommands* find_pipeline(const std::string& name) {
  const auto it = pipelines().find(name);
  return it == pipelines().end() ? nullptr : &it->second;
}

std::vector<std::string> modality_names() {
  std::vector<std::string> names;
  for (const auto& [k, v] : registry()) names.push_back(k);
  return names;
}

const Modality& find_modality(const std::string& name) {
  const auto it = registry().find(name);
  if (it != registry().end()) return *it->second;
  std::string names;
  for (const auto& n : modality_names()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown or unavailable modality '" + name + "'; one of: " + names);
}

int64_t resolve_class(const Modality& m, const std::string& s) {
  const auto names = m.class_names();
  for (size_t i = 0; i < names.size(); ++i) if (names[i] == s) return int64_t(i);
  try {
    size_t used = 0;
    const int64_t v = std::stoll(s, &used);
    if (used == s.size() && v >= 0 && v < int64_t(names.size())) return v;
  } catch (const std::exception&) {
  }
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) list += (i ? ", " : "") + std::to_string(i) + "=" + names[i];
  throw std::invalid_argument("unknown class '" + s + "' for modality " + m.name() + "; one of: " + list);
}

}  // namespace diffuse
