// `diffuse report` opened in headless Chromium: the page loads, a screenshot is taken, and every
// media element has an embedded (data:) source, so nothing is fetched from anywhere.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "tests/apps/cli_util.h"

namespace {

using diffuse::test::run;

TEST(CliReport, OpensInHeadlessChromiumWithEveryMediaElementEmbedded) {
  if (std::system("chromium --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "chromium not installed (Debian package chromium; scripts/install-deps.sh installs it)";
  }
  const diffuse::test::TempDir tmp("cli_report");
  const std::string d = tmp.path;
  std::filesystem::create_directories(d + "/out/digits");
  // Media from the shipped models (a few steps: this checks the page, not the quality).
  auto r = run("sample image --label rows --columns 2 --n 4 --steps 2 --grid --labelled --out " + d + "/out/fashion.png");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("sample audio --label seven --steps 2 --out " + d + "/out/digits/seven.wav");
  ASSERT_EQ(r.code, 0) << r.out;
  int media = 2;
  r = run("sample video --class Sneaker --steps 2 --out " + d + "/out/clip.mp4");
  if (r.code == 0) media += 2;  // the video and its contact sheet
  r = run("sample molecule --n-valid 4 --steps 20 --repair --out " + d + "/out/molecules.sdf");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ofstream(d + "/out/metrics.json") << "{\"fd\": 1.5}";
  std::ofstream(d + "/out/eval.json") << "{\"real\": {\"accuracy\": 0.99, \"w1\": {\"mw\": 2.5}}, \"noise\": {\"accuracy\": 0.1}}";
  r = run("train toy --steps 500 --batch 32 --out " + d + "/toy");  // logs every 250 steps
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("report " + d + "/out --run " + d + "/toy");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string html = diffuse::read_file(d + "/out/report.html");
  // Every media tag (scanned by hand: std::regex recurses per character of the long data: URIs).
  int tags = 0;
  for (const std::string name : {"<img ", "<video ", "<audio ", "<source "}) {
    for (size_t at = html.find(name); at != std::string::npos; at = html.find(name, at + 1)) {
      const std::string t = html.substr(at, html.find('>', at) - at);
      EXPECT_NE(t.find("src=\"data:"), std::string::npos) << t.substr(0, 120);
      ++tags;
    }
  }
  EXPECT_EQ(tags, media);  // fashion.png, the audio player, and the video with its sheet
  EXPECT_NE(html.find("metrics.json"), std::string::npos);
  // Eval output as a table: a row per object, a column per (dotted) metric.
  EXPECT_NE(html.find("<tr><th></th><th>accuracy</th><th>w1.mw</th></tr>"), std::string::npos);
  EXPECT_NE(html.find("<tr><th>real</th><td>0.99</td><td>2.5</td></tr>"), std::string::npos);
  EXPECT_NE(html.find("<tr><th>fd</th><td>1.5</td></tr>"), std::string::npos);
  // Molecules drawn by RDKit as inline SVG, one per record read back from the SDF.
  EXPECT_NE(html.find("<h2>Molecules</h2>"), std::string::npos);
  EXPECT_NE(html.find("4 molecules read back by RDKit"), std::string::npos);
  size_t drawn = 0;  // one depiction per molecule, each with its caption
  for (size_t at = html.find("valid, QED "); at != std::string::npos; at = html.find("valid, QED ", at + 1)) ++drawn;
  EXPECT_EQ(drawn, 4u);
  EXPECT_NE(html.find("<polyline"), std::string::npos);  // the loss curve
  EXPECT_EQ(html.find("http://") == std::string::npos || html.find("http://www.w3.org/2000/svg") != std::string::npos, true);
  r = run("report " + d + "/out --run " + d + "/toy");
  EXPECT_EQ(r.code, 1);  // no overwrite without --force
  // The browser: no network, a fresh profile; the DOM must come back and a screenshot be taken.
  const std::string chrome = "cd " + d + " && timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
                             "--user-data-dir=" + d + "/profile --window-size=1200,1600 ";
  ASSERT_EQ(std::system((chrome + "--screenshot=" + d + "/shot.png file://" + d + "/out/report.html > /dev/null 2>&1").c_str()), 0);
  ASSERT_TRUE(std::filesystem::exists(d + "/shot.png"));
  EXPECT_GT(std::filesystem::file_size(d + "/shot.png"), 10000u);
  ASSERT_EQ(std::system((chrome + "--dump-dom file://" + d + "/out/report.html > " + d + "/dom.html 2>/dev/null").c_str()), 0);
  const std::string dom = diffuse::read_file(d + "/dom.html");
  EXPECT_NE(dom.find("<h1>diffuse report</h1>"), std::string::npos);
  EXPECT_NE(dom.find("<h2>Images</h2>"), std::string::npos);
  EXPECT_NE(dom.find("<h2>Audio</h2>"), std::string::npos);
  EXPECT_NE(dom.find("<h2>Molecules</h2>"), std::string::npos);
}

}  // namespace
