/* Offline MTA-STS commands: `policy parse`, `policy match`, `txt parse`. */
#ifndef STSM_STS_CLI_H
#define STSM_STS_CLI_H

#include "stsm_cli.h"

/** Runs one of the commands and returns the process exit status. */
int stsm_sts_cli_run(const struct stsm_cli *cli);

#endif /* STSM_STS_CLI_H */
