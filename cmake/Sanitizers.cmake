# ASan + UBSan for the whole build (product, tests) when VMC_SANITIZE is on.
# UBSan aborts on the first report so that CI fails instead of printing.
if(VMC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer targets (test/fuzz): every library is instrumented for coverage
# (fuzzer-no-link: the fuzz targets link libFuzzer itself) and runs under
# ASan+UBSan, so that a report anywhere in a reader is a finding.
# RapidJSON keeps flags in the top 16 bits of its string pointers (48-bit
# pointer optimization), which LeakSanitizer cannot follow: the strings of
# the schemas compiled once per process would look leaked at libFuzzer's
# leak checks. Plain pointers keep those checks exact. The ignorelist names
# the one UBSan report in RapidJSON 1.1.0's own code that clang would raise.
if(VMC_BUILD_FUZZERS)
  add_compile_definitions(RAPIDJSON_48BITPOINTER_OPTIMIZATION=0)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer
                      -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/test/fuzz/ubsan-ignorelist.txt)
  add_link_options(-fsanitize=address,undefined)
endif()
