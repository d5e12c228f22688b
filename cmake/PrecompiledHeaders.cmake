# Precompiled headers: the large headers most translation units include (nlohmann::json
# alone is about two seconds of parsing per file), parsed once per library instead of once
# per file: CI builds everything twice on two cores. -DMLXCPP_PCH=OFF builds without them
# (which also checks that every file includes what it uses).
option(MLXCPP_PCH "Precompile the common headers of each library and of the unit tests" ON)

set(MLXCPP_PCH_HEADERS
    <nlohmann/json.hpp> <algorithm> <cstdint> <filesystem> <functional> <map> <memory> <optional> <string>
    <string_view> <unordered_map> <vector>)

function(mlxcpp_precompiled_headers target)
  if(MLXCPP_PCH)
    target_precompile_headers(${target} PRIVATE ${MLXCPP_PCH_HEADERS} ${ARGN})
  endif()
endfunction()

# A target whose compile options are those of `from` reuses its precompiled header.
function(mlxcpp_reuse_precompiled_headers target from)
  if(MLXCPP_PCH)
    target_precompile_headers(${target} REUSE_FROM ${from})
  endif()
endfunction()
