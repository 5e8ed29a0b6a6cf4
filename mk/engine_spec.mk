SRC += src/engine/oci_spec.c src/engine/oci_spec_user.c \
       src/engine/oci_spec_caps.c src/engine/oci_spec_mounts.c \
       src/engine/oci_spec_linux.c src/engine/rootfs.c
