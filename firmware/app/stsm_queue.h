/*
 * The outbox commands of the host simulation: `stsmail enqueue` stores an alert (no
 * network needed), `stsmail queue list|flush|drop` inspect and steer what is stored, and
 * `stsmail run` works the outbox until SIGTERM. All share the store file named by
 * /outbox/store_file, taking turns under its lock.
 */
#ifndef STSM_QUEUE_H
#define STSM_QUEUE_H

#include "stsm_cli.h"

/** `stsmail enqueue`: 0 once the alert is stored, 75 when the outbox is full. */
int stsm_queue_enqueue(const struct stsm_cli_enqueue_args *args);

/** `stsmail queue list|flush|drop`: 0, or an exit status after saying why. */
int stsm_queue_command(const struct stsm_cli_queue_args *args);

/** `stsmail run`: delivers until SIGTERM, then ends the current transaction cleanly. */
int stsm_queue_run(const struct stsm_cli_run_args *args);

#endif /* STSM_QUEUE_H */
