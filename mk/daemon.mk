SRC += src/daemon/daemon.c
