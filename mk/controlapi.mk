SRC += src/manager/controlapi/ctl_spec.c src/manager/controlapi/ctl_swarm.c \
       src/manager/controlapi/ctl_nodes.c src/manager/controlapi/ctl_join.c \
       src/manager/controlapi/ctl_services.c \
       src/manager/controlapi/ctl_secrets.c \
       src/manager/controlapi/ctl_rotation.c
