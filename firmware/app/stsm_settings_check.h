/*
 * `stsmail settings check FILE`: validates a settings file offline, for vendors' build
 * pipelines, by exactly the rules the device applies when it boots (stsm_settings_parse):
 * JSON syntax, UTF-8, known keys given once, types, ranges and the rules between keys.
 *
 * It opens no network, no TAP and no file the settings name: those paths (trust store,
 * MTA-STS cache, outbox store) are paths on the device, which a build machine need not
 * have. Nor does it require what only some host commands need (/network/interface for the
 * networked commands, /tls/trust_store for TLS, /outbox/store_file for enqueue, queue, run):
 * the device needs none of them, and each command checks its own when it runs.
 */
#ifndef STSM_SETTINGS_CHECK_H
#define STSM_SETTINGS_CHECK_H

#include <stddef.h>

#include "stsm_cli.h"
#include "stsm_settings.h"

/**
 * Reads `path` and parses it into `settings`. Returns STSM_OK, or an error with one line
 * in `why`: "PATH: reason" when the file cannot be read (missing, unreadable, larger than
 * 64 KiB), "PATH: /json/path: what was wrong" when it is refused. The file's text (it may
 * hold the relay password) is wiped before this returns.
 */
stsm_status_t stsm_settings_check_file(const char *path, struct stsm_settings *settings, char *why,
                                       size_t why_len);

/** The command: prints "FILE: ok" on stdout and returns 0, or prints why on stderr and
 *  returns 78 (EX_CONFIG). */
int stsm_settings_check_run(const struct stsm_cli_settings_check_args *args);

#endif /* STSM_SETTINGS_CHECK_H */
