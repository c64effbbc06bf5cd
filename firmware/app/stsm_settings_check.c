#include "stsm_settings_check.h"

#include <stdio.h>

#include "mbedtls/platform_util.h"
#include "stsm_app.h"

stsm_status_t stsm_settings_check_file(const char *path, struct stsm_settings *settings, char *why,
                                       size_t why_len)
{
    static char text[64 * 1024];
    char detail[300];
    size_t len = 0;
    stsm_status_t st = stsm_app_read_file(path, text, sizeof text, &len, why, why_len);
    if (st == STSM_OK) {
        st = stsm_settings_parse(text, len, settings, detail, sizeof detail);
        if (st != STSM_OK) {
            snprintf(why, why_len, "%s: %s", path, detail);
        }
    }
    /* All of it: a refused or failed read may have filled more than `len`. */
    mbedtls_platform_zeroize(text, sizeof text);
    return st;
}

int stsm_settings_check_run(const struct stsm_cli_settings_check_args *args)
{
    static struct stsm_settings settings;
    char why[600];
    stsm_status_t st = stsm_settings_check_file(args->file, &settings, why, sizeof why);
    mbedtls_platform_zeroize(&settings, sizeof settings);   /* nothing of it is used */
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n", why);
        return EXIT_CONFIG;
    }
    printf("%s: ok\n", args->file);
    return 0;
}
