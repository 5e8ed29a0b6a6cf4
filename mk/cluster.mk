SRC += src/cluster/cluster.c src/cluster/cluster_addr.c src/cluster/cluster_port.c \
       src/cluster/cluster_init.c src/cluster/cluster_join.c \
       src/cluster/cluster_ops.c src/cluster/cluster_role.c \
       src/cluster/cluster_lock.c src/cluster/cluster_logs.c
