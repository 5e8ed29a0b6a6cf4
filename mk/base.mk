SRC += src/base/err.c src/base/mem.c src/base/buf.c src/base/ids.c src/base/b64.c \
       src/base/log.c src/base/fsutil.c src/base/dlcurl.c src/base/jfilter.c \
       src/base/utf8.c \
       src/base/stream_uv.c src/base/strmap.c
