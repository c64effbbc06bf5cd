/* `stsmail check DOMAIN`: a live MTA-STS report, as a strict sender would judge it. */
#ifndef STSM_STS_CHECK_H
#define STSM_STS_CHECK_H

#include "stsm_cli.h"

/**
 * Runs the check and prints one JSON report: the MX hosts, the TXT record, the policy and,
 * per MX host, the RFC 8461 verdict, the reading Exchange Online has been observed to apply
 * and each strict no-CNAME scope. Returns the process exit status, which follows the MX
 * lookup alone (0 once it answered); no verdict changes it.
 */
int stsm_check_run(const struct stsm_cli_check_args *args);

#endif /* STSM_STS_CHECK_H */
