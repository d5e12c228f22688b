#include "util/install_paths.h"

#include <dlfcn.h>

namespace mlxcpp {

std::filesystem::path installed_data_dir() {
  namespace fs = std::filesystem;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&installed_data_dir), &info) == 0 || !info.dli_fname) return {};
  std::error_code ec;
  const fs::path self = fs::canonical(info.dli_fname, ec);
  if (ec) return {};
  // bin/mlxcpp or lib/libmlxcpp.so: the prefix is two levels up; lib/<multiarch>/…: three.
  const fs::path up2 = self.parent_path().parent_path();
  for (const fs::path& prefix : {up2, up2.parent_path()}) {
    const fs::path data = prefix / "share" / "mlxcpp";
    if (fs::is_directory(data, ec)) return data;
  }
  return {};
}

}  // namespace mlxcpp
