# Every dependency is a Debian package installed by scripts/setup.sh; nothing is vendored.
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PkgConfig REQUIRED)
# cpp-httplib: the HTTP server (and the tests' fake Hub); the Hub client itself uses libcurl.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# Optional: line editing and history in `mlxcpp chat` (libedit-dev).
pkg_check_modules(LIBEDIT IMPORTED_TARGET libedit)
if(MLXCPP_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(MLXCPP_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
