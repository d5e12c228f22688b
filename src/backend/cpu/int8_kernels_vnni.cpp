#define MLXCPP_INT8_NS vnni
#define MLXCPP_INT8_VNNI true
#include "backend/cpu/int8_kernels.inc"
