/* `stsmail tls-probe`: one verified TLS session through lwIP, reported. */
#ifndef STSM_TLS_PROBE_H
#define STSM_TLS_PROBE_H

#include "stsm_cli.h"

/** Runs the probe and returns the process exit status. */
int stsm_tls_probe_run(const struct stsm_cli_tls_probe_args *args);

#endif /* STSM_TLS_PROBE_H */
