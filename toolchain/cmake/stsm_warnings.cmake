# Strict warnings for our own code only; the dependencies build with their own defaults.
function(stsm_strict_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wundef)
endfunction()
