/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shoal's command-line client: every subcommand but `daemon` talks to a
 * daemon's Docker Engine API over a unix socket (or plain TCP), with
 * docker's command names, flags, output layouts, messages and exit codes.
 */
#ifndef SHOAL_CLI_CLI_H
#define SHOAL_CLI_CLI_H

/* Run the client for argv[0..argc) (argv[0] is the program name). Prints
 * results on stdout and errors on stderr; returns the process exit code:
 * 0 on success, 1 on daemon/API errors and argument-count errors, 125 on
 * flag parse errors (docker's codes). */
int cli_main(int argc, char **argv);

#endif
