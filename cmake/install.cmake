# install.cmake - what `make install` / `cmake --install` put where, and
# the Debian packages `make deb` builds from it (docs/install.md).
#
# Components, one Debian package each:
#   Runtime      lib/libgoc.so.N.M.P and its soname link       libgocN
#   Development  headers, libgoc.a, the libgoc.so link, goc.pc,
#                the CMake package (lib/cmake/goc)              libgoc-dev
#   Tools        bin/goc-* (the programs of tools/), man pages  goc-tools
# Every path is relative to the prefix (--prefix, PREFIX=), so one build
# installs anywhere; goc.pc and the CMake package find the prefix from
# their own location, so a DESTDIR-staged or moved tree works as well.
include(CMakePackageConfigHelpers)
set(GOC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/goc)
file(GLOB GOC_MAN_PAGES ${PROJECT_SOURCE_DIR}/docs/man/*.[1-8])

# First: which folders this install creates (make uninstall removes them).
set(_goc_dest_dirs ${CMAKE_INSTALL_INCLUDEDIR}/goc
  ${CMAKE_INSTALL_LIBDIR}/pkgconfig ${GOC_CMAKE_DIR})
if(GOC_TOP_LEVEL)
  # bin/ for the programs, libdir/goc for goc-loadgen's plugins (TLS, MPI)
  list(APPEND _goc_dest_dirs ${CMAKE_INSTALL_BINDIR} ${CMAKE_INSTALL_LIBDIR}/goc)
endif()
foreach(_goc_page IN LISTS GOC_MAN_PAGES)
  string(REGEX REPLACE ".*\\.([1-8])$" "\\1" _goc_section "${_goc_page}")
  list(APPEND _goc_dest_dirs ${CMAKE_INSTALL_MANDIR}/man${_goc_section})
endforeach()
install(CODE "set(GOC_DEST_DIRS \"${_goc_dest_dirs}\")
  set(GOC_DIRS_FILE \"${PROJECT_BINARY_DIR}/install_manifest_dirs.txt\")")
install(SCRIPT ${PROJECT_SOURCE_DIR}/cmake/install_dirs.cmake)

install(TARGETS goc_shared EXPORT gocSharedTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT Runtime NAMELINK_COMPONENT Development)
install(TARGETS goc EXPORT gocStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development)

# ldconfig after the shared library is in place, when it went to a folder
# the dynamic loader searches (cmake/ldconfig.cmake says when).
install(CODE "set(GOC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")" COMPONENT Runtime)
install(SCRIPT ${PROJECT_SOURCE_DIR}/cmake/ldconfig.cmake COMPONENT Runtime)

# goc.pc: the prefix is the .pc file's folder up as many levels as libdir
# plus pkgconfig has, so it holds wherever the tree lands. An absolute
# libdir or includedir (-DCMAKE_INSTALL_LIBDIR=/...) is written as such.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR
   IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(GOC_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(GOC_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(GOC_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  set(GOC_PC_PREFIX "\${pcfiledir}")
  string(REPLACE "/" ";" _goc_parts "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  foreach(_goc_part IN LISTS _goc_parts)
    if(NOT _goc_part STREQUAL "" AND NOT _goc_part STREQUAL ".")
      string(APPEND GOC_PC_PREFIX "/..")
    endif()
  endforeach()
  set(GOC_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(GOC_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/goc.pc.in
  ${PROJECT_BINARY_DIR}/goc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/goc.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT Development)

# The CMake package: gocConfig.cmake (cmake/gocConfig.cmake.in), its
# version file and one targets file per library.
foreach(_goc_kind IN ITEMS Shared Static)
  install(EXPORT goc${_goc_kind}Targets NAMESPACE goc::
    DESTINATION ${GOC_CMAKE_DIR} COMPONENT Development)
endforeach()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/gocConfig.cmake.in
  ${PROJECT_BINARY_DIR}/gocConfig.cmake INSTALL_DESTINATION ${GOC_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gocConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gocConfig.cmake
  ${PROJECT_BINARY_DIR}/gocConfigVersion.cmake
  DESTINATION ${GOC_CMAKE_DIR} COMPONENT Development)

# What the packages hold, built without the tests and examples:
# cmake --build BUILD --target goc_installables.
add_custom_target(goc_installables)
add_dependencies(goc_installables goc goc_shared)

if(NOT GOC_TOP_LEVEL)
  return()
endif()

# The programs of tools/, goc-loadgen's plugins (modules, in libdir/goc)
# and the man pages of docs/man/, if any. Installed from here, after
# install_dirs.cmake has recorded the folders they create.
if(EXISTS ${PROJECT_SOURCE_DIR}/tools/CMakeLists.txt)
  get_property(_goc_targets DIRECTORY ${PROJECT_SOURCE_DIR}/tools
    PROPERTY BUILDSYSTEM_TARGETS)
  foreach(_goc_target IN LISTS _goc_targets)
    get_target_property(_goc_type ${_goc_target} TYPE)
    if(_goc_type STREQUAL "EXECUTABLE")
      install(TARGETS ${_goc_target}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Tools)
      add_dependencies(goc_installables ${_goc_target})
    elseif(_goc_type STREQUAL "MODULE_LIBRARY")
      install(TARGETS ${_goc_target}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/goc COMPONENT Tools)
      add_dependencies(goc_installables ${_goc_target})
    endif()
  endforeach()
endif()
foreach(_goc_page IN LISTS GOC_MAN_PAGES)
  string(REGEX REPLACE ".*\\.([1-8])$" "\\1" _goc_section "${_goc_page}")
  install(FILES ${_goc_page}
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_goc_section} COMPONENT Tools)
endforeach()

# Debian packages (make deb: a build folder configured with
# CMAKE_INSTALL_PREFIX=/usr, then cpack -G DEB).
set(CPACK_PACKAGE_NAME goc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "goc maintainers")
set(CPACK_COMPONENTS_ALL Runtime Development Tools)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_POST_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/deb_ldconfig.cmake)
# Each description: the synopsis line, then the extended ones.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libgoc${GOC_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "Go's concurrency model in C - shared library
goc: goroutines on an M:N work-stealing scheduler, channels and select,
timers, goroutine-aware locks, sockets, processes and signals.
This package holds the shared library libgoc.so.${GOC_SOVERSION}.")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libgoc-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "libgoc${GOC_SOVERSION} (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION "Go's concurrency model in C - development files
The headers, the static library, goc.pc (pkg-config) and the CMake
package (find_package(goc)) for building programs on goc.")
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME goc-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "Go's concurrency model in C - load generator and calc server
goc-loadgen measures a service's latency at a held request rate (no
coordinated omission); goc-calcserver is the book's arithmetic server.")
include(CPack)
