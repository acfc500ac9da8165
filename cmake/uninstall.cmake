# uninstall.cmake - remove what the last install put in place:
#   cmake -DGOC_MANIFEST=BUILD/install_manifest.txt -P cmake/uninstall.cmake
# (make uninstall; DESTDIR as for the install). Removes each file the
# manifest lists (under $DESTDIR), then the folders of goc's own
# (include/goc, lib/cmake/goc) and those the install created
# (install_manifest_dirs.txt), each once it is empty; nothing else. Runs
# ldconfig when the shared library left a folder the loader searches.
if(NOT GOC_MANIFEST OR NOT EXISTS "${GOC_MANIFEST}")
  message(FATAL_ERROR "goc: no install manifest (${GOC_MANIFEST}): "
    "nothing was installed from this build folder")
endif()
file(STRINGS "${GOC_MANIFEST}" _goc_files)
set(_goc_dirs "")
set(GOC_LIBDIR "")
foreach(_goc_file IN LISTS _goc_files)
  set(_goc_file "$ENV{DESTDIR}${_goc_file}")
  if(EXISTS "${_goc_file}" OR IS_SYMLINK "${_goc_file}")
    message(STATUS "Removing ${_goc_file}")
    file(REMOVE "${_goc_file}")
  endif()
  get_filename_component(_goc_dir "${_goc_file}" DIRECTORY)
  get_filename_component(_goc_name "${_goc_dir}" NAME)
  if(_goc_name STREQUAL "goc")
    list(APPEND _goc_dirs "${_goc_dir}")
  endif()
  if(_goc_file MATCHES "/libgoc\\.so\\.[0-9]+$")
    set(GOC_LIBDIR "${_goc_dir}")
  endif()
endforeach()
# And the folders the install created (cmake/install_dirs.cmake), deepest
# first.
get_filename_component(_goc_mdir "${GOC_MANIFEST}" DIRECTORY)
if(EXISTS "${_goc_mdir}/install_manifest_dirs.txt")
  file(STRINGS "${_goc_mdir}/install_manifest_dirs.txt" _goc_created)
  list(REVERSE _goc_created)
  list(APPEND _goc_dirs ${_goc_created})
endif()
list(REMOVE_DUPLICATES _goc_dirs)
foreach(_goc_dir IN LISTS _goc_dirs)
  if(IS_DIRECTORY "${_goc_dir}")
    # rmdir: removes the folder only when empty.
    execute_process(COMMAND rmdir "${_goc_dir}" RESULT_VARIABLE _goc_rc
      OUTPUT_QUIET ERROR_QUIET)
    if(_goc_rc EQUAL 0)
      message(STATUS "Removing ${_goc_dir}/")
    endif()
  endif()
endforeach()
if(GOC_LIBDIR)
  set(CMAKE_INSTALL_PREFIX "/")
  set(GOC_UNINSTALL ON)
  include(${CMAKE_CURRENT_LIST_DIR}/ldconfig.cmake)
endif()
