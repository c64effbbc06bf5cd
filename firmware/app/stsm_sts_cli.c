#include "stsm_sts_cli.h"

#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "stsm_app.h"
#include "stsm_mta_sts.h"

static int print_json(cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (text == NULL) {
        return EXIT_OSERR;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

/* Reads and parses a policy file; prints FILE:LINE: reason on failure. */
static int load_policy(const char *path, struct stsm_sts_policy *policy)
{
    static char body[STSM_STS_POLICY_MAX];
    char why[300];
    size_t len, line;
    const char *reason;
    stsm_status_t st = stsm_app_read_file(path, body, sizeof body, &len, why, sizeof why);
    if (st != STSM_OK) {
        fprintf(stderr, "stsmail: %s\n", why);
        return st == STSM_ERR_CAPACITY ? EXIT_DATAERR : EXIT_NOINPUT;
    }
    if (stsm_sts_policy_parse((const uint8_t *)body, len, policy, &line, &reason) != STSM_OK) {
        printf("%s:%u: %s\n", path, (unsigned)line, reason);
        return EXIT_DATAERR;
    }
    return 0;
}

int stsm_sts_cli_run(const struct stsm_cli *cli)
{
    static struct stsm_sts_policy policy;
    int rc;
    switch (cli->command) {
    case STSM_CLI_POLICY_PARSE: {
        if ((rc = load_policy(cli->sts.file, &policy)) != 0) {
            return rc;
        }
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "version", "STSv1");
        cJSON_AddStringToObject(obj, "mode", stsm_sts_mode_str(policy.mode));
        cJSON_AddNumberToObject(obj, "max_age", policy.max_age);
        cJSON *mx = cJSON_AddArrayToObject(obj, "mx");
        for (const char *m = stsm_sts_policy_mx_first(&policy); m != NULL; m = stsm_sts_policy_mx_next(&policy, m)) {
            cJSON_AddItemToArray(mx, cJSON_CreateString(m));
        }
        if (policy.max_age_clamped) {
            cJSON_AddBoolToObject(obj, "max_age_clamped", true);
        }
        return print_json(obj);
    }
    case STSM_CLI_POLICY_MATCH:
        if ((rc = load_policy(cli->sts.file, &policy)) != 0) {
            return rc;
        }
        return stsm_sts_policy_matches(&policy, cli->sts.host) ? 0 : 1;
    case STSM_CLI_TXT_PARSE: {
        struct stsm_sts_txt txt;
        enum stsm_sts_txt_verdict v = stsm_sts_txt_parse(cli->sts.file, strlen(cli->sts.file), &txt);
        if (v != STSM_STS_TXT_VALID) {
            printf("%s: %s\n", v == STSM_STS_TXT_NOT_STS ? "not an MTA-STS record" : "invalid MTA-STS record",
                   txt.reason);
            return EXIT_DATAERR;
        }
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "id", txt.id);
        return print_json(obj);
    }
    default:
        return EXIT_USAGE;
    }
}
