SRC += src/engine/image_store.c src/engine/image_digest.c \
       src/engine/image_archive.c src/engine/image_layer.c \
       src/engine/image_ref.c src/engine/image_changes.c \
       src/engine/image_import.c src/engine/image_load.c \
       src/engine/image_save.c src/api/api_images.c
