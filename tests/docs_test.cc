// Every code snippet in the docs is compiled: each ```cpp block of README.md and docs/*.md must
// appear verbatim in a source file under docs/examples/ (which the build compiles), and each
// ```cmake block in a CMakeLists.txt there. So the docs cannot drift from the API.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kRoot = fs::path(__FILE__).parent_path().parent_path();

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The bodies of the fenced blocks of `language` in a Markdown text.
std::vector<std::string> blocks(const std::string& markdown, const std::string& language) {
  std::vector<std::string> found;
  const std::string open = "```" + language + "\n";
  std::size_t pos = 0;
  while ((pos = markdown.find(open, pos)) != std::string::npos) {
    pos += open.size();
    const std::size_t end = markdown.find("```\n", pos);
    if (end == std::string::npos) break;
    found.push_back(markdown.substr(pos, end - pos));
    pos = end + 4;
  }
  return found;
}

std::vector<fs::path> documents() {
  std::vector<fs::path> docs{kRoot / "README.md"};
  for (const auto& entry : fs::directory_iterator(kRoot / "docs")) {
    if (entry.path().extension() == ".md") docs.push_back(entry.path());
  }
  return docs;
}

// Contents of the files under docs/examples/ that `accept` selects.
template <typename Accept>
std::vector<std::string> examples(Accept accept) {
  std::vector<std::string> sources;
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "docs" / "examples")) {
    if (entry.is_regular_file() && accept(entry.path())) sources.push_back(read_file(entry.path()));
  }
  return sources;
}

void expect_quoted(const std::string& language, const std::vector<std::string>& sources) {
  std::size_t checked = 0;
  for (const fs::path& doc : documents()) {
    for (const std::string& block : blocks(read_file(doc), language)) {
      bool found = false;
      for (const std::string& source : sources) found = found || source.find(block) != std::string::npos;
      EXPECT_TRUE(found) << doc.filename() << " has a ```" << language
                         << " block that no file in docs/examples/ contains:\n" << block;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0u);
}

TEST(Docs, EveryCppSnippetIsInACompiledExample) {
  expect_quoted("cpp", examples([](const fs::path& path) {
                  return path.extension() == ".cc" || path.extension() == ".h";
                }));
}

TEST(Docs, EveryCmakeSnippetIsInAnExampleBuild) {
  expect_quoted("cmake",
                examples([](const fs::path& path) { return path.filename() == "CMakeLists.txt"; }));
}

TEST(Docs, IndexLinksEveryPage) {
  const std::string index = read_file(kRoot / "docs" / "README.md");
  ASSERT_FALSE(index.empty());
  for (const fs::path& doc : documents()) {
    if (doc.parent_path().filename() != "docs" || doc.filename() == "README.md") continue;
    EXPECT_NE(index.find("(" + doc.filename().string() + ")"), std::string::npos)
        << "docs/README.md does not link " << doc.filename();
  }
}

}  // namespace
