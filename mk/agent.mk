# The node's heartbeat loop (agent/agent.h).
SRC += src/agent/agent.c
SRC += src/agent/agent_exec.c
SRC += src/agent/agent_engine.c
