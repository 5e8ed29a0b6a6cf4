/* SPDX-License-Identifier: Apache-2.0 */
/* `shoal bench agents N`: the simulated fleet (fleet/fleet.h) in this
 * process. The only command that does not go through the Engine API. */
#include <errno.h>
#include <stdlib.h>

#include "cli/cli_int.h"
#include "fleet/fleet.h"

int cli_bench_agents(struct cli *c, struct cli_args *a, struct err *err)
{
    struct fleet_config cfg = {0};
    const char *arg = a->argv[0];
    unsigned long long n;
    char *end = NULL;

    (void)c;
    errno = 0;
    n = strtoull(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
        n == 0 || n > FLEET_MAX_NODES)
        return err_set(err, ERR_INVALID,
                       "invalid number of agents \"%s\": a number from 1 "
                       "to %u is required", arg, FLEET_MAX_NODES);
    cfg.n_nodes = (size_t)n;
    cfg.token = cli_flag_str(a, "token");
    cfg.manager = cli_flag_str(a, "manager");
    cfg.data_dir = cli_flag_str(a, "data");
    cfg.hostname_prefix = cli_flag_str(a, "hostname-prefix");
    cfg.listen_addr = cli_flag_changed(a, "listen-addr")
                          ? cli_flag_str(a, "listen-addr")
                          : NULL;
    return fleet_run(&cfg, err);
}
