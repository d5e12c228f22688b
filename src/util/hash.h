// Streaming content hashes for verifying downloads against the Hub's etags (hf-hub.md §4.2):
// sha256 of the bytes for LFS/Xet files, the git blob id sha1("blob <size>\0" + bytes) for
// regular git files. OpenSSL's EVP does the arithmetic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace mlxcpp {

class Hasher {
 public:
  enum class Kind { Sha256, Sha1 };
  explicit Hasher(Kind kind);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(std::string_view bytes);
  std::string hex_digest();  // lowercase hex; the hasher is finished afterwards

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view bytes);
std::string git_blob_sha1_hex(std::string_view bytes);

// The etag a file with these bytes has on the Hub: 64 hex → sha256, 40 hex → git blob sha1.
// Reads the file in chunks; throws Error naming the file when it cannot be read.
std::string file_digest_for_etag(const std::filesystem::path& file, std::string_view etag);

}  // namespace mlxcpp
