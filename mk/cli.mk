# cli/: shoal's command-line client (every subcommand but `daemon`).
SRC += src/cli/cli.c src/cli/cli_http.c src/cli/cli_format.c \
       src/cli/cli_tabwriter.c src/cli/cli_template.c \
       src/cli/cli_template_exec.c \
       src/cli/cli_swarm.c src/cli/cli_node.c src/cli/cli_network.c \
       src/cli/cli_secret.c src/cli/cli_service.c \
       src/cli/cli_service_flags.c src/cli/cli_service_progress.c \
       src/cli/cli_system.c src/cli/cli_bench.c

# `shoal version` shows the commit and its date (not the build time, so
# that builds are reproducible).
CLI_GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null \
                    || echo unknown)
CLI_BUILD_TIME := $(shell git log -1 --format=%cd \
                    --date=format:'%a %b %e %H:%M:%S %Y' 2>/dev/null \
                    || echo unknown)
$(BUILD)/src/cli/cli.o $(BUILD)/src/cli/cli_system.o: CFLAGS += \
    -DCLI_GIT_COMMIT='"$(CLI_GIT_COMMIT)"' \
    -DCLI_BUILD_TIME='"$(CLI_BUILD_TIME)"'
