# Writes OUT, a header defining VMC_GIT_COMMIT: the commit the source tree
# SRC is at ("-dirty" when it has changes), the environment's VMC_GIT_COMMIT
# when it is not a git checkout (a source package says its own), or
# "unknown". Run at every build; OUT changes only when the commit does, so
# nothing is rebuilt for nothing.
set(commit "")
if(DEFINED ENV{VMC_GIT_COMMIT})
  set(commit "$ENV{VMC_GIT_COMMIT}")
else()
  find_package(Git QUIET)
  if(GIT_FOUND AND EXISTS "${SRC}/.git")
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SRC}" rev-parse --short=12 HEAD
                    OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE failed ERROR_QUIET)
    if(failed)
      set(commit "")
    else()
      execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SRC}" diff --quiet HEAD --
                      RESULT_VARIABLE dirty ERROR_QUIET)
      if(dirty)
        set(commit "${commit}-dirty")
      endif()
    endif()
  endif()
endif()
if(commit STREQUAL "")
  set(commit "unknown")
endif()
set(text "#define VMC_GIT_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
