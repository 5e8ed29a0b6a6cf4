# engine: container processes (runtime.h) and the per-container monitor.
SRC += src/engine/runtime.c

# shoal-monitor: libc only, static, optimised and never sanitized (its
# resident size is a goal: under 1 MiB per running container).
MONITOR_SRC := src/monitor/monitor.c
MONITOR_CFLAGS := -std=c17 -D_GNU_SOURCE -g -O2 $(WARN) -Isrc
