// The test programs are front ends too: the tuning environment (runtime/tuning.h) that ctest
// sets for some runs (MLXCPP_CPU_KERNEL, MLXCPP_DRAW_CTAS) is applied before any test runs.
#include "runtime/tuning.h"

namespace {

const bool kTuned = (mlxcpp::apply_tuning(mlxcpp::tuning_from_environment()), true);

}  // namespace
