/* `stsmail check DOMAIN`: a live MTA-STS report, as a strict sender would judge it. */
#ifndef STSM_STS_CHECK_H
#define STSM_STS_CHECK_H

#include "stsm_cli.h"

/** Runs the check and returns the process exit status. */
int stsm_check_run(const struct stsm_cli_check_args *args);

#endif /* STSM_STS_CHECK_H */
