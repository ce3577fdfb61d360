# Every dependency comes from a Debian package (see scripts/setup).
find_package(OpenSSL 3.0 REQUIRED)
find_package(CURL REQUIRED)
find_package(Boost REQUIRED COMPONENTS program_options)
find_package(Threads REQUIRED)

find_path(RAPIDJSON_INCLUDE_DIR rapidjson/document.h REQUIRED)
add_library(vmc_rapidjson INTERFACE)
target_include_directories(vmc_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIR})
# std::string overloads of RapidJSON, and the 64-bit sizes large lists need.
target_compile_definitions(vmc_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)

find_path(LMDB_INCLUDE_DIR lmdb.h REQUIRED)
find_library(LMDB_LIBRARY lmdb REQUIRED)
add_library(vmc_lmdb INTERFACE)
target_include_directories(vmc_lmdb SYSTEM INTERFACE ${LMDB_INCLUDE_DIR})
target_link_libraries(vmc_lmdb INTERFACE ${LMDB_LIBRARY})

if(VMC_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
