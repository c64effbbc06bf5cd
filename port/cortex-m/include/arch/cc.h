/* lwIP compiler/platform glue for the Cortex-M firmware (newlib, bare metal). */
#ifndef STSM_CORTEXM_ARCH_CC_H
#define STSM_CORTEXM_ARCH_CC_H

#include <stdlib.h>
#include "stsm_mcu.h"
#include "stsm_port.h"

/* lwIP's diagnostics go to the console UART; an assertion is a firmware bug and stops
 * the device with the fault status. */

#define LWIP_PLATFORM_DIAG(x)   do { stsm_mcu_diagf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) stsm_mcu_assert_failed(x, __FILE__, __LINE__)
#define LWIP_RAND()             stsm_port_random_u32()

#endif /* STSM_CORTEXM_ARCH_CC_H */
