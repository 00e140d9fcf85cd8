// `diffuse report`: one self-contained HTML page (every image, video and sound embedded as a data:
// URI, no network) from a run's output folder: each modality's section, the JSON metrics found
// there, and loss curves of training runs drawn as SVG.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "apps/cli.h"
#include "core/files.h"
#include "core/json.h"
#include "core/modality.h"
#include "core/report.h"
#include "core/system.h"
#include "modalities/registry.h"

namespace diffuse::cli {
namespace {

std::string escape(const std::string& s) { return html_escape(s); }

// The loss of a run's log.jsonl against the step, as an SVG line chart with a log-scale y axis.
std::string loss_chart(const std::string& run) {
  const std::string path = run + "/log.jsonl";
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read (expected a training run folder)");
  std::vector<std::pair<double, double>> pts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("step") || !j.contains("loss")) continue;
    const double loss = j["loss"].get<double>();
    if (loss > 0 && std::isfinite(loss)) pts.emplace_back(j["step"].get<double>(), std::log10(loss));
  }
  if (pts.size() < 2) return "<p>" + escape(path) + ": fewer than two logged steps</p>";
  const double W = 560, H = 220, L = 60, B = 30;
  double x0 = pts.front().first, x1 = pts.back().first, y0 = 1e9, y1 = -1e9;
  for (const auto& p : pts) y0 = std::min(y0, p.second), y1 = std::max(y1, p.second);
  if (y1 - y0 < 1e-6) y1 = y0 + 1;
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - 10); };
  auto Y = [&](double y) { return 10 + (y1 - y) / (y1 - y0) * (H - B - 10); };
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"11\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>";
  s << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - 10 << "\" y2=\"" << H - B << "\" stroke=\"black\"/>";
  s << "<line x1=\"" << L << "\" y1=\"10\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"black\"/>";
  for (int k = 0; k <= 4; ++k) {
    const double y = y0 + (y1 - y0) * k / 4.0;
    s << "<text x=\"" << L - 4 << "\" y=\"" << Y(y) + 4 << "\" text-anchor=\"end\">" << std::setprecision(3) << std::pow(10.0, y)
      << "</text>" << std::setprecision(1);
  }
  s << "<text x=\"" << L << "\" y=\"" << H - 8 << "\">step " << x0 << "</text><text x=\"" << W - 10 << "\" y=\"" << H - 8
    << "\" text-anchor=\"end\">" << x1 << "</text>";
  s << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
  for (const auto& p : pts) s << X(p.first) << "," << Y(p.second) << " ";
  s << "\"/></svg>";
  return "<figure>" + s.str() + "<figcaption>training loss (log scale) of " + escape(run) + "</figcaption></figure>\n";
}

// A scalar as table text: numbers with 4 significant digits, short arrays inline.
std::string cell(const Json& v) {
  if (v.is_number_float()) {
    std::ostringstream o;
    o << std::setprecision(4) << v.get<double>();
    return o.str();
  }
  if (v.is_string()) return escape(v.get<std::string>());
  const auto s = v.dump();
  return escape(s.size() > 80 ? s.substr(0, 77) + "..." : s);
}

// Leaves of a JSON object under dotted keys ("w1.mw").
void flatten(const Json& j, const std::string& prefix, std::vector<std::pair<std::string, Json>>& out) {
  for (const auto& [k, v] : j.items()) {
    if (v.is_object()) flatten(v, prefix + k + ".", out);
    else out.emplace_back(prefix + k, v);
  }
}

// `diffuse eval --json` output as HTML: an object of objects (e.g. test_vs_train, corrupted_test,
// samples) becomes one table with a row per object and a column per metric; anything else a
// two-column table of its flattened metrics.
std::string metrics_table(const Json& j) {
  std::ostringstream h;
  bool rows = j.is_object() && !j.empty();
  for (const auto& [k, v] : j.items()) rows = rows && v.is_object();
  if (rows) {
    std::vector<std::string> columns;
    std::map<std::string, std::map<std::string, Json>> table;
    for (const auto& [k, v] : j.items()) {
      std::vector<std::pair<std::string, Json>> leaves;
      flatten(v, "", leaves);
      for (const auto& [c, x] : leaves) {
        if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
        table[k][c] = x;
      }
    }
    h << "<table><tr><th></th>";
    for (const auto& c : columns) h << "<th>" << escape(c) << "</th>";
    h << "</tr>\n";
    for (const auto& [k, v] : j.items()) {
      h << "<tr><th>" << escape(k) << "</th>";
      for (const auto& c : columns) h << "<td>" << (table[k].count(c) ? cell(table[k][c]) : "") << "</td>";
      h << "</tr>\n";
    }
    h << "</table>\n";
    return h.str();
  }
  std::vector<std::pair<std::string, Json>> leaves;
  if (j.is_object()) flatten(j, "", leaves);
  else leaves.emplace_back("value", j);
  h << "<table>";
  for (const auto& [k, v] : leaves) h << "<tr><th>" << escape(k) << "</th><td>" << cell(v) << "</td></tr>";
  h << "</table>\n";
  return h.str();
}

std::string build_report(const std::string& dir, const std::vector<std::string>& runs) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>diffuse report: " << escape(dir) << "</title>\n"
    << "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}figure{display:inline-block;"
       "vertical-align:top;margin:0 1em 1em 0}figcaption{font-size:12px;color:#444}img{image-rendering:pixelated;display:block}"
       "pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:12px}table{border-collapse:collapse;font-size:12px;"
       "margin:.5em 0;display:block;overflow-x:auto}th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}"
       "th{background:#f2f2f2}</style></head><body>\n"
    << "<h1>diffuse report</h1>\n<p>Outputs in <code>" << escape(dir) << "</code>; diffuse " << escape(diffuse_version())
    << ". Everything is embedded in this file.</p>\n";
  for (const auto& [name, section] : report_sections()) {
    try {
      h << section(dir);
    } catch (const std::exception& e) {
      h << "<p class=\"error\">" << escape(name) << ": " << escape(e.what()) << "</p>\n";
    }
  }
  std::vector<std::filesystem::path> metrics;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".json") metrics.push_back(e.path());
  }
  std::sort(metrics.begin(), metrics.end());
  if (!metrics.empty()) {
    h << "<h2>Metrics</h2>\n";
    for (const auto& m : metrics) {
      const auto j = Json::parse(read_file(m.string()), nullptr, false);
      h << "<h3>" << escape(m.filename().string()) << "</h3>\n";
      if (j.is_discarded()) {
        h << "<p>(not valid JSON)</p>\n";
        continue;
      }
      h << metrics_table(j) << "<details><summary>JSON</summary><pre>" << escape(j.dump(2)) << "</pre></details>\n";
    }
  }
  if (!runs.empty()) {
    h << "<h2>Training</h2>\n";
    for (const auto& r : runs) h << loss_chart(r);
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

void add_report(CLI::App& app) {
  auto* r = app.add_subcommand("report", "write a self-contained HTML page (media embedded, no network) from a run's outputs:\n"
                                         "images, videos with a contact sheet, sounds with their spectrograms, JSON metrics,\n"
                                         "and training loss curves\n"
                                         "Example: diffuse report out --run runs/audio --out out/report.html");
  struct Args {
    std::string dir, out;
    std::vector<std::string> runs;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  r->add_option("dir", a->dir, "the folder `diffuse sample ...` / `make demo` wrote into")->required()->check(CLI::ExistingDirectory);
  r->add_option("--out", a->out, "the HTML file (default DIR/report.html)");
  r->add_option("--run", a->runs, "a training run folder (with log.jsonl) whose loss curve to draw; repeatable")->check(CLI::ExistingDirectory);
  r->add_flag("--force", a->force, "overwrite --out");
  r->callback([a] {
    register_pipelines();
    const std::string out = a->out.empty() ? a->dir + "/report.html" : a->out;
    check_writable(out, a->force);
    const auto html = build_report(a->dir, a->runs);
    write_file_atomic(out, html, a->force);
    std::cout << "wrote " << out << " (" << html.size() / 1024 << " KiB)\n";
  });
}

}  // namespace diffuse::cli
