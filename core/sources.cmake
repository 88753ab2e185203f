# Sources of the core proper: plugin host, grid engine, store, built-in tasks.
target_sources(tedloc_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/version.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/params.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/util.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/host.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/spec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/engine.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/device.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/tasks.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/commands.cpp
  ${PROJECT_SOURCE_DIR}/db/store.cpp
)
# These do not include torch: skip its precompiled header (faster, and keeps them honest).
set_source_files_properties(
  ${CMAKE_CURRENT_LIST_DIR}/src/version.cpp ${CMAKE_CURRENT_LIST_DIR}/src/params.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/util.cpp ${CMAKE_CURRENT_LIST_DIR}/src/spec.cpp
  ${PROJECT_SOURCE_DIR}/db/store.cpp
  TARGET_DIRECTORY tedloc_core PROPERTIES SKIP_PRECOMPILE_HEADERS ON)

# The store's migrations, embedded in order (db/migrations/NNN_*.sql).
file(GLOB migration_files ${PROJECT_SOURCE_DIR}/db/migrations/*.sql)
list(SORT migration_files)
set(migrations_inc "")
foreach(migration ${migration_files})
  file(READ ${migration} sql)
  string(APPEND migrations_inc "R\"tedloc_sql(${sql})tedloc_sql\",\n")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${migration})
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/generated/tedloc_migrations.inc.tmp "${migrations_inc}")
configure_file(${CMAKE_BINARY_DIR}/generated/tedloc_migrations.inc.tmp
  ${CMAKE_BINARY_DIR}/generated/tedloc_migrations.inc COPYONLY)
target_include_directories(tedloc_core PRIVATE ${CMAKE_BINARY_DIR}/generated)

# The revision recorded with every run (as of configure time; "-dirty" for uncommitted changes).
execute_process(COMMAND git describe --always --dirty --abbrev=12
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE tedloc_git_revision
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT tedloc_git_revision)
  set(tedloc_git_revision unknown)
endif()
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/src/engine.cpp TARGET_DIRECTORY tedloc_core
  PROPERTIES COMPILE_DEFINITIONS TEDLOC_GIT_REVISION="${tedloc_git_revision}")
target_link_libraries(tedloc_core PRIVATE Boost::program_options)
