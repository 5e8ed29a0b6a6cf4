# The local engine: containers, exec, logs, state on disk (engine/engine.h).
SRC += src/engine/engine.c src/engine/engine_container.c \
       src/engine/engine_state.c src/engine/engine_names.c \
       src/engine/engine_view.c src/engine/engine_validate.c \
       src/engine/engine_logs.c src/engine/engine_exec.c \
       src/engine/engine_health.c
