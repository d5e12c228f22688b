#include "util/hash.h"

#include <openssl/evp.h>

#include <fstream>
#include <vector>

#include "util/error.h"

namespace mlxcpp {

struct Hasher::State {
  EVP_MD_CTX* ctx = nullptr;
};

Hasher::Hasher(Kind kind) : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, kind == Kind::Sha256 ? EVP_sha256() : EVP_sha1(), nullptr) != 1)
    fail("OpenSSL could not start a digest");
}

Hasher::~Hasher() { EVP_MD_CTX_free(state_->ctx); }

void Hasher::update(std::string_view bytes) {
  if (EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) != 1) fail("OpenSSL digest update failed");
}

std::string Hasher::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(state_->ctx, md, &n) != 1) fail("OpenSSL digest final failed");
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < n; ++i) {
    hex += digits[md[i] >> 4];
    hex += digits[md[i] & 15];
  }
  return hex;
}

std::string sha256_hex(std::string_view bytes) {
  Hasher h(Hasher::Kind::Sha256);
  h.update(bytes);
  return h.hex_digest();
}

std::string git_blob_sha1_hex(std::string_view bytes) {
  Hasher h(Hasher::Kind::Sha1);
  h.update("blob " + std::to_string(bytes.size()) + std::string(1, '\0'));
  h.update(bytes);
  return h.hex_digest();
}

std::string file_digest_for_etag(const std::filesystem::path& file, std::string_view etag) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("{}: cannot open to verify its hash", file.string());
  const bool git = etag.size() == 40;
  Hasher h(git ? Hasher::Kind::Sha1 : Hasher::Kind::Sha256);
  if (git) h.update("blob " + std::to_string(std::filesystem::file_size(file)) + std::string(1, '\0'));
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    h.update(std::string_view(buf.data(), size_t(in.gcount())));
  }
  if (in.bad()) fail("{}: read error while hashing", file.string());
  return h.hex_digest();
}

}  // namespace mlxcpp
