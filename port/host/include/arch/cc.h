/* lwIP compiler/platform glue for the host simulation (Linux, glibc). */
#ifndef STSM_HOST_ARCH_CC_H
#define STSM_HOST_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>
#include "stsm_port.h"

#define LWIP_PLATFORM_DIAG(x)   do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { fprintf(stderr, "lwIP assertion \"%s\" failed at %s:%d\n", \
                                             x, __FILE__, __LINE__); abort(); } while (0)
#define LWIP_RAND()             stsm_port_random_u32()

#endif /* STSM_HOST_ARCH_CC_H */
