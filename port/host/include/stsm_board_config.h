/*
 * Capacity overrides of the host simulation (see firmware/core/stsm_config.h, which
 * includes this first). The host keeps every default: it is where the full limits are
 * exercised by the tests and the lab.
 */
#ifndef STSM_BOARD_CONFIG_H
#define STSM_BOARD_CONFIG_H

#endif /* STSM_BOARD_CONFIG_H */
