# Every dependency comes from Debian's packages (scripts/setup.sh installs them).
find_package(Torch REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
find_package(libjpeg-turbo CONFIG QUIET)

# Torch's CMake config puts its flags in TORCH_CXX_FLAGS (the C++11 ABI define); keep them global.
set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")

# One precompiled header for torch, built once and reused by every target that includes torch.
# Few translation units include torch at all; those that do pay ~1 s instead of ~25 s.
add_library(tedloc_torch_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch_anchor.cpp)
target_link_libraries(tedloc_torch_pch PUBLIC ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json fmt::fmt)
target_precompile_headers(tedloc_torch_pch PUBLIC
  <torch/torch.h> <nlohmann/json.hpp> <fmt/format.h> <string> <vector> <memory>)

# Links torch into TARGET and reuses the shared precompiled header.
function(tedloc_use_torch target)
  target_link_libraries(${target} PRIVATE ${TORCH_LIBRARIES})
  target_precompile_headers(${target} REUSE_FROM tedloc_torch_pch)
endfunction()

# Executables are built as PIC (not PIE) so that they can reuse the same precompiled header.
function(tedloc_torch_exe target)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_compile_options(${target} PRIVATE -fPIC)
  target_precompile_headers(${target} REUSE_FROM tedloc_torch_pch)
endfunction()
