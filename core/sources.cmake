# Sources of the core proper (plugin host, grid engine, store, CLI commands).
target_sources(tedloc_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/version.cpp
)
