// cuBLAS, loaded when the first GPU product needs it rather than linked: the library and
// its Lt companion are ~600 MB that the dynamic linker would map and relocate (~210 MB of
// resident memory) in every run of mlxcpp, CPU-only ones included, and a binary linked to
// them would not start at all on a machine without them. The functions keep their cuBLAS
// names and signatures (cublas_v2.h supplies the types).
#pragma once

#include <cublas_v2.h>

namespace mlxcpp::cuda::blas {

// Each throws std::runtime_error naming the library and dlerror() when it cannot be loaded.
cublasStatus_t create(cublasHandle_t* handle);
cublasStatus_t destroy(cublasHandle_t handle);
cublasStatus_t set_stream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t gemm_ex(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                       const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B, cudaDataType Btype,
                       int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                       cublasGemmAlgo_t algo);

}  // namespace mlxcpp::cuda::blas
