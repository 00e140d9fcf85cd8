// `diffuse model info CONFIG`: parameters and GFLOPs of a DiT given as a preset or JSON file.
#include <iomanip>
#include <iostream>
#include <optional>
#include <set>

#include "apps/cli.h"
#include "core/modality.h"
#include "core/dit.h"
#include "core/train/checkpoint.h"
#include "core/train/export.h"

namespace diffuse::cli {

void add_model(CLI::App& app) {
  auto* model = app.add_subcommand("model", "inspect model configurations; export checkpoints for shipping");
  model->require_subcommand(1);
  auto* exp = model->add_subcommand("export", "write a checkpoint's EMA weights as its model weights, without the\n"
                                              "optimizer state (about 4x smaller; for models/, not for resuming)\n"
                                              "Example: diffuse model export runs/vae/checkpoint.safetensors models/fashion-mnist/vae.safetensors");
  auto in = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  exp->add_option("checkpoint", *in, "training checkpoint")->required()->check(CLI::ExistingFile);
  exp->add_option("out", *out, "exported file")->required();
  exp->add_flag("--force", *force, "overwrite out");
  auto vae = std::make_shared<std::string>();
  exp->add_option("--vae", *vae, "rewrite the recipe's VAE path (relative paths resolve beside the exported file)");
  auto anchor = std::make_shared<std::string>();
  exp->add_option("--anchor-frame", *anchor, "video DiT: switch cross-frame attention to the first frame on or off (same weights)")
      ->check(CLI::IsMember({"on", "off"}));
  auto dtype = std::make_shared<std::string>("fp32");
  exp->add_option("--dtype", *dtype, "the stored weights: fp32, or bf16 (half the file; loaded back as fp32)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  auto cfg = std::make_shared<std::optional<double>>();
  exp->add_option("--cfg", *cfg, "the model's own guidance scale: what sample and eval use when not given --cfg\n"
                                 "(stored in the recipe as sampling.cfg)")
      ->check(guidance_scale());
  exp->callback([in, out, force, vae, anchor, dtype, cfg] {
    auto ck = load_checkpoint(*in);
    drop_training_only(ck);  // e.g. a vocoder's discriminator: not shipped
    // The tensors must fit the architecture the recipe names (weights, buffers and their EMA):
    // an exported file that no command could load is refused here, naming the tensor.
    std::set<std::string> parameters;
    {
      auto module = build_model(ck.recipe, *in);
      for (const auto& p : module->named_parameters()) parameters.insert(p.key());
      load_into(*module, ck.model, *in);
      const auto state = state_of(*module);
      for (const auto& [name, t] : ck.ema) {
        const auto it = state.find(name);
        if (it == state.end() || it->second.sizes() != t.sizes()) {
          throw std::runtime_error(*in + ": EMA tensor '" + name + "' does not fit the model (config mismatch)");
        }
      }
    }
    if (!vae->empty()) ck.recipe["vae"] = *vae;
    if (!anchor->empty()) {
      const Json config = ck.recipe.value("model", Json::object()).value("config", Json::object());
      const std::string attention = config.value("attention", std::string("full"));
      if (attention != "factorized" && attention != "hybrid") {
        throw std::invalid_argument("--anchor-frame: " + *in + " is not a factorised or hybrid video DiT (attention " + attention + ")");
      }
      ck.recipe["model"]["config"]["anchor_frame"] = *anchor == "on";
    }
    if (cfg->has_value()) {
      if (!ck.recipe.contains("sampling")) throw std::invalid_argument("--cfg: " + *in + " is not a diffusion model (its recipe has no sampling settings)");
      ck.recipe["sampling"]["cfg"] = **cfg;
    }
    for (const auto& [k, v] : ck.ema) ck.model[k] = v;
    ck.ema.clear();
    ck.exp_avg.clear();
    ck.exp_avg_sq.clear();
    ck.recipe["exported"] = {{"from_step", ck.step}, {"weights", "ema"}};
    if (*dtype == "bf16") {  // the parameters only: buffers (positions, statistics) keep their precision
      for (auto& [k, v] : ck.model) {
        if (parameters.count(k) && v.scalar_type() == torch::kFloat32) v = v.to(torch::kBFloat16);
      }
      ck.recipe["exported"]["dtype"] = "bf16";
    }
    save_checkpoint(*out, ck, *force);
    std::cout << "wrote " << *out << " (EMA weights of step " << ck.step << ")\n";
  });
  auto* info = model->add_subcommand("info", "parameter count and GFLOPs per forward of a DiT\n"
                                             "Examples: diffuse model info dit-xl/2\n"
                                             "          diffuse model info models/fashion/config.json --json\n"
                                             "          diffuse model info --list");
  auto spec = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto list = std::make_shared<bool>(false);
  info->add_option("config", *spec, "preset name (e.g. dit-s/2) or JSON config file");
  info->add_flag("--json", *json, "print JSON");
  info->add_flag("--list", *list, "list the presets");
  info->callback([spec, json, list] {
    auto row = [](const std::string& name, const DiTConfig& c) {
      const double macs = dit_forward_macs(c);
      return Json{{"name", name}, {"parameters", dit_parameter_count(c)}, {"gmacs", macs * 1e-9},
                  {"gflops", 2 * macs * 1e-9}, {"tokens", c.tokens()}, {"config", to_json(c)}};
    };
    std::vector<Json> rows;
    if (*list || spec->empty()) {
      for (const auto& p : dit_presets()) rows.push_back(row(p.name, p.config));
    } else {
      rows.push_back(row(*spec, dit_config_from_spec(*spec)));
    }
    if (*json) {
      std::cout << (rows.size() == 1 ? rows[0] : Json(rows)).dump(2) << "\n";
      return;
    }
    std::cout << std::left << std::setw(44) << "model" << std::right << std::setw(14) << "parameters" << std::setw(8)
              << "tokens" << std::setw(12) << "GFLOPs" << std::setw(12) << "GMACs" << "\n";
    for (const auto& r : rows) {
      std::cout << std::left << std::setw(44) << r["name"].get<std::string>() << std::right << std::setw(14)
                << r["parameters"].get<int64_t>() << std::setw(8) << r["tokens"].get<int64_t>() << std::setw(12)
                << std::fixed << std::setprecision(2) << r["gflops"].get<double>() << std::setw(12)
                << r["gmacs"].get<double>() << "\n";
    }
    std::cout << "GFLOPs = 2 x multiply-accumulates per sample; DiT's paper reports MACs as \"Gflops\".\n";
  });
}

}  // namespace diffuse::cli
