# The installed CMake package: find_package(tedloc) gives tedloc::core and tedloc_add_plugin().
include(CMakePackageConfigHelpers)
set(TEDLOC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tedloc)
install(EXPORT tedlocTargets NAMESPACE tedloc:: DESTINATION ${TEDLOC_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tedlocConfig.cmake.in
  ${CMAKE_BINARY_DIR}/tedlocConfig.cmake INSTALL_DESTINATION ${TEDLOC_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/tedlocConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/tedlocConfig.cmake ${CMAKE_BINARY_DIR}/tedlocConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/TedlocPlugin.cmake DESTINATION ${TEDLOC_CMAKE_DIR})
