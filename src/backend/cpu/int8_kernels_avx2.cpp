#define MLXCPP_INT8_NS avx2
#define MLXCPP_INT8_VNNI false
#include "backend/cpu/int8_kernels.inc"
