/* The Cortex-M platform contract this port implements (console, clocks, randomness, the
 * store areas, exit): the one of port/mps2-an385, whose board-independent half
 * (stsm_mps2_platform.c, stsm_mps2_clock.c, stsm_mps2_semihosting.c, stsm_startup.c,
 * stsm_mps2_console.c) this port builds as it is. */
#include "../../mps2-an385/include/stsm_mps2.h"
