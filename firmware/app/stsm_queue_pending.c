/*
 * TEMPORARY stand-ins for the outbox commands (firmware/app/stsm_queue.h), so that the
 * host binary links while their implementation (stsm_queue.c) is being written. Each
 * says so and exits 70 (EX_SOFTWARE). Delete this file, and its line in CMakeLists.txt,
 * when stsm_queue.c is built.
 */
#include <stdio.h>

#include "stsm_queue.h"

#define EXIT_NOT_BUILT 70

int stsm_queue_enqueue(const struct stsm_cli_enqueue_args *args)
{
    (void)args;
    fprintf(stderr, "stsmail: enqueue: not built yet\n");
    return EXIT_NOT_BUILT;
}

int stsm_queue_command(const struct stsm_cli_queue_args *args)
{
    (void)args;
    fprintf(stderr, "stsmail: queue: not built yet\n");
    return EXIT_NOT_BUILT;
}

int stsm_queue_run(const struct stsm_cli_run_args *args)
{
    (void)args;
    fprintf(stderr, "stsmail: run: not built yet\n");
    return EXIT_NOT_BUILT;
}
