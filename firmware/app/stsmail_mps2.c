/* stsmail firmware for mps2-an385: boot, report the build on the console, exit. */
#include "cJSON.h"
#include "lwip/init.h"
#include "mbedtls/version.h"
#include "stsm_mps2.h"

#define STRINGIFY(x) #x
#define VERSION3(a, b, c) STRINGIFY(a) "." STRINGIFY(b) "." STRINGIFY(c)

int main(void)
{
    stsm_mps2_console_init();
    stsm_mps2_console_puts("stsmail " STSM_VERSION " on mps2-an385: booted (lwIP "
                           LWIP_VERSION_STRING ", Mbed TLS " MBEDTLS_VERSION_STRING ", cJSON "
                           VERSION3(CJSON_VERSION_MAJOR, CJSON_VERSION_MINOR,
                                    CJSON_VERSION_PATCH) ")\n");
    return 0;
}
