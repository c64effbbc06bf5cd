# lwIP, Mbed TLS and cJSON built from the Debian source packages unpacked in
# ${STSM_DEPS_DIR} by toolchain/fetch-deps.sh, never from the system's -dev packages.
#
# Each target supplies its configuration through an INTERFACE library named
# stsm_platform_config (include dirs holding lwipopts.h, arch/cc.h, and the
# MBEDTLS_CONFIG_FILE definition); every dependency links against it.

foreach(dep lwip mbedtls cjson)
  if(NOT IS_DIRECTORY "${STSM_DEPS_DIR}/${dep}")
    message(FATAL_ERROR "${dep} sources are missing in ${STSM_DEPS_DIR}: run toolchain/fetch-deps.sh")
  endif()
endforeach()

# Keep the exact versions next to what was built from them.
configure_file("${STSM_DEPS_DIR}/VERSIONS" "${CMAKE_BINARY_DIR}/deps-versions.txt" COPYONLY)
file(STRINGS "${STSM_DEPS_DIR}/VERSIONS" _stsm_dep_versions)
message(STATUS "stsmail dependencies: ${_stsm_dep_versions}")

function(stsm_add_dependencies)
  set(lwip_dir "${STSM_DEPS_DIR}/lwip")
  set(lwip_srcs)
  foreach(f
      core/init.c core/def.c core/dns.c core/inet_chksum.c core/ip.c core/mem.c core/memp.c
      core/netif.c core/pbuf.c core/raw.c core/stats.c core/sys.c core/tcp.c core/tcp_in.c
      core/tcp_out.c core/timeouts.c core/udp.c
      core/ipv4/acd.c core/ipv4/autoip.c core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c
      core/ipv4/igmp.c core/ipv4/ip4_frag.c core/ipv4/ip4.c core/ipv4/ip4_addr.c
      core/ipv6/dhcp6.c core/ipv6/ethip6.c core/ipv6/icmp6.c core/ipv6/inet6.c core/ipv6/ip6.c
      core/ipv6/ip6_addr.c core/ipv6/ip6_frag.c core/ipv6/mld6.c core/ipv6/nd6.c
      netif/ethernet.c apps/sntp/sntp.c)
    list(APPEND lwip_srcs "${lwip_dir}/src/${f}")
  endforeach()
  add_library(lwip STATIC ${lwip_srcs})
  target_include_directories(lwip SYSTEM PUBLIC "${lwip_dir}/src/include")
  target_link_libraries(lwip PUBLIC stsm_platform_config stsm_lwip_hooks)

  set(mbedtls_dir "${STSM_DEPS_DIR}/mbedtls")
  file(GLOB mbedtls_srcs CONFIGURE_DEPENDS "${mbedtls_dir}/library/*.c")
  add_library(mbedtls STATIC ${mbedtls_srcs})
  target_include_directories(mbedtls SYSTEM PUBLIC "${mbedtls_dir}/include"
                             PRIVATE "${mbedtls_dir}/library")
  target_link_libraries(mbedtls PUBLIC stsm_platform_config)

  set(cjson_dir "${STSM_DEPS_DIR}/cjson")
  add_library(cjson STATIC "${cjson_dir}/cJSON.c")
  target_include_directories(cjson SYSTEM PUBLIC "${cjson_dir}")
  target_link_libraries(cjson PUBLIC stsm_platform_config)
  # cJSON parses nested values by recursion (about 40 bytes of stack a level on Cortex-M3):
  # at its default of 1000 levels a settings file of brackets would run a device's stack
  # over. Our settings nest 4 deep.
  target_compile_definitions(cjson PUBLIC CJSON_NESTING_LIMIT=16)
endfunction()

# The production trust store: Debian's ca-certificates bundle as a blob for
# stsm_trust_store (toolchain/mktrust.py), rebuilt when the bundle changes.
function(stsm_add_trust_store)
  set(bundle /etc/ssl/certs/ca-certificates.crt)
  set(blob ${CMAKE_BINARY_DIR}/trust/ca-certificates.bin)
  add_custom_command(OUTPUT ${blob}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/trust
    COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/toolchain/mktrust.py ${blob} ${bundle}
    DEPENDS ${bundle} ${CMAKE_SOURCE_DIR}/toolchain/mktrust.py
    COMMENT "Trust store from ${bundle}")
  add_custom_target(trust_store ALL DEPENDS ${blob})
endfunction()
