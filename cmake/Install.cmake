# `cmake --install`: the mlxcpp CLI, libmlxcpp.so with its C and C++ headers, a CMake package
# (find_package(mlxcpp) → mlxcpp::mlxcpp), a pkg-config file, and the bundled model.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS mlxcpp_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS mlxcpp_shared EXPORT mlxcppTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/mlxcpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/fortune-tiny-mlx-4bit-g64 DESTINATION ${CMAKE_INSTALL_DATADIR}/mlxcpp/models)
# The tokenizers `synth --like PRESET` copies (found next to the installed binary).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/tokenizers DESTINATION ${CMAKE_INSTALL_DATADIR}/mlxcpp)

set(MLXCPP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mlxcpp)
install(EXPORT mlxcppTargets NAMESPACE mlxcpp:: DESTINATION ${MLXCPP_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mlxcppConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mlxcppConfig.cmake INSTALL_DESTINATION ${MLXCPP_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mlxcppConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mlxcppConfig.cmake ${PROJECT_BINARY_DIR}/mlxcppConfigVersion.cmake
        DESTINATION ${MLXCPP_CMAKE_DIR})

# Relocatable: the prefix is found from the .pc file's own place (<prefix>/<libdir>/pkgconfig),
# so `cmake --install --prefix P` works whatever prefix was configured.
file(RELATIVE_PATH MLXCPP_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" MLXCPP_PC_TO_PREFIX "${MLXCPP_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/mlxcpp.pc.in ${PROJECT_BINARY_DIR}/mlxcpp.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mlxcpp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
