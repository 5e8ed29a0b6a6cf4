/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `shoal daemon`: parses the daemon's flags, builds the components on one
 * libuv loop (cluster state, Engine API server), handles signals and shuts
 * down in order.
 */
#ifndef SHOAL_DAEMON_H
#define SHOAL_DAEMON_H

/* argv[0] is "daemon". Returns the process exit code. */
int daemon_main(int argc, char **argv);

#endif
