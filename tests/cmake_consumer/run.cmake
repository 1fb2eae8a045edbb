# cmake_package_test (tests/CMakeLists.txt): installs the build into a fresh prefix, then
# configures, builds and runs tests/cmake_consumer against it with only CMAKE_PREFIX_PATH, as a
# user's project would. Arguments: -DBUILD_DIR= -DSOURCE_DIR= -DWORK= -DMODEL= -DGENERATOR=
file(REMOVE_RECURSE "${WORK}")
set(prefix "${WORK}/prefix")

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "failed (${code}): ${ARGV}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(file include/bertlite/bertlite.h include/bertlite/encoder.h include/bertlite/features.h
             include/bertlite/classifier.h include/bertlite/trainer.h
             include/bertlite/internal/model/features.h lib/cmake/bertlite/bertliteConfig.cmake
             bin/bertlite)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "the install has no ${file}")
  endif()
endforeach()

set(generator_args)
if(GENERATOR)
  set(generator_args -G "${GENERATOR}")
endif()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/cmake_consumer" -B "${WORK}/build" ${generator_args}
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
run(${CMAKE_COMMAND} --build "${WORK}/build")
run("${WORK}/build/consumer" "${MODEL}" "${WORK}")
message("${out}")
foreach(expected "tokens: 101 1037 17453 14726 19379 12758 2006 2293 102"
                 "features: 4 x 384" "train accuracy: 1.00"
                 "reloaded classifier predicts the same: yes")
  string(FIND "${out}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the consumer did not print \"${expected}\"")
  endif()
endforeach()
