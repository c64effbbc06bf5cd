#include "stsm_tcp_isn.h"

#include <stdbool.h>
#include <string.h>

#include "lwip/sys.h"
#include "mbedtls/sha256.h"
#include "stsm_port.h"

/* Appends an address's own bytes (no union padding, which is not initialised). */
static size_t put_address(uint8_t *out, const ip_addr_t *address)
{
#if LWIP_IPV6
    if (IP_IS_V6(address)) {
        memcpy(out, ip_2_ip6(address)->addr, 16);
        return 16;
    }
#endif
    memcpy(out, &ip_2_ip4(address)->addr, 4);
    return 4;
}

u32_t stsm_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                   u16_t remote_port)
{
    static uint32_t key[4];
    static bool keyed;
    if (!keyed) {
        for (int i = 0; i < 4; i++) {
            key[i] = stsm_port_random_u32();
        }
        keyed = true;
    }

    uint8_t input[sizeof key + 16 + 16 + 4];
    size_t n = 0;
    memcpy(input, key, sizeof key);
    n += sizeof key;
    n += put_address(input + n, local_ip);
    n += put_address(input + n, remote_ip);
    input[n++] = (uint8_t)(local_port >> 8);
    input[n++] = (uint8_t)local_port;
    input[n++] = (uint8_t)(remote_port >> 8);
    input[n++] = (uint8_t)remote_port;

    uint8_t digest[32];
    mbedtls_sha256(input, n, digest, 0);
    u32_t hash = ((u32_t)digest[0] << 24) | ((u32_t)digest[1] << 16) | ((u32_t)digest[2] << 8) |
                 digest[3];
    /* sys_now() counts milliseconds: 250 ticks of 4 us each. */
    return hash + sys_now() * 250u;
}
