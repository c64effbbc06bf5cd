/* `stsmail send`: deliver one message through lwIP as the settings say. */
#ifndef STSM_SEND_H
#define STSM_SEND_H

#include "stsm_cli.h"

/** Runs the delivery and returns the process exit status (see stsm_cli_usage). */
int stsm_send_run(const struct stsm_cli_send_args *args);

#endif /* STSM_SEND_H */
