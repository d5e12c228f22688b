# Sanitizers apply to everything built after this point (library, tests, tools).
set(_mlxcpp_san "")
if(MLXCPP_ASAN)
  list(APPEND _mlxcpp_san address)
endif()
if(MLXCPP_UBSAN)
  list(APPEND _mlxcpp_san undefined)
endif()
if(MLXCPP_FUZZ)
  # Library code gets coverage instrumentation; only fuzz targets link libFuzzer's main.
  list(APPEND _mlxcpp_san fuzzer-no-link address)
endif()
if(_mlxcpp_san)
  list(REMOVE_DUPLICATES _mlxcpp_san)
  list(JOIN _mlxcpp_san "," _mlxcpp_san_list)
  add_compile_options(-fsanitize=${_mlxcpp_san_list} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  # Link the sanitizer runtimes (not libFuzzer's main: only fuzz targets link that), so one
  # build serves both the sanitized unit tests and the fuzzers.
  set(_mlxcpp_san_link ${_mlxcpp_san})
  list(REMOVE_ITEM _mlxcpp_san_link fuzzer-no-link)
  list(JOIN _mlxcpp_san_link "," _mlxcpp_san_link_list)
  add_link_options(-fsanitize=${_mlxcpp_san_link_list})
endif()
