SRC += src/manager/ca/ca_x509.c src/manager/ca/ca_token.c \
       src/manager/ca/ca_kek.c
