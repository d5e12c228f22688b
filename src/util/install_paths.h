// Where an installed copy keeps its data: <prefix>/share/mlxcpp, found from the file that
// holds this code (the mlxcpp binary, or libmlxcpp.so in a program that links it) as
// <prefix>/bin/… or <prefix>/lib[/<multiarch>]/…, so an installation works from whatever
// prefix it was installed to, and after its build tree is gone.
#pragma once

#include <filesystem>

namespace mlxcpp {

// <prefix>/share/mlxcpp when it exists next to the running binary or library, else empty.
std::filesystem::path installed_data_dir();

}  // namespace mlxcpp
