/*
 * The boot steps every Cortex-M image takes before its own work (stsmail_mcu.c, the full
 * app; stsmail_bringup.c, a board's bring-up): console and clock, the banner, the
 * provisioned settings, the random generator, lwIP on the board's Ethernet controller
 * (DHCP or static), the wall clock from SNTP. Each returns 0 or the exit status the image
 * stops with (sysexits.h values, as the host's stsmail uses).
 */
#ifndef STSM_MCU_BOOT_H
#define STSM_MCU_BOOT_H

#include "stsm_mcu_text.h"   /* stsm_mcu_say() */
#include "stsm_settings.h"
#include "stsm_tls.h"

#define STSM_MCU_EXIT_UNAVAILABLE 69
#define STSM_MCU_EXIT_OSERR 71
#define STSM_MCU_EXIT_TEMPFAIL 75
#define STSM_MCU_EXIT_CONFIG 78
/** stsm_mcu_start(): no settings provisioned, the image has nothing to do (exit 0). */
#define STSM_MCU_NOTHING_TO_DO (-1)

/**
 * The boot sequence of every image, up to the wall clock: starts console and clock, prints
 * the banner, parses the provisioned settings into `settings`, seeds the random generator
 * (which stores the next boot's seed), brings lwIP up on the board's interface as the
 * settings' network says (waiting at most 30 s for the DHCP lease; sets the DNS servers),
 * then waits (at most 30 s) for SNTP to set a believable wall clock, which certificate
 * checks need, and stores the clock floor when it has moved on. Returns 0,
 * STSM_MCU_NOTHING_TO_DO, or the exit status of the step that failed (said on the console).
 */
int stsm_mcu_start(struct stsm_settings *settings);

/** Opens the provisioned trust store and sets `tls` up with it (stsm_tls_init). Without a
 *  valid trust store nothing that needs certificate checks may run: STSM_MCU_EXIT_CONFIG. */
int stsm_mcu_tls_up(struct stsm_tls *tls);

/** One turn of the main loop: received frames into lwIP, lwIP's timers that are due. */
void stsm_mcu_poll(void);

/** Prints the run-time half of the footprint as `footprint:` lines (texts like the others:
 *  tests/bench/footprint.sh and tests/qemu/footprint_check.sh read them decoded): the TLS
 *  arena's peak, lwIP's heap and each pool, their peaks and failed allocations
 *  (lwip_errors), the settings parse's cJSON arena, the painted stack's high-water mark
 *  and its reserve. */
void stsm_mcu_report_footprint(void);

#endif /* STSM_MCU_BOOT_H */
