# What `cmake --install` installs besides the two tools, and what the Debian
# packages (debian/*.install) take from it: man pages, bash completion, the
# systemd units, the config and policy a site edits, the example event
# handlers and the README.
include(GNUInstallDirs)

set(VMC_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "where the systemd units are installed (relative to the prefix, or absolute; Debian 12: /lib/systemd/system)")
set(VMC_SITE_DIR ${CMAKE_BINARY_DIR}/site)

# The site files in examples/ name the packages' paths (/usr/bin/catcher,
# /etc/catcher/, /usr/libexec/catcher/, /usr/share/doc/catcher/), so that
# they read as what a site runs; under another prefix their copies name that
# prefix's paths instead.
function(vmc_site_file source)
  set(input ${PROJECT_SOURCE_DIR}/${source})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${input})
  file(READ ${input} text)
  string(REPLACE "/usr/bin/catcher" "${CMAKE_INSTALL_FULL_BINDIR}/catcher" text "${text}")
  string(REPLACE "/etc/catcher/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/catcher/" text "${text}")
  string(REPLACE "/usr/libexec/catcher/" "${CMAKE_INSTALL_FULL_LIBEXECDIR}/catcher/" text "${text}")
  string(REPLACE "/usr/share/doc/catcher/" "${CMAKE_INSTALL_FULL_DATAROOTDIR}/doc/catcher/" text "${text}")
  get_filename_component(name ${source} NAME)
  # file(CONFIGURE) writes only when the text changed; @ONLY and no @ in the
  # site files keep their text as it is.
  file(CONFIGURE OUTPUT ${VMC_SITE_DIR}/${name} CONTENT "${text}" @ONLY)
endfunction()

foreach(unit catcher.service catcher-once.service catcher.timer)
  vmc_site_file(examples/systemd/${unit})
  install(FILES ${VMC_SITE_DIR}/${unit} DESTINATION ${VMC_SYSTEMD_UNITDIR})
endforeach()

# The config and the policy are the admin's once installed: a second
# `cmake --install` leaves an edited copy alone (the Debian packages make
# them conffiles, which dpkg treats the same way). file(INSTALL) adds
# DESTDIR itself. Like the units, they name the paths of the prefix the
# build was configured with (CMAKE_INSTALL_PREFIX), not of --prefix.
set(VMC_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/catcher)
foreach(file catcher.conf policy.json)
  vmc_site_file(examples/${file})
  install(CODE "
    if(EXISTS \"\$ENV{DESTDIR}${VMC_CONFIG_DIR}/${file}\")
      message(STATUS \"Kept (the admin's): \$ENV{DESTDIR}${VMC_CONFIG_DIR}/${file}\")
    else()
      file(INSTALL \"${VMC_SITE_DIR}/${file}\" DESTINATION \"${VMC_CONFIG_DIR}\"
           FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()")
endforeach()

install(PROGRAMS examples/handlers/import-to-directory examples/handlers/print-event
        DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/catcher)

foreach(tool caster catcher)
  install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${tool})
  # Bash completion, one script for both tools (bash-completion loads it by
  # the command's name).
  install(FILES examples/bash-completion/vmc.bash
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME ${tool})
endforeach()

# Man pages, generated at every build (scripts/manpage) from what they
# describe, so that they cannot drift from it: the tools' own --help, the
# config file a site gets, and the policy's JSON Schema, which catcher
# validates every policy with.
find_program(VMC_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)
set(VMC_MANPAGE ${PROJECT_SOURCE_DIR}/scripts/manpage)
set(VMC_MANPAGES)
# vmc_manpage(PAGE SECTION ARGS scripts/manpage's arguments... FROM what it reads...)
function(vmc_manpage page section)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "ARGS;FROM")
  set(out ${CMAKE_BINARY_DIR}/man/${page}.${section})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${VMC_PYTHON3} ${VMC_MANPAGE} ${arg_ARGS} > ${out}
    DEPENDS ${VMC_MANPAGE} ${arg_FROM}
    COMMENT "Writing the man page ${page}(${section})")
  set(VMC_MANPAGES ${VMC_MANPAGES} ${out} PARENT_SCOPE)
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endfunction()
foreach(page caster:1 catcher:8)
  string(REPLACE ":" ";" parts ${page})
  list(GET parts 0 tool)
  list(GET parts 1 section)
  vmc_manpage(${tool} ${section} ARGS tool $<TARGET_FILE:${tool}> ${section} FROM ${tool})
endforeach()
vmc_manpage(catcher.conf 5 ARGS config ${VMC_SITE_DIR}/catcher.conf ${PROJECT_VERSION}
            FROM ${VMC_SITE_DIR}/catcher.conf)
set(policy_schema ${PROJECT_SOURCE_DIR}/schemas/policy.schema.json)
vmc_manpage(catcher-policy 5 ARGS policy ${policy_schema} ${VMC_SITE_DIR}/policy.json ${PROJECT_VERSION}
            FROM ${policy_schema} ${VMC_SITE_DIR}/policy.json)
add_custom_target(manpages ALL DEPENDS ${VMC_MANPAGES})
