# Node liveness on the leader (manager/dispatcher/dispatcher.h).
SRC += src/manager/dispatcher/dispatcher.c
SRC += src/manager/dispatcher/dispatcher_tasks.c
