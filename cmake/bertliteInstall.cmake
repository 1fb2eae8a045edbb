# cmake --install: the public headers, the layer libraries, the CLI and a CMake package, so a
# program elsewhere can
#   find_package(bertlite REQUIRED)
#   target_link_libraries(app PRIVATE bertlite::bertlite)   # tokenizer, encoder, features, learn
#   target_link_libraries(app PRIVATE bertlite::train)      # fine-tuning, when it needs it
# tests/cmake_consumer builds and runs such a program against an install (cmake_package_test).
#
# Layout under the prefix:
#   include/bertlite/*.h            the public API (one header per concept)
#   include/bertlite/internal/...   the library's own layer headers (src/*/*.h), which the
#                                   public headers name types from; on the include path, so
#                                   they keep including each other as "model/encoder.h"
#   lib/libbertlite_*.a             one static library per layer
#   lib/cmake/bertlite/             bertliteConfig.cmake, its version file and the targets
#   bin/bertlite                    the command line
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BERTLITE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/bertlite")
set(BERTLITE_INSTALL_INTERNAL "${CMAKE_INSTALL_INCLUDEDIR}/bertlite/internal")

# The layer libraries keep their names in the tree (bertlite_model, ...) and are exported as
# bertlite::model, ...; bertlite::bertlite is everything but training.
set(BERTLITE_EXPORTED_LAYERS util text io kernels model learn train)
foreach(layer IN LISTS BERTLITE_EXPORTED_LAYERS)
  set_target_properties(bertlite_${layer} PROPERTIES EXPORT_NAME ${layer})
endforeach()
target_include_directories(bertlite_util PUBLIC
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  $<INSTALL_INTERFACE:${BERTLITE_INSTALL_INTERNAL}>)

add_library(bertlite_api INTERFACE)
target_link_libraries(bertlite_api INTERFACE bertlite_model bertlite_learn)
set_target_properties(bertlite_api PROPERTIES EXPORT_NAME bertlite)
# The same names inside this build, for a project that adds bertlite with add_subdirectory.
add_library(bertlite::bertlite ALIAS bertlite_api)
add_library(bertlite::train ALIAS bertlite_train)

list(TRANSFORM BERTLITE_EXPORTED_LAYERS PREPEND bertlite_ OUTPUT_VARIABLE BERTLITE_LAYER_TARGETS)
install(TARGETS ${BERTLITE_LAYER_TARGETS} bertlite_api
  EXPORT bertliteTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS bertlite RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/bertlite
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/
  DESTINATION ${BERTLITE_INSTALL_INTERNAL} FILES_MATCHING PATTERN "*.h")
install(EXPORT bertliteTargets NAMESPACE bertlite:: DESTINATION ${BERTLITE_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/bertliteConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/bertliteConfig.cmake
  INSTALL_DESTINATION ${BERTLITE_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/bertliteConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bertliteConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/bertliteConfigVersion.cmake
  DESTINATION ${BERTLITE_INSTALL_CMAKEDIR})
