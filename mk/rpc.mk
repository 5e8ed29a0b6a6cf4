# RPC on the cluster port (base/rpc.h).
SRC += src/base/rpc_frame.c src/base/rpc_conn.c src/base/rpc_server.c \
       src/base/rpc_client.c
