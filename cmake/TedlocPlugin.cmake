# tedloc_add_plugin(NAME SOURCES a.cpp ... [OUTPUT_DIR DIR] [LIBS ...]): one plugin library,
# libtedloc_NAME.so, in the build tree's plugin folder (scanned by default) and installed beside the core.
function(tedloc_add_plugin name)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBS" ${ARGN})
  set(target tedloc_plugin_${name})
  add_library(${target} MODULE ${P_SOURCES})
  target_link_libraries(${target} PRIVATE tedloc_core ${P_LIBS})
  target_precompile_headers(${target} REUSE_FROM tedloc_torch_pch)
  if(NOT P_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${TEDLOC_PLUGIN_BUILD_DIR})
    install(TARGETS ${target} LIBRARY DESTINATION ${TEDLOC_PLUGIN_INSTALL_DIR})
  endif()
  set_target_properties(${target} PROPERTIES PREFIX "lib" OUTPUT_NAME tedloc_${name}
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR})
endfunction()
