// The report's molecule section: RDKit drawings of the molecules in a run's SDF files.
#include <iomanip>
#include <sstream>

#include "core/report.h"
#include "modalities/molecule/chem.h"
#include "modalities/molecule/molecule_pipeline.h"

namespace diffuse::molecule {

std::string molecule_report_section(const std::string& dir) {
  constexpr size_t kShown = 40;
  const auto files = files_with_extension(dir, {".sdf"});
  std::string html;
  for (const auto& f : files) {
    int64_t skipped = 0;
    const auto records = read_sdf(f.string(), &skipped);
    auto in_3d = [&](size_t i) { return records[i].fields.count("embedded_3d") && records[i].fields.at("embedded_3d") == "1"; };
    std::vector<Properties> props;
    int64_t n_3d = 0;
    double qed_sum = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      props.push_back(properties(records[i].smiles));
      n_3d += in_3d(i) ? 1 : 0;
      qed_sum += props.back().qed;
    }
    std::ostringstream head;
    head << "<p><code>" << html_escape(f.filename().string()) << "</code>: " << records.size() << " molecules read back by RDKit"
         << (skipped ? ", " + std::to_string(skipped) + " unreadable" : std::string()) << ", " << n_3d << " with 3-D coordinates, mean QED "
         << std::fixed << std::setprecision(3) << (records.empty() ? 0.0 : qed_sum / double(records.size()))
         << (records.size() > kShown ? "; the first " + std::to_string(kShown) + " drawn" : std::string()) << ".</p>\n";
    html += head.str();
    for (size_t i = 0; i < records.size() && i < kShown; ++i) {
      const auto& r = records[i];
      const auto& p = props[i];
      std::ostringstream cap;
      cap << "<code>" << html_escape(r.smiles) << "</code><br>valid, QED " << std::fixed << std::setprecision(2) << p.qed << ", logP " << p.logp
          << (in_3d(i) ? ", 3-D" : ", 2-D only");
      html += "<figure style=\"width:200px\">" + depict_svg(r.smiles, 200, 160) + "<figcaption style=\"word-break:break-all\">" + cap.str() +
              "</figcaption></figure>\n";
    }
  }
  return html.empty() ? "" : "<h2>Molecules</h2>\n" + html;
}

}  // namespace diffuse::molecule
