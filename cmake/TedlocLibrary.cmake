# tedloc_add_library(NAME [TORCH] SOURCES a.cpp ... [PUBLIC deps...] [PRIVATE deps...]): the folder's library,
# libtedloc_NAME.so in <build>/lib, target tedloc_NAME (alias and export tedloc::NAME). Its headers are the
# folder's include/ (tedloc/...). Links are explicit, so that including a header of a library it does not
# link fails to build: a lower layer cannot reach a higher one. TORCH links LibTorch and reuses its
# precompiled header; without it the library is built and linked without LibTorch.
function(tedloc_add_library name)
  cmake_parse_arguments(L "TORCH" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  set(target tedloc_${name})
  add_library(${target} SHARED ${L_SOURCES})
  add_library(tedloc::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES OUTPUT_NAME tedloc_${name} EXPORT_NAME ${name}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib INSTALL_RPATH "$ORIGIN")  # installed side by side
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_include_directories(${target} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
  target_link_libraries(${target} PUBLIC ${L_PUBLIC} PRIVATE ${L_PRIVATE})
  if(L_TORCH)
    target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
    target_precompile_headers(${target} REUSE_FROM tedloc_torch_pch)
  endif()
  install(TARGETS ${target} EXPORT tedlocTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
