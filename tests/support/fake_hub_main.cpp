// The fake Hub as a process, for the end-to-end CLI tests and the huggingface_hub interop
// check: fake_hub PORT_FILE ORG/NAME=DIR... [--token T] [--gated ORG/NAME]. Writes the port
// to PORT_FILE once listening and serves until killed.
#include <cstdio>
#include <fstream>
#include <string>

#include "fake_hub.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fake_hub PORT_FILE ORG/NAME=DIR... [--token T] [--gated ORG/NAME]\n");
    return 2;
  }
  mlxcpp::testing::FakeHub hub;
  hub.set_page_size(3);
  std::string gated;
  for (int i = 2; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--gated") gated = argv[i + 1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--token" && i + 1 < argc) {
      hub.set_token(argv[++i]);
    } else if (a == "--gated" && i + 1 < argc) {
      ++i;
    } else {
      const auto eq = a.find('=');
      auto repo = mlxcpp::testing::repo_from_directory(a.substr(0, eq), a.substr(eq + 1));
      repo.downloads = 1000 - i;
      if (repo.id == gated) repo.access = mlxcpp::testing::FakeRepo::Access::Gated;
      hub.add_repo(repo);
    }
  }
  std::ofstream(argv[1]) << hub.port() << "\n";
  hub.block_forever();
}
