# The orchestrators' decisions (manager/orchestrator/orch.h).
SRC += src/manager/orchestrator/orch.c \
       src/manager/orchestrator/orch_replicated.c \
       src/manager/orchestrator/orch_global.c \
       src/manager/orchestrator/orch_history.c \
       src/manager/orchestrator/orch_update.c \
       src/manager/orchestrator/orch_jobs.c \
       src/manager/orchestrator/orch_loop.c
