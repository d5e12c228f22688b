#define MLXCPP_INT8_NS amx
#define MLXCPP_INT8_VNNI true
#define MLXCPP_INT8_AMX true
#include "backend/cpu/int8_kernels.inc"
