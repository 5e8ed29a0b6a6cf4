# The scheduler's decisions (manager/scheduler/sched.h).
SRC += src/manager/scheduler/sched.c src/manager/scheduler/sched_filter.c
