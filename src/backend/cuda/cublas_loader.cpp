#include "backend/cuda/cublas_loader.h"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace mlxcpp::cuda::blas {
namespace {

struct Api {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  // (cublas_api.h overloads cublasGemmEx for C++, so its type is spelled out)
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*, const void*,
                            cudaDataType, int, const void*, cudaDataType, int, const void*, void*, cudaDataType, int,
                            cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
};

// The major version this build was compiled against, by soname, then the toolkit's own
// directories for installs that are not on the loader's path.
Api load() {
  const std::string soname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* lib = nullptr;
  std::string errors;
  for (const std::string& name : {soname, "/usr/local/cuda/lib64/" + soname, "/usr/local/cuda/lib/" + soname}) {
    if ((lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL))) break;
    const char* e = dlerror();
    errors += std::string(errors.empty() ? "" : "; ") + (e ? e : name);
  }
  if (!lib) throw std::runtime_error("cannot load cuBLAS (" + soname + "): " + errors);
  Api api;
  auto symbol = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (!fn) throw std::runtime_error(soname + " lacks " + name);
  };
  symbol(api.create, "cublasCreate_v2");
  symbol(api.destroy, "cublasDestroy_v2");
  symbol(api.set_stream, "cublasSetStream_v2");
  symbol(api.gemm_ex, "cublasGemmEx");
  return api;  // the library stays loaded for the life of the process
}

const Api& api() {
  static std::once_flag once;
  static Api loaded;
  std::call_once(once, [] { loaded = load(); });  // a throw leaves it to be tried again
  return loaded;
}

}  // namespace

cublasStatus_t create(cublasHandle_t* handle) { return api().create(handle); }
cublasStatus_t destroy(cublasHandle_t handle) { return api().destroy(handle); }
cublasStatus_t set_stream(cublasHandle_t handle, cudaStream_t stream) { return api().set_stream(handle, stream); }
cublasStatus_t gemm_ex(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                       const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B, cudaDataType Btype,
                       int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                       cublasGemmAlgo_t algo) {
  return api().gemm_ex(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc,
                       computeType, algo);
}

}  // namespace mlxcpp::cuda::blas
