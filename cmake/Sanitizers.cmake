# ASan + UBSan for the whole build (product, tests) when VMC_SANITIZE is on.
# UBSan aborts on the first report so that CI fails instead of printing.
if(VMC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
