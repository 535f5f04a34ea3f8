# Installation: the public headers, the libraries, the CMake package (lfConfig.cmake,
# lfConfigVersion.cmake, lfTargets.cmake with lf::framework, lf::handlers and, when CLI11 was
# found, lf::app) and lf.pc.
# A header is public when its first line says "// Public"; an internal header is installed only
# when a public one includes it (it is needed to compile, not part of the API).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Header paths relative to `root` (framework/ or handlers/). Headers there are #included as
# `prefix` + that path ("lf/net/socket.h" from framework/, "lf/handlers/http/..." from handlers/).
function(lf_headers_to_install root prefix out_var)
  file(GLOB_RECURSE all RELATIVE ${root} CONFIGURE_DEPENDS ${root}/*.h)
  set(selected "")
  foreach(header IN LISTS all)
    file(STRINGS ${root}/${header} first LIMIT_COUNT 1)
    if(first MATCHES "^// Public")
      list(APPEND selected ${header})
    endif()
  endforeach()
  # Internal headers that public ones include, transitively.
  string(LENGTH "${prefix}" prefix_length)
  set(queue ${selected})
  while(queue)
    list(POP_FRONT queue header)
    file(STRINGS ${root}/${header} includes REGEX "^#include \"[^\"]+\"")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" included "${line}")
      if(prefix_length GREATER 0)
        string(FIND "${included}" "${prefix}" at)
        if(NOT at EQUAL 0)
          continue()
        endif()
        string(SUBSTRING "${included}" ${prefix_length} -1 included)
      endif()
      if(EXISTS ${root}/${included} AND NOT included IN_LIST selected)
        list(APPEND selected ${included})
        list(APPEND queue ${included})
      endif()
    endforeach()
  endwhile()
  set(${out_var} ${selected} PARENT_SCOPE)
endfunction()

lf_headers_to_install(${PROJECT_SOURCE_DIR}/framework "" lf_framework_headers)
foreach(header IN LISTS lf_framework_headers)
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES framework/${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir})
endforeach()
lf_headers_to_install(${PROJECT_SOURCE_DIR}/handlers "lf/handlers/" lf_handler_headers)
foreach(header IN LISTS lf_handler_headers)
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES handlers/${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lf/handlers/${dir})
endforeach()

set(lf_installed_targets lf_framework lf_handlers)
if(LF_HAVE_APP)
  list(APPEND lf_installed_targets lf_app)
endif()
install(TARGETS ${lf_installed_targets} EXPORT lfTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT lfTargets NAMESPACE lf:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lf)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lfConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/lfConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lf)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lfConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lfConfig.cmake ${PROJECT_BINARY_DIR}/lfConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lf)

# lf.pc: its prefix is the one given at install time (cmake --install DIR --prefix P).
set(LF_PC_PREFIX "@LF_PC_PREFIX@")  # kept by configure_file, replaced at install time
set(LF_PC_APP_LIB "")
if(LF_HAVE_APP)
  set(LF_PC_APP_LIB "-llf_app ")  # lf::app's flags; CLI11 is header-only
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/lf.pc.in ${PROJECT_BINARY_DIR}/lf.pc.in @ONLY)
install(CODE "
  file(READ \"${PROJECT_BINARY_DIR}/lf.pc.in\" pc)
  string(REPLACE \"@LF_PC_PREFIX@\" \"\${CMAKE_INSTALL_PREFIX}\" pc \"\${pc}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/lf.pc\" \"\${pc}\")
")
install(FILES ${PROJECT_BINARY_DIR}/lf.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
