SRC += src/base/tls_ctx.c src/base/tls_stream.c
