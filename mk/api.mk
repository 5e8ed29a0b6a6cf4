SRC += src/api/api_server.c src/api/api_router.c src/api/api_filters.c \
       src/api/api_system.c src/api/api_swarm.c src/api/api_nodes.c \
       src/api/api_networks.c src/api/api_tasks.c src/api/api_secrets.c src/api/api_debug.c \
       src/api/api_services.c \
       src/api/api_containers.c src/api/api_exec.c
