# Warnings as an INTERFACE target that product and test code link, so that the
# flags live in one place. -Werror is on in CI (VMC_WERROR) and for developers
# who ask for it.
add_library(vmc_warnings INTERFACE)
target_compile_options(vmc_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                              -Wnon-virtual-dtor -Wcast-align -Wformat=2)
if(VMC_WERROR)
  target_compile_options(vmc_warnings INTERFACE -Werror)
endif()
