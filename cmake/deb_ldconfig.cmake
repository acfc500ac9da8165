# deb_ldconfig.cmake - CPack post-build script (CPACK_POST_BUILD_SCRIPTS)
# for `make deb`: the shared library's package gets Debian's ldconfig
# trigger instead of CPack's postinst/postrm scripts.
#
# Why: CPack runs ldconfig from maintainer scripts, and a package with a
# postrm stays known to dpkg after `apt-get remove` (state "rc", until a
# purge). Debian's libraries declare "activate-noawait ldconfig" in
# DEBIAN/triggers instead (what dh_makeshlibs writes): dpkg runs ldconfig
# once after the whole transaction, and removal leaves nothing behind.
# The package's files, md5sums and other control fields are unchanged.
find_program(GOC_DPKG_DEB dpkg-deb)
if(NOT GOC_DPKG_DEB)
  return()
endif()
foreach(_goc_deb IN LISTS CPACK_PACKAGE_FILES)
  get_filename_component(_goc_name "${_goc_deb}" NAME)
  if(NOT _goc_name MATCHES "^libgoc[0-9]+_.*\\.deb$")
    continue()
  endif()
  set(_goc_tree "${CPACK_TOPLEVEL_DIRECTORY}/goc-ldconfig-trigger")
  file(REMOVE_RECURSE "${_goc_tree}")
  execute_process(COMMAND ${GOC_DPKG_DEB} -R "${_goc_deb}" "${_goc_tree}"
    RESULT_VARIABLE _goc_rc)
  if(NOT _goc_rc EQUAL 0)
    message(FATAL_ERROR "goc: dpkg-deb -R ${_goc_deb} failed")
  endif()
  file(REMOVE "${_goc_tree}/DEBIAN/postinst" "${_goc_tree}/DEBIAN/postrm")
  file(WRITE "${_goc_tree}/DEBIAN/triggers" "activate-noawait ldconfig\n")
  execute_process(COMMAND ${GOC_DPKG_DEB} --root-owner-group -b
    "${_goc_tree}" "${_goc_deb}" OUTPUT_QUIET RESULT_VARIABLE _goc_rc)
  if(NOT _goc_rc EQUAL 0)
    message(FATAL_ERROR "goc: dpkg-deb -b ${_goc_deb} failed")
  endif()
  file(REMOVE_RECURSE "${_goc_tree}")
  message(STATUS "goc: ${_goc_name}: ldconfig trigger")
endforeach()
