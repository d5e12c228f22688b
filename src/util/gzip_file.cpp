#include "util/gzip_file.h"

#include <zlib.h>

#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {

std::string read_file_maybe_gzipped(const std::filesystem::path& path) {
  if (path.extension() != ".gz") return read_text_file(path);
  gzFile in = gzopen(path.c_str(), "rb");
  if (!in) fail("{}: cannot open", path.string());
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(in, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  gzclose(in);
  if (n < 0) fail("{}: corrupt gzip data", path.string());
  return out;
}

}  // namespace mlxcpp
