# tedloc_add_plugin(NAME SOURCES a.cpp ... [OUTPUT_DIR DIR] [LIBS ...]): one plugin library, libtedloc_NAME.so,
# in the build tree's plugin folder and installed into the plugin folder the host scans. The same function
# serves the workbench's own plugins and a user's out-of-tree ones (after find_package(tedloc)).
function(tedloc_add_plugin name)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBS" ${ARGN})
  set(target tedloc_plugin_${name})
  add_library(${target} MODULE ${P_SOURCES})
  target_link_libraries(${target} PRIVATE tedloc::core ${P_LIBS})
  if(TARGET tedloc_torch_pch)
    target_precompile_headers(${target} REUSE_FROM tedloc_torch_pch)
  endif()
  if(NOT TEDLOC_PLUGIN_BUILD_DIR)
    set(TEDLOC_PLUGIN_BUILD_DIR ${CMAKE_BINARY_DIR}/plugins)
  endif()
  if(NOT TEDLOC_PLUGIN_INSTALL_DIR)
    set(TEDLOC_PLUGIN_INSTALL_DIR lib/tedloc/plugins)
  endif()
  if(NOT P_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${TEDLOC_PLUGIN_BUILD_DIR})
    install(TARGETS ${target} LIBRARY DESTINATION ${TEDLOC_PLUGIN_INSTALL_DIR})
  endif()
  set_target_properties(${target} PROPERTIES PREFIX "lib" OUTPUT_NAME tedloc_${name}
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR} INSTALL_RPATH "$ORIGIN/../..")
endfunction()
