SRC += src/manager/store/store.c
