/* lwIP's compiler/platform glue: the same on every Cortex-M board (newlib, bare metal). */
#include "../../../mps2-an385/include/arch/cc.h"
